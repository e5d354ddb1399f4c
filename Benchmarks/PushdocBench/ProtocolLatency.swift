import Foundation
import Glibc
import TestSupport

/// `ping` one at a time and pipelined, over stdio and the socket, beside a
/// minimal Python JSON-RPC server (what an integrator might write instead)
/// and a bare echo (the physical floor); start to first `pong`; idle memory.
struct ProtocolLatency {
    let roundTrips: Int
    let pipelined: Int
    let starts: Int

    private static let echo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("reference/echo.py").path
    private static let ping = #"{"jsonrpc":"2.0","id":1,"method":"ping"}"#

    func run(into table: inout ResultTable) throws {
        try stdio(into: &table)
        try socket(into: &table)
        try startUp(into: &table)
    }

    private func stdio(into table: inout ResultTable) throws {
        let engine = try LinePeer.engine()
        let python = try LinePeer(spawning: "/usr/bin/python3", [Self.echo, "--jsonrpc"])
        let bare = try LinePeer(spawning: "/bin/cat", [])
        try roundTrips(engine, python, bare, transport: "stdio", into: &table)
        try throughput(engine, python, transport: "stdio", into: &table)
        usleep(200_000)
        table.rows.append(
            .init(measure: "resident memory, idle", figure: Double(ProcessFigures.residentBytes(engine.pid)) / 1e6,
                  baselineName: "the Python echo", baseline: Double(ProcessFigures.residentBytes(python.pid)) / 1e6,
                  unit: "MB", target: "≤ 32 MB"))
        table.rows.append(
            .init(measure: "  its anonymous part (heap, stacks)", figure: Double(ProcessFigures.anonymousBytes(engine.pid)) / 1e6,
                  baselineName: "the Python echo's", baseline: Double(ProcessFigures.anonymousBytes(python.pid)) / 1e6,
                  unit: "MB", target: ""))
    }

    private func socket(into table: inout ResultTable) throws {
        let directory = TemporaryDirectory.make(prefix: "bench-socket")
        let engineProcess = try LinePeer(
            spawning: PushdocProcess.binaryPath,
            LinePeer.engineArguments(dataDir: directory + "/data") + ["--socket", directory + "/engine.sock"])
        let pythonProcess = try LinePeer(spawning: "/usr/bin/python3", [Self.echo, "--jsonrpc", "--socket", directory + "/python.sock"])
        let bareProcess = try LinePeer(spawning: "/usr/bin/python3", [Self.echo, "--socket", directory + "/bare.sock"])
        defer {
            for peer in [engineProcess, pythonProcess, bareProcess] { kill(peer.pid, SIGTERM) }
        }
        let engine = try LinePeer(connectingTo: directory + "/engine.sock")
        let python = try LinePeer(connectingTo: directory + "/python.sock")
        let bare = try LinePeer(connectingTo: directory + "/bare.sock")
        try roundTrips(engine, python, bare, transport: "socket", into: &table)
        try throughput(engine, python, transport: "socket", into: &table)
    }

    private func roundTrips(_ engine: LinePeer, _ python: LinePeer, _ bare: LinePeer, transport: String, into table: inout ResultTable) throws {
        // In blocks of 100 taken in turn: each peer is measured warm, as a
        // busy client would find it (one that idled between requests pays
        // the machine's wake-up latency, up to 70 µs here even for `cat`),
        // and a noisy neighbour slows the three alike.
        let peers = [engine, python, bare]
        for peer in peers { for _ in 0..<200 { peer.send(Self.ping); _ = peer.readLine() } }
        var samples: [[Duration]] = [[], [], []]
        for _ in 0..<(roundTrips / 100) {
            for (index, peer) in peers.enumerated() {
                for _ in 0..<100 {
                    samples[index].append(try time {
                        peer.send(Self.ping)
                        guard peer.readLine().contains("pong") || peer === bare else { throw BenchError(description: "no pong") }
                    })
                }
            }
        }
        let figures = (engine: Percentiles(samples[0]), python: Percentiles(samples[1]), bare: Percentiles(samples[2]))
        let floorName = transport == "stdio" ? "cat" : "raw socket echo"
        for (name, pick, target) in [("p50", \Percentiles.p50, "≤ 100 µs"), ("p99", \Percentiles.p99, "≤ 250 µs")] {
            table.rows.append(
                .init(measure: "ping round trip over \(transport), one at a time (\(name))", figure: figures.engine[keyPath: pick].microseconds,
                      baselineName: "Python JSON-RPC echo", baseline: figures.python[keyPath: pick].microseconds, unit: "µs",
                      target: transport == "stdio" ? target : "—"))
            table.rows.append(
                .init(measure: "  the same, against the floor (\(name))", figure: figures.engine[keyPath: pick].microseconds,
                      baselineName: floorName, baseline: figures.bare[keyPath: pick].microseconds, unit: "µs", target: ""))
        }
    }

    private func throughput(_ engine: LinePeer, _ python: LinePeer, transport: String, into table: inout ResultTable) throws {
        let lines = (0..<pipelined).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"ping"}"# }
        func rate(_ peer: LinePeer) throws -> Double {
            var answers: [String] = []
            let elapsed = time { answers = peer.pipeline(lines) }
            guard answers.last?.contains("pong") == true else { throw BenchError(description: "pipelined pings unanswered") }
            return Double(lines.count) / elapsed.seconds
        }
        table.rows.append(
            .init(measure: "pipelined ping over \(transport), \(pipelined) requests", figure: try rate(engine),
                  baselineName: "Python JSON-RPC echo", baseline: try rate(python), unit: "req/s", target: "≥ 100,000 req/s"))
    }

    /// From spawning the process to reading the first `pong`, fresh data directory each time.
    private func startUp(into table: inout ResultTable) throws {
        func firstPong(_ executable: String, _ arguments: () -> [String]) throws -> Duration {
            Percentiles(try (0..<starts).map { _ in try timeToFirstPong { try LinePeer(spawning: executable, arguments()) } }).p50
        }
        let engine = try firstPong(PushdocProcess.binaryPath) {
            LinePeer.engineArguments(dataDir: TemporaryDirectory.make(prefix: "bench-start")) + ["--stdio"]
        }
        let python = try firstPong("/usr/bin/python3") { [Self.echo, "--jsonrpc"] }
        table.rows.append(
            .init(measure: "start to first pong, new data directory (p50 of \(starts))", figure: engine.milliseconds,
                  baselineName: "Python JSON-RPC echo", baseline: python.milliseconds, unit: "ms", target: "≤ 50 ms"))
    }
}
