import Foundation
import Glibc
import TestSupport
import Testing

/// Clients that try to exhaust the engine, as real processes on a real
/// socket: the engine keeps serving the others and keeps its limits.
struct HostileClientTests {
    let directory = TemporaryDirectory.make(prefix: "pushdoc-hostile")
    var socketPath: String { directory + "/engine.sock" }

    private func startEngine(_ extra: [String] = []) async throws -> PushdocProcess {
        try await PushdocProcess.listening(on: socketPath, extra)
    }

    @Test func aBatchOfMoreThanAThousandIsOneError() async throws {
        let engine = try await startEngine()
        let client = try RPCPeer(socketPath: socketPath)
        func batch(_ count: Int) -> String {
            "[" + (0..<count).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"ping"}"# }.joined(separator: ",") + "]"
        }
        client.send(batch(1_001))
        let refused = try await client.next()
        #expect(refused.errorCode == -32600 && refused.errorReason == "batch_too_large", "\(refused)")
        client.send(batch(1_000))
        let answered = try await client.next()
        #expect(answered.array?.count == 1_000)
        #expect(try await client.call("ping").string("result") == "pong")
        engine.signal(SIGTERM)
        #expect(try await engine.waitForExit() == 0)
    }

    /// A client that writes 20,000 pipelined pings before reading any answer
    /// (800 KB of answers, under the 8 MiB the engine holds for a client):
    /// the engine reads them all, so the client's write completes.
    @Test func aClientThatWritesEverythingBeforeReadingIsServed() async throws {
        let engine = try await startEngine()
        let client = try RPCPeer(socketPath: socketPath)
        let pings = String(repeating: #"{"jsonrpc":"2.0","id":1,"method":"ping"}"# + "\n", count: 20_000)
        let writing = Task.detached { client.write(Array(pings.utf8)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await writing.value }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                throw PeerError(description: "the engine stopped reading before the client's write completed")
            }
            try await group.next()
            group.cancelAll()
        }
        for _ in 0..<20_000 { #expect(try await client.next().string("result") == "pong") }
        engine.signal(SIGTERM)
        #expect(try await engine.waitForExit() == 0)
    }

    /// 20,000 notifications that would each wait 30 s, then a closed
    /// connection: they count against the connection's limit, end with it,
    /// and neither another client nor the shutdown waits for them.
    @Test func notificationsCountAndDoNotOutliveTheirConnection() async throws {
        let engine = try await startEngine(["--shutdown-grace", "60"])
        let flooder = try RPCPeer(socketPath: socketPath)
        let notification = #"{"jsonrpc":"2.0","method":"push.drain","params":{"timeoutMs":30000}}"# + "\n"
        flooder.write(Array(String(repeating: notification, count: 20_000).utf8))
        flooder.disconnect()
        let other = try RPCPeer(socketPath: socketPath)
        let asked = ContinuousClock.now
        #expect(try await other.call("status.summary")["result"] != nil)
        let answeredIn = ContinuousClock.now - asked
        engine.signal(SIGTERM)
        let stopping = ContinuousClock.now
        #expect(try await engine.waitForExit(timeout: .seconds(15)) == 0)
        print("20,000 drain notifications: another client answered in \(answeredIn), exit \(ContinuousClock.now - stopping) after SIGTERM")
    }

    /// 300 connections subscribe to the event log from its start and never
    /// read: they hold no thread others need, delivery to them pauses, and
    /// another client keeps its usual answer times.
    @Test func clientsThatNeverReadStallNobody() async throws {
        var harness = try await PushHarness(extra: ["--socket", socketPath, "--max-connections", "400"])
        try await harness.engine.waitForLog("listening")
        for index in 0..<400 {
            let content = Data("invoice \(index)".utf8).base64EncodedString()
            _ = try await harness.call(
                "push.submit", #"{"dossierId":"d1","path":"Achats/f\#(index).pdf","contentBase64":"\#(content)"}"#)
        }
        _ = try await harness.drain()
        let pid = harness.engine.pid
        let before = try ProcessFigures(pid: pid)
        var silent: [RPCPeer] = []
        for _ in 0..<300 {
            let client = try RPCPeer(socketPath: socketPath)
            client.send(#"{"jsonrpc":"2.0","id":1,"method":"events.subscribe","params":{"after":0}}"#)
            silent.append(client)
        }
        let steady = try RPCPeer(socketPath: socketPath)
        var latencies: [Duration] = []
        for _ in 0..<200 {
            let asked = ContinuousClock.now
            #expect(try await steady.call("status.summary")["result"] != nil)
            latencies.append(ContinuousClock.now - asked)
        }
        let during = try ProcessFigures(pid: pid)
        let slowest = latencies.enumerated().sorted { $0.element > $1.element }.prefix(3).map { "#\($0.offset): \($0.element)" }
        latencies.sort()
        // One thread per connection, no more: a blocked send no longer holds one of its own.
        #expect(during.threads <= before.threads + 301 + 8, "threads \(before.threads) → \(during.threads)")
        // Generous for the slowest: the debug engine replays 300 × 1,200 events meanwhile, on a machine running the whole suite.
        #expect(latencies[latencies.count / 2] < .milliseconds(50) && latencies.last! < .seconds(5), "slowest: \(slowest)")
        for client in silent { client.disconnect() }
        steady.disconnect()
        // The connections' threads end as the engine sees each peer gone.
        let after = try await ProcessFigures.settled(pid: pid) {
            $0.threads <= before.threads + 2 && $0.descriptors <= before.descriptors + 2
        }
        let kinds = Dictionary(grouping: try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").map {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)"))?.split(separator: ":").first.map(String.init) ?? "?"
        }, by: { $0 }).mapValues(\.count)
        #expect(after.threads <= before.threads + 2 && after.descriptors <= before.descriptors + 2, "\(before) → \(after): \(kinds)")
        print("""
            300 silent subscribers: status.summary p50 \(latencies[latencies.count / 2]), max \(latencies.last!); \
            threads \(before.threads) → \(during.threads) → \(after.threads); descriptors \(before.descriptors) → \
            \(during.descriptors) → \(after.descriptors); resident \(before.residentMB) → \(during.residentMB) → \(after.residentMB) MB
            """)
        try await harness.restart()
    }

    /// Past `--max-connections`, and from a refused uid, a peer is told why
    /// and closed without a thread of its own; the others are served.
    @Test func refusedPeersCostNoThread() async throws {
        let engine = try await startEngine(["--max-connections", "20"])
        let pid = engine.pid
        let before = try ProcessFigures(pid: pid)
        var admitted: [RPCPeer] = []
        for _ in 0..<20 { admitted.append(try RPCPeer(socketPath: socketPath)) }
        #expect(try await admitted[19].call("ping").string("result") == "pong")
        let extra = try RPCPeer(socketPath: socketPath)
        let refusal = try await extra.next()
        #expect(refusal.errorCode == -32003 && refusal.errorReason == "too_many_connections", "\(refusal)")
        try await extra.lines.waitForEnd()
        // 500 connections of another uid that say nothing and stay open.
        let output = try makePipe()
        let nobody = try ChildProcess("/usr/bin/setpriv", [
            "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=+dac_override", "--ambient-caps=+dac_override",
            "python3", "-c",
            """
            import socket, sys
            peers = []
            for _ in range(500):
                s = socket.socket(socket.AF_UNIX)
                s.connect(sys.argv[1])
                peers.append(s)
            refused = sum(b'peer_not_allowed' in s.recv(4096) for s in peers)
            print(refused, flush=True)
            """,
            socketPath,
        ], output: output.write)
        close(output.write)
        let printed = LineStream(fd: output.read)
        let during = try ProcessFigures(pid: pid)
        #expect(try await admitted[0].call("ping").string("result") == "pong")
        try await printed.waitForEnd(timeout: .seconds(60))
        _ = try await nobody.waitForExit()
        #expect(printed.pending == ["500"])
        #expect(during.threads <= before.threads + 20 + 2, "threads \(before.threads) → \(during.threads)")
        for client in admitted { client.disconnect() }
        let after = try await ProcessFigures.settled(pid: pid) { $0.descriptors <= before.descriptors + 1 }
        #expect(after.descriptors <= before.descriptors + 1, "descriptors \(before.descriptors) → \(after.descriptors)")
        print("max 20 connections and 500 refused peers: threads \(before.threads) → \(during.threads) → \(after.threads); descriptors \(before.descriptors) → \(after.descriptors)")
        engine.signal(SIGTERM)
        #expect(try await engine.waitForExit() == 0)
    }
}

/// Threads, open descriptors and resident memory of a process, from /proc.
struct ProcessFigures: CustomStringConvertible {
    let threads: Int
    let descriptors: Int
    let residentMB: Int

    init(pid: Int32) throws {
        threads = ProcessStatus.number("Threads", pid: pid)
        residentMB = ProcessStatus.kilobytes("VmRSS", pid: pid) / 1024
        descriptors = ProcessStatus.openDescriptors(pid: pid)
    }

    var description: String { "threads \(threads), descriptors \(descriptors), resident \(residentMB) MB" }

    /// The figures once `settled` holds, or after 10 s: the engine's threads
    /// end as it notices each peer gone, which nothing outside it can await.
    static func settled(pid: Int32, _ settled: (ProcessFigures) -> Bool) async throws -> ProcessFigures {
        let deadline = ContinuousClock.now + .seconds(10)
        var figures = try ProcessFigures(pid: pid)
        while !settled(figures), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            figures = try ProcessFigures(pid: pid)
        }
        return figures
    }
}
