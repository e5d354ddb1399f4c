import Foundation
import Glibc
import TestSupport

/// Another client's `status.summary` while hundreds of connections pipeline
/// requests and never read an answer, beside the same client alone; the
/// engine's threads and memory during and after.
struct HostileClients {
    let silent: Int
    let calls: Int

    func run(into table: inout ResultTable) throws {
        let directory = TemporaryDirectory.make(prefix: "bench-hostile")
        let socketPath = directory + "/engine.sock"
        let engine = try LinePeer(
            spawning: PushdocProcess.binaryPath,
            LinePeer.engineArguments(dataDir: directory + "/data") + ["--socket", socketPath, "--max-connections", "\(silent + 8)"])
        defer { kill(engine.pid, SIGTERM) }
        let steady = try LinePeer(connectingTo: socketPath)
        let alone = try summaries(steady)
        let before = (threads: ProcessStatus.number("Threads", pid: engine.pid), resident: ProcessFigures.residentBytes(engine.pid))
        // Each writes as many pipelined pings as its socket takes, and never reads.
        let pings = Array(String(repeating: #"{"jsonrpc":"2.0","id":1,"method":"ping"}"# + "\n", count: 20_000).utf8)
        var hostile: [Int32] = []
        for _ in 0..<silent {
            let peer = try LinePeer.connectedSocket(socketPath)
            _ = pings.withUnsafeBytes { send(peer, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            hostile.append(peer)
        }
        let loaded = try summaries(steady)
        let during = (threads: ProcessStatus.number("Threads", pid: engine.pid), resident: ProcessFigures.residentBytes(engine.pid))
        for peer in hostile { close(peer) }
        // The engine notices each peer gone on its own thread: give it a moment before reading its memory.
        _ = try summaries(steady)
        usleep(500_000)
        let after = ProcessFigures.residentBytes(engine.pid)
        for (name, pick) in [("p50", \Percentiles.p50), ("p99", \Percentiles.p99)] {
            table.rows.append(
                .init(measure: "status.summary while \(silent) connections never read (\(name))", figure: loaded[keyPath: pick].microseconds,
                      baselineName: "no other connection", baseline: alone[keyPath: pick].microseconds, unit: "µs",
                      target: "usual times"))
        }
        table.rows.append(
            .init(measure: "  engine threads, those connections open", figure: Double(during.threads),
                  baselineName: "before", baseline: Double(before.threads), unit: "", target: "one per connection"))
        let idle = String(format: "%.1f", Double(before.resident) / 1e6)
        table.rows.append(
            .init(measure: "  resident memory, during", figure: Double(during.resident) / 1e6,
                  baselineName: "after they closed", baseline: Double(after) / 1e6, unit: "MB", target: "after near \(idle) MB"))
    }

    private func summaries(_ peer: LinePeer) throws -> Percentiles {
        var samples: [Duration] = []
        for _ in 0..<calls {
            samples.append(try time {
                guard peer.call("status.summary").contains("documents") else { throw BenchError(description: "no summary") }
            })
        }
        return Percentiles(samples)
    }
}
