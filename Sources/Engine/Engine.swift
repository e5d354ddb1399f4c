import Foundation
import Logging
import Store

/// The Pushdoc engine: the state of one data directory and what can be done
/// with it. It knows nothing of JSON-RPC; the protocol layer calls it.
public final class Engine: Sendable {
    public static let version = "0.1.0"
    public static let connectorName = "Inqom - Pushdoc API"

    public let configuration: EngineConfiguration
    public let startedAt: ContinuousClock.Instant
    let dataDirectory: DataDirectory
    let database: Database
    let masterKey: [UInt8]
    let logger: Logger

    /// Opens the data directory (lock, master key, database check and
    /// migrations). Blocking: call it once at start.
    public init(configuration: EngineConfiguration, environment: [String: String], logger: Logger) throws {
        self.startedAt = .now
        self.configuration = configuration
        self.logger = logger
        let directory = try DataDirectory(path: configuration.dataDirectory)
        self.dataDirectory = directory
        self.masterKey = try directory.masterKey(environment: environment)
        do {
            self.database = try Database(path: directory.databasePath, migrations: Schema.migrations)
        } catch let error as SQLiteError where error.isCorruption {
            throw StartupFailure(
                description: "database \(directory.databasePath) is corrupted (\(error.message)); "
                    + "the engine will not start on it: restore it from a backup or move it away")
        }
        logger.info(
            "engine started",
            metadata: ["dataDir": "\(configuration.dataDirectory)", "version": "\(Self.version)"])
    }

    public var uptime: Duration { ContinuousClock.now - startedAt }
}

public struct StartupFailure: Error, CustomStringConvertible {
    public let description: String
}
