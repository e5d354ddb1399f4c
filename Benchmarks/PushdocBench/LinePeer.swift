import Foundation
import Glibc
import TestSupport

/// A newline-delimited peer (an engine, a reference echo) on a pipe pair or
/// a Unix socket, driven synchronously with blocking reads from the
/// benchmark's own thread: the client adds no polling delay to what is
/// measured.
final class LinePeer {
    private let childPID: pid_t?
    private let input: Int32
    private let output: Int32
    private var buffer: [UInt8] = []
    private var nextID = 0

    /// Starts `executable` and speaks to it over its stdin and stdout.
    /// `posix_spawn` rather than Foundation's `Process`, which closes every
    /// possible descriptor in the child and would add tens of milliseconds
    /// to a start-up measure.
    init(spawning executable: String, _ arguments: [String]) throws {
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw BenchError(description: "pipe failed") }
        // Only the child's stdin and stdout (dup2'ed) may stay open in it.
        for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, nil, argv, environ)
        close(toChild[0])
        close(fromChild[1])
        guard status == 0 else { throw BenchError(description: "cannot start \(executable): \(status)") }
        childPID = child
        input = toChild[1]
        output = fromChild[0]
    }

    /// Connects to a Unix socket, retrying while the server starts.
    init(connectingTo path: String) throws {
        let fd = try Self.connectedSocket(path)
        childPID = nil
        input = fd
        output = fd
    }

    /// A socket connected to `path`, retrying while the server starts.
    static func connectedSocket(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (offset, byte) in path.utf8.enumerated() { raw[offset] = byte }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while withUnsafePointer(to: &address, {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }) != 0 {
            guard ContinuousClock.now < deadline else { throw BenchError(description: "cannot connect to \(path)") }
            usleep(5_000)
        }
        return fd
    }

    deinit {
        if input == output {
            close(input)
        } else {
            close(input)
            if let childPID {
                var status: Int32 = 0
                waitpid(childPID, &status, 0)
            }
            close(output)
        }
    }

    /// A release engine on stdio, Inqom politeness off, logs quiet.
    static func engine(dataDir: String = TemporaryDirectory.make(prefix: "bench-engine"), _ arguments: [String] = []) throws -> LinePeer {
        try LinePeer(spawning: PushdocProcess.binaryPath, engineArguments(dataDir: dataDir) + ["--stdio"] + arguments)
    }

    static func engineArguments(dataDir: String) -> [String] {
        ["serve", "--data-dir", dataDir, "--inqom-max-rps", "0", "--log-level", "error"]
    }

    var pid: Int32 { childPID ?? 0 }

    /// Sends one request and blocks until its answer; returns the answer line.
    @discardableResult
    func call(_ method: String, _ params: String = "{}") -> String {
        nextID += 1
        send(#"{"jsonrpc":"2.0","id":\#(nextID),"method":"\#(method)","params":\#(params)}"#)
        return readLine()
    }

    func send(_ line: String) {
        write(Array((line + "\n").utf8))
    }

    /// Sends `lines` from a second thread while this one reads as many
    /// answers: neither side can fill a pipe and stall the other.
    func pipeline(_ lines: [String]) -> [String] {
        let bytes = Array(lines.joined(separator: "\n").utf8) + [0x0A]
        let writer = Thread { [input] in Self.write(bytes, to: input) }
        writer.start()
        return lines.map { _ in readLine() }
    }

    func readLine() -> String {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let count = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            guard count > 0 else { return "" }
            buffer.append(contentsOf: chunk[..<count])
        }
    }

    private func write(_ bytes: [UInt8]) { Self.write(bytes, to: input) }

    private static func write(_ bytes: [UInt8], to fd: Int32) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            guard written > 0 else { return }
            offset += written
        }
    }
}

/// Memory of a process, in bytes.
enum ProcessFigures {
    /// Resident memory: private (anonymous) pages plus the pages of files
    /// and shared libraries mapped in.
    static func residentBytes(_ pid: Int32) -> Int { ProcessStatus.kilobytes("VmRSS", pid: pid) * 1024 }

    /// The anonymous part alone: heap, stacks, what the process itself allocated.
    static func anonymousBytes(_ pid: Int32) -> Int { ProcessStatus.kilobytes("RssAnon", pid: pid) * 1024 }
}

/// Median and 99th percentile of timed runs.
struct Percentiles {
    let p50: Duration
    let p99: Duration

    init(_ samples: [Duration]) {
        let sorted = samples.sorted()
        p50 = sorted[sorted.count / 2]
        p99 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
    }
}

/// From spawning a JSON-RPC peer to reading its first answer to `ping`. The
/// peer stops once the clock has: a clean stop is not part of a start.
func timeToFirstPong(_ spawn: () throws -> LinePeer) throws -> Duration {
    var peer: LinePeer?
    let elapsed = try time {
        let started = try spawn()
        peer = started
        started.send(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        guard started.readLine().contains("pong") else { throw BenchError(description: "no first pong") }
    }
    withExtendedLifetime(peer) {}
    return elapsed
}

func time(_ body: () throws -> Void) rethrows -> Duration {
    let started = ContinuousClock.now
    try body()
    return ContinuousClock.now - started
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var milliseconds: Double { seconds * 1000 }
    var microseconds: Double { seconds * 1_000_000 }
}
