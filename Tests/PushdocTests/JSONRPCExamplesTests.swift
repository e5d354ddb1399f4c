import Foundation
import TestSupport
import Testing

/// The examples of the JSON-RPC 2.0 specification (section 7), translated to
/// this engine's methods, sent to a real `pushdoc serve --stdio` over pipes.
struct JSONRPCExamplesTests {
    let engine: PushdocProcess

    init() throws {
        engine = try PushdocProcess(["serve", "--stdio"])
    }

    /// Proves nothing was answered to what came before: the next line out is
    /// the answer to a fresh ping.
    private func expectNothingPending() async throws {
        let answer = try await engine.stdio.next()
        #expect(answer.string("id") == "fence")
        #expect(answer.string("result") == "pong")
    }

    private func fence() {
        engine.stdio.send(#"{"jsonrpc":"2.0","id":"fence","method":"ping"}"#)
    }

    @Test func callsWithNamedAndPositionalParams() async throws {
        let named = try await engine.stdio.call("initialize", #"{"clientInfo":{"name":"mcf","version":"9"}}"#)
        #expect(named.string("result", "serverInfo", "name") == "pushdoc")
        #expect(named.string("result", "protocolVersion") == "2")
        #expect(named.string("result", "connector") == "Inqom - Pushdoc API")
        // Positional params: none is fine, some is a -32602 naming `params`.
        let empty = try await engine.stdio.call("ping", "[]")
        #expect(empty.string("result") == "pong")
        let positional = try await engine.stdio.call("initialize", #"[{"name":"mcf"}]"#)
        #expect(positional.errorCode == -32602)
        #expect(positional.string("error", "data", "field") == "params")
    }

    @Test func aNotificationIsNotAnswered() async throws {
        engine.stdio.send(#"{"jsonrpc":"2.0","method":"ping"}"#)
        engine.stdio.send(#"{"jsonrpc":"2.0","method":"no.such.method","params":[1,2]}"#)
        fence()
        try await expectNothingPending()
    }

    @Test func anUnknownMethodIsMinus32601() async throws {
        engine.stdio.send(#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#)
        let answer = try await engine.stdio.next()
        #expect(answer.text == #"{"jsonrpc":"2.0","id":"1","error":{"code":-32601,"message":"Method not found: foobar","data":{"method":"foobar","reason":"method_not_found"}}}"#)
    }

    @Test func invalidJSONIsMinus32700WithANullId() async throws {
        engine.stdio.send(#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#)
        let answer = try await engine.stdio.next()
        #expect(answer.errorCode == -32700)
        #expect(answer["id"] is NSNull)
    }

    @Test(arguments: [
        #"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#,
        #"{"jsonrpc": "1.0", "method": "ping"}"#,
        #"{"method": "ping"}"#,
        #"{"jsonrpc": "2.0", "method": "ping", "params": 3}"#,
        #"{"jsonrpc": "2.0", "method": "ping", "id": {"a": 1}}"#,
        #""just a string""#,
    ])
    func anInvalidRequestIsMinus32600(_ line: String) async throws {
        engine.stdio.send(line)
        let answer = try await engine.stdio.next()
        #expect(answer.errorCode == -32600)
        #expect(answer["id"] is NSNull)
    }

    @Test func anInvalidRequestWithAUsableIdEchoesIt() async throws {
        engine.stdio.send(#"{"jsonrpc": "1.0", "method": "ping", "id": 77}"#)
        let answer = try await engine.stdio.next()
        #expect(answer.errorCode == -32600)
        #expect(answer.int("id") == 77)
    }

    @Test func aBatchThatIsNotJSONIsOneMinus32700() async throws {
        engine.stdio.send(#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method""#)
        let answer = try await engine.stdio.next()
        #expect(answer.object != nil)
        #expect(answer.errorCode == -32700)
        fence()
        try await expectNothingPending()
    }

    @Test func anEmptyBatchIsOneMinus32600() async throws {
        engine.stdio.send("[]")
        let answer = try await engine.stdio.next()
        #expect(answer.object != nil)
        #expect(answer.errorCode == -32600)
    }

    @Test(arguments: [1, 3])
    func aBatchOfNonRequestsAnswersEachWithMinus32600(count: Int) async throws {
        engine.stdio.send("[" + (1...count).map(String.init).joined(separator: ",") + "]")
        let answer = try await engine.stdio.next()
        let items = try #require(answer.array)
        #expect(items.count == count)
        for item in items {
            #expect(((item as? [String: Any])?["error"] as? [String: Any])?["code"] as? Int == -32600)
        }
    }

    @Test func aMixedBatchAnswersEveryRequestInOneArray() async throws {
        engine.stdio.send(
            """
            [{"jsonrpc": "2.0", "method": "ping", "id": "1"}, {"jsonrpc": "2.0", "method": "ping"},
             {"jsonrpc": "2.0", "method": "ping", "params": [], "id": "2"}, {"foo": "boo"},
             {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
             {"jsonrpc": "2.0", "method": "initialize", "id": "9"}]
            """.replacingOccurrences(of: "\n", with: ""))
        let answer = try await engine.stdio.next()
        let items = try #require(answer.array as? [[String: Any]])
        #expect(items.count == 5)
        let byID = Dictionary(grouping: items) { "\($0["id"] ?? "?")" }
        #expect(byID["1"]?.first?["result"] as? String == "pong")
        #expect(byID["2"]?.first?["result"] as? String == "pong")
        #expect((byID["5"]?.first?["error"] as? [String: Any])?["code"] as? Int == -32601)
        #expect(byID["9"]?.first?["result"] != nil)
        #expect((byID["<null>"]?.first?["error"] as? [String: Any])?["code"] as? Int == -32600)
    }

    @Test func aBatchOfNotificationsProducesNothing() async throws {
        engine.stdio.send(#"[{"jsonrpc": "2.0", "method": "ping", "params": [1,2,4]},{"jsonrpc": "2.0", "method": "ping"}]"#)
        fence()
        try await expectNothingPending()
    }

    @Test(arguments: [#""abc""#, "1.50", "1e3", "-0", "12345678901234567890123", #""\u00e9t\u00e9""#, "null"])
    func idsAreEchoedByteForByte(id: String) async throws {
        engine.stdio.send(#"{"jsonrpc":"2.0","id":\#(id),"method":"ping"}"#)
        let answer = try await engine.stdio.next()
        #expect(answer.text == #"{"jsonrpc":"2.0","id":\#(id),"result":"pong"}"#)
    }
}
