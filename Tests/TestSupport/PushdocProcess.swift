import Foundation
import Glibc

/// A real `pushdoc` process, started the way MCF's backend starts it, with
/// its stdin, stdout and stderr on pipes.
public final class PushdocProcess: Sendable {
    /// Killed when this is released, if still running.
    public let process: ChildProcess
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
        var fullArguments = arguments
        if addDataDir, arguments.first == "serve", !arguments.contains("--data-dir") {
            fullArguments += ["--data-dir", directory]
        }
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PUSHDOC_") }
        env.merge(environment) { $1 }
        let input = try makePipe(), output = try makePipe(), errors = try makePipe()
        defer { for end in [input.read, output.write, errors.write] { close(end) } }
        do {
            process = try ChildProcess(
                Self.binaryPath, fullArguments, environment: env, input: input.read, output: output.write, errors: errors.write)
        } catch {
            for end in [input.write, output.read, errors.read] { close(end) }
            throw error
        }
        self.stdio = RPCPeer(readFD: output.read, writeFD: input.write, isSocket: false)
        self.stderr = LineStream(fd: errors.read)
    }

    /// `pushdoc serve --socket PATH` with `extra` options, once it listens.
    public static func listening(on socketPath: String, _ extra: [String] = []) async throws -> PushdocProcess {
        let engine = try PushdocProcess(["serve", "--socket", socketPath] + extra)
        try await engine.waitForLog("listening")
        return engine
    }

    public var pid: pid_t { process.pid }

    public func signal(_ number: Int32) { process.signal(number) }

    /// Waits for the process to exit and returns its exit status.
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        try await process.waitForExit(timeout: timeout)
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
    String(try ChildProcess.run("/usr/bin/sha256sum", [path]).output.prefix(64))
}

/// Runs a Python snippet to its end, awaited (the caller's thread is one of
/// Swift's, never blocked); returns its exit status. What it prints goes
/// where the tests' own output goes.
@discardableResult
public func runPython(_ script: String, _ arguments: [String]) async throws -> Int32 {
    let process = try ChildProcess("/usr/bin/python3", ["-c", script] + arguments, output: 1, errors: 2)
    return try await process.waitForExit(timeout: .seconds(600))
}
