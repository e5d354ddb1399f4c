import CLinux
import Foundation
import Synchronization

/// A PostgreSQL server of the test's own: `initdb` in a temporary
/// directory, `pg_ctl` on a free loopback port, as an unprivileged user
/// (`postgres` when the tests run as root: PostgreSQL refuses root), with
/// password authentication. Stopped by `stop()`, when released, or when
/// the test process exits: none is left running.
public final class PostgresServer: Sendable {
    public let port: Int
    public let user = "pushdoc"
    public let password: String
    private let directory: String
    private let binaries: String

    /// A libpq URI to the server's `postgres` database, password included.
    public var uri: String { uri(database: "postgres") }

    /// A libpq URI to one of the server's databases, password included.
    public func uri(database: String) -> String { "postgresql://\(user):\(password)@127.0.0.1:\(port)/\(database)" }

    /// Starts one, on a thread of its own: `initdb` and `pg_ctl` block for seconds.
    public static func start() async throws -> PostgresServer {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try PostgresServer() }) }.start()
        }
    }

    private init() throws {
        binaries = try Self.output(["pg_config", "--bindir"]).trimmingCharacters(in: .whitespacesAndNewlines)
        // In /tmp, not under $TMPDIR: a private temporary directory (the tests', the benchmarks') would keep the server's user out.
        var template = Array("/tmp/pushdoc-postgres-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw PeerError(description: "no temporary directory for PostgreSQL") }
        directory = String(cString: made)
        password = "pw-" + UUID().uuidString
        port = try LoopbackPort.unused()
        let passwordFile = directory + "/password"
        try Data(password.utf8).write(to: URL(fileURLWithPath: passwordFile))
        if geteuid() == 0 {
            guard let owner = getpwnam("postgres") else { throw PeerError(description: "no postgres user to run PostgreSQL as") }
            for path in [directory, passwordFile] { chown(path, owner.pointee.pw_uid, owner.pointee.pw_gid) }
        }
        try Self.run([binaries + "/initdb", "-D", directory + "/data", "-U", user, "--auth=scram-sha-256",
                 "--pwfile=" + passwordFile, "-E", "UTF8", "--no-instructions"])
        Self.stopsAtExit
        Self.stopAtExit.withLock { servers in
            servers[directory] = { [binaries, directory] in
                try? Self.run([binaries + "/pg_ctl", "-D", directory + "/data", "-m", "fast", "-w", "stop"])
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
        try restart()
    }

    /// Stops the server for a while (fast shutdown: sessions are ended), its
    /// files kept: `restart` starts it again on the same port.
    public func halt() throws {
        try Self.run([binaries + "/pg_ctl", "-D", directory + "/data", "-m", "fast", "-w", "stop"])
    }

    /// Starts the server, and returns once it accepts connections: as many
    /// as a test run's stores and engines keep open at once (each test's
    /// database keeps its connections for the run).
    public func restart() throws {
        try Self.run([binaries + "/pg_ctl", "-D", directory + "/data", "-l", directory + "/log", "-w", "-o",
                 "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c max_connections=400", "start"])
    }

    /// How to stop each server still running, by its directory.
    private static let stopAtExit = Mutex<[String: @Sendable () -> Void]>([:])
    /// Registered once, with the first server.
    private static let stopsAtExit: Void = { atexit { PostgresServer.stopAtExit.withLock { $0.values.forEach { $0() } } } }()

    deinit { stop() }

    /// Stops the server (fast shutdown: sessions are ended) and removes its
    /// files, if it runs.
    public func stop() {
        Self.stopAtExit.withLock { $0.removeValue(forKey: directory) }?()
    }

    /// Runs a PostgreSQL program as the server's user, and waits for it.
    private static func run(_ command: [String]) throws {
        let asOwner = geteuid() == 0 ? ["runuser", "-u", "postgres", "--"] + command : command
        _ = try Self.output(asOwner)
    }

    /// Runs `command` and answers what it printed, through a file: the
    /// server `pg_ctl start` leaves running would hold a pipe's end open as
    /// long as it runs.
    private static func output(_ command: [String]) throws -> String {
        let file = NSTemporaryDirectory() + "/pushdoc-postgres-output-" + UUID().uuidString
        defer { unlink(file) }
        let descriptor = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw PeerError(description: "cannot write \(file)") }
        let status = try { () throws -> Int32 in
            defer { close(descriptor) }
            return try ChildProcess(command[0], Array(command.dropFirst()), output: descriptor, errors: descriptor).waitUntilExit()
        }()
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        guard status == 0 else { throw PeerError(description: "\(command.joined(separator: " ")) failed: \(text)") }
        return text
    }
}
