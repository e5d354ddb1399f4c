import Foundation
import Glibc
import TestSupport

/// A release `pushdoc serve --stdio` driven synchronously, one line at a
/// time, with blocking reads: the client adds no polling delay to what is
/// measured. Used from the benchmark's main thread only.
final class EngineDriver {
    private let process: Process
    private let input: Int32
    private let output: Int32
    private var buffer: [UInt8] = []
    private var nextID = 0

    init(arguments: [String] = []) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: PushdocProcess.binaryPath)
        process.arguments = ["serve", "--stdio", "--data-dir", TemporaryDirectory.make(prefix: "bench-engine"),
                             "--inqom-max-rps", "0", "--log-level", "error"] + arguments
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        input = dup(stdin.fileHandleForWriting.fileDescriptor)
        output = dup(stdout.fileHandleForReading.fileDescriptor)
        try stdin.fileHandleForWriting.close()
        try stdout.fileHandleForReading.close()
    }

    deinit {
        close(input)
        process.waitUntilExit()
        close(output)
    }

    /// Sends one request and blocks until its answer; returns the answer line.
    @discardableResult
    func call(_ method: String, _ params: String = "{}") -> String {
        nextID += 1
        send(#"{"jsonrpc":"2.0","id":\#(nextID),"method":"\#(method)","params":\#(params)}"#)
        return readLine()
    }

    func send(_ line: String) {
        var bytes = Array((line + "\n").utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
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

func time(_ body: () -> Void) -> Duration {
    let started = ContinuousClock.now
    body()
    return ContinuousClock.now - started
}
