import Foundation
import Glibc
import Logging
import TestSupport
import Synchronization
import Testing

@testable import JSONRPC

/// The dispatcher and a connection, in process, over a real socketpair.
struct ConnectionTests {
    enum Slow: RPCMethod {
        static let name = "test.slow"
        typealias Params = NoParams
        typealias Result = String
    }

    enum Echo: RPCMethod {
        static let name = "test.echo"
        struct Params: Decodable, Sendable {
            struct Nested: Decodable, Sendable { let items: [Int] }
            let text: String
            let count: Int?
            let nested: Nested?
        }
        typealias Result = String
    }

    enum Fail: RPCMethod {
        static let name = "test.fail"
        struct Params: Decodable, Sendable { let known: Bool }
        typealias Result = String
    }

    enum Hold: RPCMethod {
        static let name = "test.hold"
        typealias Params = NoParams
        typealias Result = String
    }

    /// Holds `test.hold` requests until opened, counting those held at once.
    final class Gate: Sendable {
        private struct State {
            var held = 0
            var most = 0
            var open = false
            var waiting: [CheckedContinuation<Void, Never>] = []
            var watchers: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
        }
        private let state = Mutex(State())

        var held: Int { state.withLock { $0.held } }
        var most: Int { state.withLock { $0.most } }

        func pass() async {
            await withCheckedContinuation { continuation in
                let (passes, reached) = state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
                    if state.open { return (true, []) }
                    state.held += 1
                    state.most = max(state.most, state.held)
                    state.waiting.append(continuation)
                    let held = state.held
                    defer { state.watchers.removeAll { $0.count <= held } }
                    return (false, state.watchers.filter { $0.count <= held }.map(\.continuation))
                }
                for watcher in reached { watcher.resume() }
                if passes { continuation.resume() }
            }
        }

        /// Returns once `count` requests are held at once.
        func waitUntilHolding(_ count: Int) async {
            await withCheckedContinuation { continuation in
                let reached = state.withLock { state -> Bool in
                    guard state.held < count else { return true }
                    state.watchers.append((count, continuation))
                    return false
                }
                if reached { continuation.resume() }
            }
        }

        func open() {
            let waiting = state.withLock { state in
                state.open = true
                state.held = 0
                defer { state.waiting = [] }
                return state.waiting
            }
            for continuation in waiting { continuation.resume() }
        }
    }

    struct KnownFailure: Error {}
    struct UnknownFailure: Error {}

    /// A server with the test methods, serving one end of a socketpair.
    private func connect(maxMessageBytes: Int = 1 << 20, gate: Gate = Gate()) -> (RPCServer, RPCPeer) {
        let server = makeServer(maxMessageBytes: maxMessageBytes, gate: gate)
        return (server, attach(to: server))
    }

    private func makeServer(
        maxMessageBytes: Int = 1 << 20, gate: Gate = Gate(), bufferBudget: Int = RPCServer.defaultBufferBudget,
        unfinishedLineTimeout: Duration = .seconds(30)
    ) -> RPCServer {
        var table = MethodTable { error in
            error is KnownFailure ? ResponseError(code: ErrorCode(rawValue: 1999), reason: "known", message: "Known") : nil
        }
        table.register(Slow.self) { _, _ in
            try await Task.sleep(for: .seconds(30))
            return "late"
        }
        table.register(Echo.self) { params, _ in String(repeating: params.text, count: params.count ?? 1) }
        table.register(Hold.self) { _, _ in
            await gate.pass()
            return "passed"
        }
        table.registerImmediate(Fail.self) { params, _ in
            throw params.known ? KnownFailure() as any Error : UnknownFailure()
        }
        return RPCServer(
            table: table, maxMessageBytes: maxMessageBytes, logger: Logger(label: "test"), bufferBudget: bufferBudget,
            unfinishedLineTimeout: unfinishedLineTimeout)
    }

    /// Another client of `server`, on its own socketpair and thread.
    private func attach(to server: RPCServer) -> RPCPeer {
        var fds: [Int32] = [0, 0]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        let serverFD = fds[0]
        let thread = Thread {
            server.serve(name: "test", input: serverFD, output: OutputChannel(fd: serverFD, isSocket: true))
            close(serverFD)
        }
        thread.start()
        return RPCPeer(readFD: fds[1], writeFD: fds[1], isSocket: true)
    }

    @Test func aLineLeftUnfinishedClosesItsConnectionAndOnlyIt() async throws {
        let server = makeServer(unfinishedLineTimeout: .milliseconds(300))
        let stalled = attach(to: server)
        let steady = attach(to: server)
        let started = ContinuousClock.now
        stalled.write(Array(#"{"jsonrpc":"2.0","id":1,"method":"test.ec"#.utf8))
        #expect(try await steady.call("test.echo", #"{"text":"x"}"#).string("result") == "x")
        try await stalled.lines.waitForEnd(timeout: .seconds(10))
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        #expect(try await steady.call("test.echo", #"{"text":"y"}"#).string("result") == "y")
    }

    /// Unfinished lines of all connections share one budget: past it, the
    /// others stop reading until it is freed (here, by the first one's
    /// timeout), and then go on.
    @Test func unfinishedLinesOfAllConnectionsShareOneBudget() async throws {
        let server = makeServer(maxMessageBytes: 4 << 20, bufferBudget: 1 << 20, unfinishedLineTimeout: .seconds(2))
        let hog = attach(to: server)
        let other = attach(to: server)
        // Returns once the server has read all but a socket buffer's worth (~200 KB) of it.
        hog.write(Array(#"{"jsonrpc":"2.0","id":1,"method":"test.echo","params":{"text":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: 1 << 20))
        // Half a mebibyte more cannot fit beside what the hog holds until the hog's line times out.
        other.send(#"{"jsonrpc":"2.0","id":2,"method":"test.echo","params":{"text":""# + String(repeating: "b", count: 512 << 10) + #""}}"#)
        let answer = try await other.next(timeout: .seconds(20))
        #expect(answer.int("id") == 2)
        #expect(hog.lines.isEnded, "the other connection was served while the hog still held the budget")
        #expect(server.budget.usedBytes == 0)
    }

    @Test func aSlowRequestDoesNotDelayOthers() async throws {
        let (_, peer) = connect()
        peer.send(#"{"jsonrpc":"2.0","id":"slow","method":"test.slow"}"#)
        peer.send(#"{"jsonrpc":"2.0","id":2,"method":"test.echo","params":{"text":"ab","count":2}}"#)
        let first = try await peer.next(timeout: .seconds(20))
        #expect(first.int("id") == 2)
        #expect(first.string("result") == "abab")
    }

    @Test func cancellationEndsTheRequestWithMinus32800() async throws {
        let (_, peer) = connect()
        peer.send(#"{"jsonrpc":"2.0","id":"slow-1","method":"test.slow"}"#)
        try await Task.sleep(for: .milliseconds(50))
        let started = ContinuousClock.now
        peer.send(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"slow-1"}}"#)
        // Well before test.slow's 30 s: the margin is for a test process whose 170 other tests share two cores.
        let answer = try await peer.next(timeout: .seconds(15))
        #expect(answer.string("id") == "slow-1")
        #expect(answer.errorCode == -32800)
        #expect(answer.errorReason == "cancelled")
        #expect(ContinuousClock.now - started < .seconds(15))
        // Cancelling what is not running does nothing, and the connection still serves.
        peer.send(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":12345}}"#)
        let echo = try await peer.call("test.echo", #"{"text":"x"}"#)
        #expect(echo.string("result") == "x")
    }

    @Test func numericIdsAreCancelledByValue() async throws {
        let (_, peer) = connect()
        peer.send(#"{"jsonrpc":"2.0","id":7,"method":"test.slow"}"#)
        try await Task.sleep(for: .milliseconds(50))
        peer.send(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":7}}"#)
        let answer = try await peer.next(timeout: .seconds(5))
        #expect(answer.text == #"{"jsonrpc":"2.0","id":7,"error":{"code":-32800,"message":"Request cancelled by the client","data":{"reason":"cancelled"}}}"#)
    }

    @Test(arguments: [
        (#"{}"#, "text"),
        (#"{"text":5}"#, "text"),
        (#"{"text":"a","count":"two"}"#, "count"),
        (#"{"text":"a","count":null,"nested":{"items":[1,"x"]}}"#, "nested.items.1"),
        (#"{"text":"a","nested":{}}"#, "nested.items"),
        (#"["a"]"#, "params"),
    ])
    func invalidParamsNameTheField(params: String, field: String) async throws {
        let (_, peer) = connect()
        let answer = try await peer.call("test.echo", params)
        #expect(answer.errorCode == -32602)
        #expect(answer.string("error", "data", "field") == field)
        #expect(answer.errorReason == "invalid_params")
    }

    @Test func notificationsAreNeverAnswered() async throws {
        let (_, peer) = connect()
        peer.send(#"{"jsonrpc":"2.0","method":"test.echo","params":{"text":"n"}}"#)
        peer.send(#"{"jsonrpc":"2.0","method":"no.such.method"}"#)
        peer.send(#"{"jsonrpc":"2.0","method":"test.echo","params":{}}"#)
        let answer = try await peer.call("test.echo", #"{"text":"after"}"#)
        #expect(answer.string("result") == "after")
        #expect(peer.lines.pending.isEmpty)
    }

    @Test func applicationErrorsAreMappedAndOthersAreInternal() async throws {
        let (_, peer) = connect()
        let known = try await peer.call("test.fail", #"{"known":true}"#)
        #expect(known.errorCode == 1999)
        #expect(known.errorReason == "known")
        let unknown = try await peer.call("test.fail", #"{"known":false}"#)
        #expect(unknown.errorCode == -32603)
    }

    @Test func afterShutdownBeginsNewWorkIsRefused() async throws {
        let (server, peer) = connect()
        server.beginShutdown()
        let answer = try await peer.call("test.echo", #"{"text":"x"}"#)
        #expect(answer.errorCode == -32001)
        #expect(answer.errorReason == "shutting_down")
    }

    @Test func manyConcurrentRequestsAllGetTheirOwnAnswer() async throws {
        let (_, peer) = connect()
        var batch = ""
        for index in 0..<500 {
            batch += #"{"jsonrpc":"2.0","id":\#(index),"method":"test.echo","params":{"text":"r\#(index)"}}"# + "\n"
        }
        peer.write(Array(batch.utf8))
        for _ in 0..<500 {
            let answer = try await peer.next()
            let id = try #require(answer.int("id"))
            #expect(answer.string("result") == "r\(id)")
        }
    }

    @Test func aFloodOfRequestsIsReadNoFasterThanItIsAnsweredAndAllAreAnswered() async throws {
        let gate = Gate()
        let (_, peer) = connect(gate: gate)
        let count = Connection.inFlightLimit * 3
        var flood = ""
        for index in 0..<count { flood += #"{"jsonrpc":"2.0","id":\#(index),"method":"test.hold"}"# + "\n" }
        peer.write(Array(flood.utf8))
        await gate.waitUntilHolding(Connection.inFlightLimit)
        // The reader has stopped: what it had read is all that runs.
        try await Task.sleep(for: .milliseconds(200))
        #expect(gate.held == Connection.inFlightLimit)
        gate.open()
        var answered = Set<Int>()
        for _ in 0..<count {
            let answer = try await peer.next()
            #expect(answer.string("result") == "passed")
            answered.insert(try #require(answer.int("id")))
        }
        #expect(answered.count == count)
        #expect(gate.most == Connection.inFlightLimit)
    }

    /// The reader paused at the in-flight limit right after a line (no next
    /// message waiting for room): a request that ends must wake it.
    @Test func readingResumesWhenThePauseBeganBetweenTwoLines() async throws {
        let gate = Gate()
        let (_, peer) = connect(gate: gate)
        var full = ""
        for index in 0..<Connection.inFlightLimit { full += #"{"jsonrpc":"2.0","id":\#(index),"method":"test.hold"}"# + "\n" }
        peer.write(Array(full.utf8))
        await gate.waitUntilHolding(Connection.inFlightLimit)
        gate.open()
        for _ in 0..<Connection.inFlightLimit { #expect(try await peer.next().string("result") == "passed") }
        #expect(try await peer.call("test.echo", #"{"text":"after"}"#).string("result") == "after")
    }

    /// While the engine itself holds reading back, a line's unfinished time
    /// does not run: the connection is not closed for the engine's own pause.
    @Test func aPauseOfTheEngineDoesNotCountAgainstAnUnfinishedLine() async throws {
        let gate = Gate()
        let server = makeServer(gate: gate, unfinishedLineTimeout: .milliseconds(200))
        let peer = attach(to: server)
        var full = ""
        for index in 0..<Connection.inFlightLimit { full += #"{"jsonrpc":"2.0","id":\#(index),"method":"test.hold"}"# + "\n" }
        peer.write(Array((full + #"{"jsonrpc":"2.0","id":"last","method":"test.ec"#).utf8))
        await gate.waitUntilHolding(Connection.inFlightLimit)
        // Three timeouts long, the engine's pause, not the client's.
        try await Task.sleep(for: .milliseconds(600))
        peer.write(Array(#"ho","params":{"text":"whole"}}"#.utf8) + [0x0A])
        gate.open()
        var answers: [String: String] = [:]
        for _ in 0...Connection.inFlightLimit {
            let answer = try await peer.next()
            let id = try answer.string("id") ?? "\(#require(answer.int("id")))"
            answers[id] = answer.string("result")
        }
        #expect(answers.count == Connection.inFlightLimit + 1)
        #expect(answers["last"] == "whole")
    }

    /// Input that ended on a line without its newline: that line is a request
    /// like the others, and it runs as long as it needs, not cut off as unfinished.
    @Test func theLastLineWithoutNewlineRunsPastTheUnfinishedLineTimeout() async throws {
        let gate = Gate()
        let server = makeServer(gate: gate, unfinishedLineTimeout: .milliseconds(200))
        let peer = attach(to: server)
        peer.write(Array(#"{"jsonrpc":"2.0","id":7,"method":"test.hold"}"#.utf8))
        peer.closeWrite()
        await gate.waitUntilHolding(1)
        try await Task.sleep(for: .milliseconds(600))
        gate.open()
        #expect(try await peer.next().string("result") == "passed")
    }

    @Test func oversizedLinesAreAnsweredAndTheConnectionStaysUsable() async throws {
        let (_, peer) = connect(maxMessageBytes: 4096)
        peer.send(#"{"jsonrpc":"2.0","id":1,"method":"test.echo","params":{"text":""# + String(repeating: "a", count: 10_000) + #""}}"#)
        let refused = try await peer.next()
        #expect(refused.errorCode == -32600)
        #expect(refused["id"] is NSNull)
        let answer = try await peer.call("test.echo", #"{"text":"ok"}"#)
        #expect(answer.string("result") == "ok")
    }
}
