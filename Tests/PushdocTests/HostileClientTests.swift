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
        let engine = try PushdocProcess(["serve", "--socket", socketPath] + extra)
        try await engine.waitForLog("listening")
        return engine
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
}
