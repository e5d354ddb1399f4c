import CLinux
import Foundation
import Glibc
import Synchronization

/// A program the tests start (an engine, the stand-in, a client, a tool)
/// with `posix_spawn`: it keeps none of this process's descriptors but the
/// three it is given. Not Foundation's `Process`: to close the others it
/// lists /proc/self/fd, copying each entry's whole name buffer out of
/// `readdir`'s, and crashed reading past that buffer once a test run held
/// more than about 1,350 descriptors (many tests at once, each with its
/// processes and databases).
public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// Its exit status once reaped: the code it exited with, or 128 plus the
    /// signal that ended it.
    private let reaped = Mutex<Int32?>(nil)

    /// Starts `executable` (looked up in `PATH` without a slash) with
    /// `arguments`; `input`, `output` and `errors` become its descriptors 0,
    /// 1 and 2 (nil: `/dev/null`). `environment` replaces this process's.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        input: Int32? = nil, output: Int32? = nil, errors: Int32? = nil
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, source) in [(Int32(0), input), (1, output), (2, errors)] {
            if let source {
                posix_spawn_file_actions_adddup2(&actions, source, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            }
        }
        pushdoc_spawn_close_from(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A group of its own: a Ctrl-C on the tests reaches the tests, which stop their children.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let variables = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { variables.forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawnp(&child, executable, &actions, &attributes, argv, variables)
        guard status == 0 else { throw PeerError(description: "cannot start \(executable): \(String(cString: strerror(status)))") }
        pid = child
    }

    /// Ended, it is reaped; still running, it is killed and reaped on a
    /// thread of its own (whoever releases it does not wait).
    deinit {
        guard exitStatus == nil else { return }
        kill(pid, SIGKILL)
        let pid = pid
        Thread { _ = Self.reap(pid, blocking: true) }.start()
    }

    public func signal(_ number: Int32) { kill(pid, number) }

    /// Its exit status once it ended (the code, or 128 plus the signal that
    /// ended it); nil while it runs.
    public var exitStatus: Int32? {
        reaped.withLock { reaped in
            if reaped == nil { reaped = Self.reap(pid, blocking: false) }
            return reaped
        }
    }

    public var isRunning: Bool { exitStatus == nil }

    /// Waits for it to end, its status asked every 5 ms; throws after `timeout`.
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = exitStatus { return status }
            guard ContinuousClock.now < deadline else {
                throw LineStream.Timeout(description: "process \(pid) still running after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Blocks until it ends: for helpers that run a tool to its end on a
    /// thread that may block.
    public func waitUntilExit() -> Int32 {
        if let status = exitStatus { return status }
        let status = Self.reap(pid, blocking: true)
        return reaped.withLock { reaped in
            reaped = reaped ?? status
            return reaped ?? -1
        }
    }

    /// Runs `executable` to its end on the calling thread (one that may
    /// block): its exit status and what it wrote on stdout.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws
        -> (status: Int32, output: String)
    {
        let ends = try makePipe()
        let child: ChildProcess
        do {
            child = try ChildProcess(executable, arguments, environment: environment, output: ends.write)
        } catch {
            close(ends.read)
            close(ends.write)
            throw error
        }
        close(ends.write)
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(ends.read, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            output += buffer[0..<count]
        }
        close(ends.read)
        return (child.waitUntilExit(), String(decoding: output, as: UTF8.self))
    }

    /// `waitpid`: the status of an ended child, nil while it runs (or once
    /// another caller reaped it).
    private static func reap(_ pid: pid_t, blocking: Bool) -> Int32? {
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, blocking ? 0 : WNOHANG) } while result == -1 && errno == EINTR
        guard result == pid else { return nil }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// A pipe whose ends are close-on-exec as soon as made: a child spawned at
/// that moment by another test must not keep this one's ends open.
public func makePipe() throws -> (read: Int32, write: Int32) {
    var ends: [Int32] = [0, 0]
    guard pushdoc_pipe_cloexec(&ends) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    return (ends[0], ends[1])
}
