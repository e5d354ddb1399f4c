import Foundation
import Glibc

/// A real `pushdoc` process, started the way MCF's backend starts it, with
/// its stdin, stdout and stderr on pipes.
public final class PushdocProcess: @unchecked Sendable {
    // @unchecked: `process` is only started here and then only queried.
    public let process: Process
    public let stdio: RPCPeer
    public let stderr: LineStream
    public let dataDir: String

    /// The `pushdoc` binary built beside the test bundle (or `PUSHDOC_BINARY`).
    public static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["PUSHDOC_BINARY"] { return path }
        return URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("pushdoc").path
    }

    /// Starts `pushdoc` with `arguments` (`serve --stdio`, …) on `dataDir`;
    /// a data directory is created when none is given and `serve` is used.
    public init(
        _ arguments: [String], dataDir: String? = nil, environment: [String: String] = [:],
        addDataDir: Bool = true
    ) throws {
        let directory = dataDir ?? TemporaryDirectory.make(prefix: "pushdoc-data")
        self.dataDir = directory
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binaryPath)
        var fullArguments = arguments
        if addDataDir, arguments.first == "serve", !arguments.contains("--data-dir") {
            fullArguments += ["--data-dir", directory]
        }
        process.arguments = fullArguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PUSHDOC_") }
        env.merge(environment) { $1 }
        process.environment = env
        // Close-on-exec pipes: another test's child, spawned at the same moment, must not
        // inherit this one's ends (it kept a stream open after its engine had exited).
        let input = try Self.pipe(), output = try Self.pipe(), errors = try Self.pipe()
        let childEnds = [input.read, output.write, errors.write].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        process.standardInput = childEnds[0]
        process.standardOutput = childEnds[1]
        process.standardError = childEnds[2]
        do {
            try process.runOneAtATime()
        } catch {
            for fd in [input.write, output.read, errors.read] { close(fd) }
            throw error
        }
        self.process = process
        self.stdio = RPCPeer(readFD: output.read, writeFD: input.write, isSocket: false)
        self.stderr = LineStream(fd: errors.read)
        for end in childEnds { try end.close() }
    }

    /// `pushdoc serve --socket PATH` with `extra` options, once it listens.
    public static func listening(on socketPath: String, _ extra: [String] = []) async throws -> PushdocProcess {
        let engine = try PushdocProcess(["serve", "--socket", socketPath] + extra)
        try await engine.waitForLog("listening")
        return engine
    }

    /// A pipe made close-on-exec right after `pipe` (`pipe2` does not
    /// import): inheritable for nanoseconds, where Foundation's `Pipe` stays
    /// so for the child's whole life.
    private static func pipe() throws -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        guard Glibc.pipe(&ends) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        return (ends[0], ends[1])
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    public var pid: pid_t { process.processIdentifier }

    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to exit and returns its exit status.
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if let status = exitStatusNotYetSeen() { return status }
            if ContinuousClock.now > deadline {
                throw LineStream.Timeout(description: "pushdoc still running after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return process.terminationStatus
    }

    /// The exit status of a process that ended but that Foundation has not
    /// seen end: it watches a socket the child inherits, which a child
    /// spawned at the same moment by another test may inherit too and keep
    /// open (swift-corelibs-foundation#4795). Read without reaping
    /// (`WNOWAIT`), so that Foundation still reaps it.
    private func exitStatusNotYetSeen() -> Int32? {
        var info = siginfo_t()
        guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0,
            info._sifields._sigchld.si_pid == pid, info.si_code == CLD_EXITED
        else { return nil }
        return info._sifields._sigchld.si_status
    }

    /// Waits until stderr has a line containing `text` (e.g. a log record).
    @discardableResult
    public func waitForLog(_ text: String, timeout: Duration = .seconds(20)) async throws -> String {
        try await stderr.take(timeout: timeout) { $0.contains(text) }
    }
}

/// A fresh directory under the system's temporary directory.
/// New directories for a test's files, all under one directory of this
/// process removed when it exits: a developer's /tmp kept every run's data
/// directories, thousands of them.
public enum TemporaryDirectory {
    public static func make(prefix: String) -> String {
        unique(in: root, prefix: prefix)
    }

    private static let root: String = {
        let root = unique(in: NSTemporaryDirectory(), prefix: "pushdoc-tests")
        atexit { try? FileManager.default.removeItem(atPath: TemporaryDirectory.root) }
        return root
    }()

    private static func unique(in parent: String, prefix: String) -> String {
        var template = Array("\(parent)/\(prefix)-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { buffer -> String in
            guard let result = mkdtemp(buffer.baseAddress!) else { fatalError("mkdtemp failed") }
            return String(cString: result)
        }
    }
}

/// The SHA-256 of a file as `sha256sum` computes it: an implementation
/// independent of the engine's.
public func sha256sum(_ path: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    process.arguments = [path]
    let output = Pipe()
    process.standardOutput = output
    try process.runOneAtATime()
    process.waitUntilExit()
    return String(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64))
}

/// Runs a Python snippet to its end, awaited (the caller's thread is one of
/// Swift's, never blocked); returns its exit status.
@discardableResult
public func runPython(_ script: String, _ arguments: [String]) async throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = ["-c", script] + arguments
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
        process.terminationHandler = { _ in continuation.resume() }
        do { try process.runOneAtATime() } catch { continuation.resume(throwing: error) }
    }
    return process.terminationStatus
}
