import Foundation
import InqomClient
import Logging
import Store
import Synchronization

/// The Pushdoc engine: the state of one data directory and what can be done
/// with it. It knows nothing of JSON-RPC; the protocol layer calls it.
public final class Engine: Sendable {
    public static let version = "0.1.0"
    public static let connectorName = "Inqom - Pushdoc API"

    public let configuration: EngineConfiguration
    public let startedAt: ContinuousClock.Instant
    let dataDirectory: DataDirectory
    let database: Database
    let secretBox: SecretBox
    let inqom: InqomSession
    let spool: Spool
    let readableFiles: ReadableFiles
    let blocking: BlockingWork
    /// Signalled after each commit that queued, settled or logged something.
    let changes = ChangeSignal()
    private let senderBox = Mutex<Sender?>(nil)
    /// The digest schedule and the event log's retention: cancelled, then awaited, when sending stops.
    private let schedules = Mutex<[Task<Void, Never>]>([])
    /// Work started at start-up that nobody waits for (tidying the spool,
    /// loading the search index): awaited when sending stops.
    private let backgroundTasks = Mutex<[Task<Void, Never>]>([])
    private let stopping = Atomic<Bool>(false)
    let logger: Logger
    /// The database as the engine's parts write it, and the stores behind the seams.
    let storage: StorageAccess
    let sendingStore: any SendingStore
    let intakeStore: any IntakeStore
    let documentStore: any DocumentStore
    let connectorStore: any ConnectorStore
    let catalogStore: any CatalogStore
    let ruleStore: any RuleStore
    let digestStore: any DigestStore
    let eventStore: any EventStore
    let clock: any EngineClock
    /// A number in -1...1 that spreads each retry (`RetrySchedule`): injected so tests plan exact times.
    let jitter: @Sendable () -> Double

    /// Opens the data directory (lock, master key, database check and
    /// migrations) on threads that may block. Call it once at start.
    public init(
        configuration: EngineConfiguration, environment: [String: String], logger: Logger,
        clock: any EngineClock = SystemClock(),
        jitter: @escaping @Sendable () -> Double = { Double.random(in: -1...1) }
    ) async throws {
        self.startedAt = .now
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        self.jitter = jitter
        let blocking = BlockingWork(threads: 8)
        self.blocking = blocking
        let storage = try await blocking.run { try Self.openStorage(configuration, environment: environment) }
        self.dataDirectory = storage.directory
        self.secretBox = storage.secretBox
        self.spool = storage.spool
        self.database = storage.database
        self.storage = StorageAccess(database: storage.database, logger: logger)
        self.sendingStore = SQLiteSendingStore(storage: self.storage)
        self.intakeStore = SQLiteIntakeStore(storage: self.storage)
        self.documentStore = SQLiteDocumentStore(storage: self.storage)
        let search = DossierSearch()
        self.connectorStore = SQLiteConnectorStore(storage: self.storage, search: search)
        self.catalogStore = SQLiteCatalogStore(storage: self.storage, search: search)
        self.ruleStore = SQLiteRuleStore(storage: self.storage)
        self.digestStore = SQLiteDigestStore(storage: self.storage)
        self.eventStore = SQLiteEventStore(storage: self.storage)
        self.readableFiles = ReadableFiles(root: configuration.filesRoot, dataDirectory: configuration.dataDirectory)
        // Token and folder calls run beside the uploads, never behind them.
        let client = InqomClient(
            configuration: .init(
                authURL: configuration.inqomAuthURL, apiURL: configuration.inqomAPIURL,
                clientID: configuration.inqomClientID, concurrency: configuration.workers + 1,
                stallTimeout: configuration.inqomStallTimeout, maxRequestsPerSecond: configuration.inqomMaxRequestsPerSecond),
            logger: logger, now: { clock.now })
        self.inqom = InqomSession(client: client, now: { clock.now })
        try await restoreCredentials()
        try await recoverInterruptedWork()
        logger.info(
            "engine started",
            metadata: [
                "dataDir": "\(configuration.dataDirectory)", "version": "\(Self.version)",
                "databaseCheck": "\(database.integrityCheck.rawValue)",
            ])
    }

    /// The data directory locked, its master key, spool and database
    /// (checked and migrated). Blocking.
    private static func openStorage(_ configuration: EngineConfiguration, environment: [String: String]) throws
        -> (directory: DataDirectory, secretBox: SecretBox, spool: Spool, database: Database)
    {
        let directory = try DataDirectory(path: configuration.dataDirectory)
        let secretBox = SecretBox(key: try directory.masterKey(environment: environment))
        let spool = try Spool(directory: configuration.dataDirectory + "/spool")
        do {
            let database = try Database(path: directory.databasePath, migrations: Schema.migrations)
            return (directory, secretBox, spool, database)
        } catch let error as SQLiteError where error.isCorruption {
            throw StartupFailure(
                description: "database \(directory.databasePath) is corrupted (\(error.message)); "
                    + "the engine will not start on it: restore it from a backup or move it away")
        }
    }

    /// Opens the sealed credentials of an earlier `wizard.connect`. A copy
    /// that cannot be opened (another master key, altered data) is kept for
    /// the right key but not used: the connector is disconnected with the
    /// reason `credentials_unreadable`, said in the log and in a
    /// `connector.state` event, until `wizard.connect` or a restart with the
    /// right key.
    private func restoreCredentials() async throws {
        let settings = try await connectorStore.settings()
        guard let encoded = settings.sealedCredentials else { return }
        let readable: Bool
        do {
            let plain = try secretBox.open(Array(Data(base64Encoded: encoded) ?? Data()))
            let stored = try JSONDecoder().decode(StoredCredentials.self, from: Data(plain))
            await inqom.restore(stored.credentials)
            readable = true
        } catch {
            readable = false
            logger.error(
                """
                the stored Inqom credentials do not open with this master key (master.key or PUSHDOC_MASTER_KEY), \
                or were altered: the connector is disconnected until wizard.connect, or a restart with the right key
                """,
                metadata: ["error": "\(error)"])
        }
        // Written only when the verdict changes: a usual start commits nothing here.
        guard readable == settings.credentialsUnreadable else { return }
        try await connectorStore.update(reason: readable ? nil : "credentials_unreadable", at: now()) { settings, _ in
            settings.credentialsUnreadable = !readable
        }
    }

    /// After a crash: uploads that were under way go again (Inqom flags a
    /// resend as Duplicate); the spool is tidied once the engine serves.
    private func recoverInterruptedWork() async throws {
        let resent = try await sendingStore.requeueInterrupted(at: now())
        inBackground { await self.recoverSpool() }
        try await pruneEvents()
        if resent > 0 { logger.warning("uploads interrupted by a stop are sent again", metadata: ["documents": "\(resent)"]) }
    }

    /// Spool files no document needs, left by earlier runs, are removed in
    /// the background: listing a large spool is work a start should not
    /// wait for.
    private func recoverSpool() async {
        do {
            let spooled = try await documentStore.spoolNamesInUse()
            let spool = spool
            await blocking.run { spool.recover(keeping: spooled) }
        } catch {
            logger.warning("spool left untidied until the next start", metadata: ["error": "\(error)"])
        }
    }

    /// Drops events past their 30 days: at start, then every hour.
    func pruneEvents() async throws {
        _ = try await eventStore.prune(before: EventRetention.cutoff(at: now()))
    }

    private func runEventRetention() async {
        while (try? await clock.sleep(for: .seconds(3600))) != nil {
            _ = await logger.failureLogged("pruning old events") { try await pruneEvents() }
        }
    }

    /// Starts sending documents (once the wizard is finished), and loads the
    /// search index meanwhile so that the first search does not wait for it.
    public func startSending() {
        inBackground {
            _ = await self.logger.failureLogged("loading the search index") {
                try await self.searchDossiers(query: nil, paging: Paging(page: 1, pageSize: 1), selectedOnly: false)
            }
        }
        let sender = Sender(
            .init(
                store: sendingStore, inqom: inqom, spool: spool, blocking: blocking, clock: clock,
                jitter: jitter, configuration: configuration, logger: logger, changes: changes,
                tokenRefused: { [unowned self] why in try await self.markTokenRefused(why) }))
        senderBox.withLock { $0 = sender }
        sender.start()
        schedules.withLock {
            $0 = [Task { await self.runDigestSchedule() }, Task { await self.runEventRetention() }]
        }
    }

    /// The engine is stopping: waits (`push.drain`) end now, each answered.
    public func stopWaiting() {
        stopping.store(true, ordering: .relaxed)
        changes.notify()
    }

    var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// Stops sending: uploads under way may finish until `deadline`.
    public func stopSending(by deadline: ContinuousClock.Instant) async {
        let schedules = schedules.withLock { $0 }
        for task in schedules { task.cancel() }
        await senderBox.withLock { $0 }?.stop(by: deadline)
        for task in schedules { await task.value }
        for task in backgroundTasks.withLock({ $0 }) { await task.value }
    }

    private func inBackground(_ work: @escaping @Sendable () async -> Void) {
        backgroundTasks.withLock { $0.append(Task { await work() }) }
    }

    /// Last of all, once sending has stopped and requests are answered:
    /// ends the engine's threads (transfers, file work); says whether they
    /// ended by `deadline`. Blocks.
    public func stopThreads(waitingUntil deadline: DispatchTime) -> Bool {
        let transfers = inqom.client.stop(waitingUntil: deadline)
        return blocking.stop(waitingUntil: deadline) && transfers
    }

    var sender: Sender? { senderBox.withLock { $0 } }

    /// Last of a clean stop, once sending has stopped and requests are
    /// answered: the database checked and sealed, so that the next start on
    /// an unchanged file need not check it again.
    public func sealDatabase() async {
        let started = ContinuousClock.now
        do {
            let check = try await database.seal()
            logger.info(
                "database sealed", metadata: ["check": "\(check.rawValue)", "duration": "\(ContinuousClock.now - started)"])
        } catch let error as SQLiteError where error.isCorruption {
            logger.error(
                "database \(database.path) is corrupted (\(error.message)): the next start will refuse it",
                metadata: ["error": "\(error.message)"])
        } catch {
            logger.warning("database not sealed: the next start checks it", metadata: ["error": "\(error)"])
        }
    }

    /// The wall clock's time.
    func now() -> Date { clock.now }

    public var uptime: Duration { ContinuousClock.now - startedAt }
}

/// The database as the engine's parts use it: a failure to store (a full or
/// read-only disk) is `EngineError.storageUnavailable`, and logged.
struct StorageAccess: Sendable {
    let database: Database
    let logger: Logger

    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        do {
            return try await database.write(body)
        } catch let error as SQLiteError where error.isStorageFailure {
            throw unavailable(error)
        }
    }

    @discardableResult
    func writeBlocking<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) throws -> T {
        do {
            return try database.writeBlocking(body)
        } catch let error as SQLiteError where error.isStorageFailure {
            throw unavailable(error)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await database.read(body)
    }

    private func unavailable(_ error: SQLiteError) -> EngineError {
        logger.error("storage unavailable", metadata: ["error": "\(error.message)"])
        return .storageUnavailable(detail: error.message)
    }
}

extension Logger {
    /// Runs `body` for a background loop: a failure is logged with what was
    /// being done, and the loop goes on (nil).
    func failureLogged<T>(_ doing: String, _ body: () async throws -> T) async -> T? {
        do {
            return try await body()
        } catch {
            self.error("\(doing) failed", metadata: ["error": "\(error)"])
            return nil
        }
    }
}

public struct StartupFailure: Error, CustomStringConvertible {
    public let description: String
}
