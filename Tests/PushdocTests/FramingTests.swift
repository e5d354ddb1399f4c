import Foundation
import Glibc
import TestSupport
import Testing

/// Framing and hostile input against a real engine over a pipe: every bad
/// line gets its answer and the engine keeps serving.
struct FramingTests {
    @Test func acceptsCRLFAndIgnoresBlankLines() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        engine.stdio.write(Array("\r\n\n   \n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n\r\n".utf8))
        let answer = try await engine.stdio.next()
        #expect(answer.text == #"{"jsonrpc":"2.0","id":1,"result":"pong"}"#)
    }

    @Test func invalidUTF8IsAParseError() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        var line = Array(#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":""#.utf8)
        line += [0xC3, 0x28] + Array("\"}}\n".utf8)
        engine.stdio.write(line)
        let answer = try await engine.stdio.next()
        #expect(answer.errorCode == -32700)
        #expect(answer["id"] is NSNull)
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
    }

    /// Sends one line of `megabytes` MiB, in 1 MiB writes.
    private func sendHugeLine(_ engine: PushdocProcess, megabytes: Int) {
        let piece = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        engine.stdio.write(Array(#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":""#.utf8))
        for _ in 0..<megabytes { engine.stdio.write(piece) }
        engine.stdio.write(Array("\"}}\n".utf8))
    }

    @Test func aTwentyMebibyteLineIsRefusedAndTheConnectionStaysUsable() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        sendHugeLine(engine, megabytes: 20)
        let answer = try await engine.stdio.next(timeout: .seconds(60))
        #expect(answer.errorCode == -32600)
        #expect(answer["id"] is NSNull)
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
    }

    @Test func readingALongLineNeverHoldsMoreThanTheLimit() async throws {
        let engine = try PushdocProcess(["serve", "--stdio", "--max-message-bytes", "1M"])
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
        let before = ProcessStatus.kilobytes("VmHWM", pid: engine.pid)
        sendHugeLine(engine, megabytes: 20)
        #expect(try await engine.stdio.next(timeout: .seconds(60)).errorCode == -32600)
        let growth = ProcessStatus.kilobytes("VmHWM", pid: engine.pid) - before
        #expect(growth < 4 * 1024, "peak resident memory grew by \(growth) kB for a 20 MiB line over a 1 MiB limit")
    }

    @Test func theLimitIsConfigurable() async throws {
        let engine = try PushdocProcess(["serve", "--stdio", "--max-message-bytes", "2K"])
        engine.stdio.send(#"{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":""# + String(repeating: "b", count: 3000) + #""}}"#)
        #expect(try await engine.stdio.next().errorCode == -32600)
        engine.stdio.send(#"{"jsonrpc":"2.0","id":2,"method":"ping","params":{"x":""# + String(repeating: "b", count: 1500) + #""}}"#)
        #expect(try await engine.stdio.next().string("result") == "pong")
    }

    @Test func deepNestingNeverReachesADecoder() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        engine.stdio.send(String(repeating: "[", count: 100_000))
        #expect(try await engine.stdio.next().errorCode == -32700)
        engine.stdio.send(String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000))
        #expect(try await engine.stdio.next().errorCode == -32600)
        // The shape that kills JSONDecoder here: `{"a":` and 512 `[` at the end of input.
        engine.stdio.send(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"a":"# + String(repeating: "[", count: 512))
        #expect(try await engine.stdio.next().errorCode == -32700)
        let params = #"{"clientInfo":"# + String(repeating: "[", count: 70) + String(repeating: "]", count: 70) + "}"
        engine.stdio.send(#"{"jsonrpc":"2.0","id":2,"method":"initialize","params":\#(params)}"#)
        let tooDeep = try await engine.stdio.next()
        #expect(tooDeep.errorCode == -32600)
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
    }

    @Test func wrongParamTypesAreMinus32602NamingTheField() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        let answer = try await engine.stdio.call("initialize", #"{"clientInfo":{"name":42}}"#)
        #expect(answer.errorCode == -32602)
        #expect(answer.string("error", "data", "field") == "clientInfo.name")
    }

    @Test func hugeNumbersAndOddValuesAreHandled() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        let answer = try await engine.stdio.call("initialize", #"{"clientInfo":{"name":"x","version":1e999999}}"#)
        #expect(answer.errorCode == -32602)
        let truncated = #"{"jsonrpc":"2.0","id":1,"meth"#
        engine.stdio.send(truncated)
        #expect(try await engine.stdio.next().errorCode == -32700)
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
    }
}
