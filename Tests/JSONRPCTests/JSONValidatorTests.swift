import JSONSafety
import Testing

@testable import JSONRPC

/// Cases in the spirit of JSONTestSuite (y_ must pass, n_ must fail).
struct JSONValidatorTests {
    private func verdict(_ text: String, maxDepth: Int = 64) -> JSONValidator.Verdict {
        verdict(Array(text.utf8), maxDepth: maxDepth)
    }

    private func verdict(_ bytes: [UInt8], maxDepth: Int = 64) -> JSONValidator.Verdict {
        bytes.withUnsafeBufferPointer { JSONValidator.validate($0, maxDepth: maxDepth) }
    }

    @Test(arguments: [
        "{}", "[]", "0", "-0", "1.5e10", "-12.25E-3", "\"\"", "true", "false", "null", " [1, 2 , 3] ",
        #"{"a":{"b":[null,true,{"c":"d"}]}}"#, #""\u00e9\ud83d\ude00\n\t\\\/\"""#, "\"Société\"",
        "12345678901234567890123", #"{"a":1,"a":2}"#, "[[[]]]", "\"\u{10FFFF}\"",
    ])
    func acceptsValidJSON(_ text: String) {
        #expect(verdict(text) == .valid)
    }

    @Test(arguments: [
        "", " ", "{", "}", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":1,}", "01", "1.", ".5", "+1",
        "1e", "-", "tru", "nul", "True", "\"abc", "\"\\x\"", "\"\\u12\"", "[1 2]", "{} {}", "\"tab\there\"",
        "'single'", "[\"a\"\"b\"]", "NaN", "Infinity", "[1]x",
    ])
    func refusesInvalidJSON(_ text: String) {
        guard case .invalid = verdict(text) else {
            Issue.record("accepted \(text.debugDescription)")
            return
        }
    }

    @Test(arguments: [
        [0x22, 0xFF, 0x22],  // not UTF-8 at all
        [0x22, 0xC0, 0xAF, 0x22],  // overlong '/'
        [0x22, 0xED, 0xA0, 0x80, 0x22],  // UTF-16 surrogate encoded in UTF-8
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
        [0x22, 0xE2, 0x82, 0x22],  // truncated sequence
        [0x5B, 0xFE, 0x5D],  // stray byte outside a string
    ] as [[UInt8]])
    func refusesInvalidUTF8(_ bytes: [UInt8]) {
        guard case .invalid = verdict(bytes) else {
            Issue.record("accepted \(bytes)")
            return
        }
    }

    @Test func measuresDepthAndDistinguishesTooDeepFromInvalid() {
        let sixtyFour = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(verdict(sixtyFour) == .valid)
        #expect(verdict("[" + sixtyFour + "]") == .tooDeep)
        #expect(verdict(#"{"a":"# + sixtyFour + "}") == .tooDeep)
        // 100,000 unclosed brackets: invalid, found without recursion.
        guard case .invalid = verdict(String(repeating: "[", count: 100_000)) else {
            Issue.record("100,000 unclosed brackets accepted")
            return
        }
        let deepButValid = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(verdict(deepButValid) == .tooDeep)
    }

    @Test func readsMembersElementsAndStrings() throws {
        let raw = try RawJSON(parsing: Array(#" {"a" : [1, {"x":"]"}], "b\u0021":"caf\u00e9", "c":null} "#.utf8))
        let members = raw.members()
        #expect(members.map(\.key) == ["a", "b!", "c"])
        #expect(members[0].value.elements().map(\.description) == ["1", #"{"x":"]"}"#])
        #expect(members[1].value.stringValue == "café")
        #expect(members[2].value.kind == .null)
        #expect(raw.compacted().description == #"{"a":[1,{"x":"]"}],"b\u0021":"caf\u00e9","c":null}"#)
    }
}
