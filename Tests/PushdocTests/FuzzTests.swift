import Foundation
import Glibc
import TestSupport
import Testing

/// Bad input, generated: every wrong type for every parameter of every
/// method, and a seeded corpus of malformed, truncated, mutated, deep and
/// huge messages. The engine must answer every request, never with an
/// internal error, and keep serving. `PUSHDOC_FUZZ_CASES` and
/// `PUSHDOC_FUZZ_SEED` run it longer or elsewhere by hand.
struct FuzzTests {
    static let cases = Int(ProcessInfo.processInfo.environment["PUSHDOC_FUZZ_CASES"] ?? "") ?? 20_000
    static let seed = UInt64(ProcessInfo.processInfo.environment["PUSHDOC_FUZZ_SEED"] ?? "") ?? 1337

    static let wrongValues: [(type: String, json: String)] = [
        ("null", "null"), ("boolean", "true"), ("integer", "0"), ("integer", "-1"), ("number", "1.5"),
        ("integer", "123456789012345678901234567890"), ("number", "1e400"), ("string", #""""#), ("string", #""x\u0000y""#),
        ("array", "[]"), ("array", "[1,[2]]"), ("object", "{}"), ("object", #"{"a":{"b":null}}"#),
    ]

    /// Methods and their parameters with types, from the OpenRPC document.
    static func methods() throws -> [(name: String, params: [(name: String, types: Set<String>)])] {
        let document = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: OpenRPCDocumentTests.path))) as! [String: Any]
        let schemas = (document["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
        func types(_ schema: [String: Any]) -> Set<String> {
            if let reference = schema["$ref"] as? String, let target = schemas[String(reference.split(separator: "/").last!)] as? [String: Any] {
                return types(target)
            }
            if let type = schema["type"] as? String { return type == "integer" ? ["integer"] : [type] }
            if let list = schema["type"] as? [String] { return Set(list) }
            if let options = schema["oneOf"] as? [[String: Any]] ?? schema["anyOf"] as? [[String: Any]] {
                return options.reduce(into: Set<String>()) { $0.formUnion(types($1)) }
            }
            if let constant = schema["const"] { return constant is Bool ? ["boolean"] : ["string"] }
            return []
        }
        return (document["methods"] as! [[String: Any]]).map { method in
            (method["name"] as! String, (method["params"] as? [[String: Any]] ?? []).map { param in
                (param["name"] as! String, types(param["schema"] as? [String: Any] ?? [:]))
            })
        }
    }

    @Test func everyWrongTypeForEveryParameterGetsAClearError() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        var sent = 0
        var accepted: [String] = []
        for (method, params) in try Self.methods() where method != "shutdown" {
            var variants = params.flatMap { param in
                Self.wrongValues.filter { value in
                    !param.types.contains(value.type) && !(value.type == "integer" && param.types.contains("number"))
                }.map { #"{"\#(param.name)":\#($0.json)}"# }
            }
            variants += [#"[1,2]"#, #""params""#, "7", #"{"unknown":1}"#]
            for params in variants {
                sent += 1
                let answer = try await engine.stdio.call(method, params)
                #expect(answer["result"] != nil || answer.errorCode != nil, "\(method) \(params): \(answer)")
                if let code = answer.errorCode {
                    #expect(code != -32603, "internal error for \(method) \(params): \(answer)")
                    #expect(!(answer.string("error", "message") ?? "").isEmpty)
                } else {
                    accepted.append("\(method) \(params)")
                }
            }
        }
        // Only what the contract allows may pass: unknown members, and null for an optional parameter.
        for call in accepted {
            #expect(call.hasSuffix(#"{"unknown":1}"#) || call.hasSuffix(":null}"), "accepted: \(call)")
        }
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
        print("fuzz: \(sent) wrongly typed calls over \(try Self.methods().count) methods, \(accepted.count) accepted as allowed, 0 internal errors")
    }

    /// Every page, size, limit and timeout of every method, alone and in
    /// pairs, at the edges of 64-bit integers: a range check must come before
    /// any arithmetic (an overflow traps and kills the engine for everyone).
    @Test func extremeIntegersInEveryNumberParameterNeverStopTheEngine() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        let extremes = [
            "9223372036854775807", "-9223372036854775808", "4611686018427387905", "-4611686018427387904",
            "2147483648", "-1", "0", "1", "2", "500", "1e19",
        ]
        var sent = 0
        for (method, params) in try Self.methods() where method != "shutdown" {
            let numeric = params.filter { !$0.types.isDisjoint(with: ["integer", "number"]) }.map(\.name)
            guard !numeric.isEmpty else { continue }
            // Every value of each parameter, with every value of at most one other.
            var combinations: [[String: String]] = extremes.flatMap { value in numeric.map { [$0: value] } }
            for (first, second) in zip(numeric, numeric.dropFirst()) {
                for a in extremes { for b in extremes { combinations.append([first: a, second: b]) } }
            }
            for combination in combinations {
                let params = "{" + combination.map { #""\#($0.key)":\#($0.value)"# }.joined(separator: ",") + "}"
                sent += 1
                let answer = try await engine.stdio.call(method, params)
                #expect(answer["result"] != nil || answer.errorCode != nil, "\(method) \(params): \(answer)")
                #expect(answer.errorCode != -32603, "internal error for \(method) \(params): \(answer)")
            }
            #expect(try await engine.stdio.call("ping").string("result") == "pong", "after \(method)")
        }
        #expect(sent > 100)
        print("fuzz: \(sent) calls with extreme integers, the engine still serving")
    }

    @Test func aSeededCorpusNeverHurtsTheEngine() async throws {
        let engine = try PushdocProcess(["serve", "--stdio", "--max-message-bytes", "1M"])
        var random = SplitMix64(seed: Self.seed)
        let methods = try Self.methods().map(\.name).filter { $0 != "shutdown" }
        let lines = (0..<Self.cases).map { Self.fuzzCase($0, methods: methods, random: &random) }
        var answers: [String] = []
        for start in stride(from: 0, to: lines.count, by: 200) {
            engine.stdio.write(lines[start..<min(lines.count, start + 200)].flatMap { $0 + [0x0A] })
            let sentinel = "sentinel-\(start)"
            engine.stdio.send(#"{"jsonrpc":"2.0","id":"\#(sentinel)","method":"ping"}"#)
            _ = try await engine.stdio.take(timeout: .seconds(60)) { $0.id as? String == sentinel }
            answers += engine.stdio.lines.drainPending()
        }
        // A strict judge of its own (Python's json): which cases are requests
        // that must be answered, which answers carry which ids.
        var verdict = try await Self.judge(cases: lines, answers: answers)
        let deadline = ContinuousClock.now + .seconds(30)
        while !verdict.missing.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            answers += engine.stdio.lines.drainPending()
            verdict = try await Self.judge(cases: lines, answers: answers)
        }
        #expect(verdict.unparseable.isEmpty, "answers that are not JSON: \(verdict.unparseable.prefix(3))")
        #expect(verdict.internalErrors.isEmpty, "\(verdict.internalErrors.prefix(3))")
        #expect(verdict.missing.isEmpty, "requests unanswered: \(verdict.missing.prefix(3))")
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
        print("fuzz: \(Self.cases) corpus cases, \(verdict.requests) requests with an id among them, all answered; "
            + "\(answers.count) answers, all JSON, no internal error; engine alive")
    }

    struct Verdict: Decodable {
        let requests: Int
        let missing: [String]
        let unparseable: [String]
        let internalErrors: [String]
    }

    static let judgeScript = """
        import base64, json, sys
        def strict(text):
            return json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
        def requests(value):
            items = value if isinstance(value, list) else [value]
            return [i["id"] for i in items if isinstance(i, dict) and i.get("jsonrpc") == "2.0"
                    and isinstance(i.get("method"), str) and isinstance(i.get("id"), str)]
        expected = set()
        for line in open(sys.argv[1] + "/cases").read().split("\\n"):
            try:
                expected.update(requests(strict(base64.b64decode(line).decode("utf-8"))))
            except (ValueError, RecursionError):
                pass
        answered, unparseable, internal = set(), [], []
        for line in open(sys.argv[1] + "/answers", encoding="utf-8", errors="replace").read().split("\\n"):
            if not line:
                continue
            try:
                value = strict(line)
            except (ValueError, RecursionError):
                unparseable.append(line[:200])
                continue
            for message in value if isinstance(value, list) else [value]:
                if isinstance(message.get("id"), str):
                    answered.add(message["id"])
                if isinstance(message.get("error"), dict) and message["error"].get("code") == -32603:
                    internal.append(line[:200])
        json.dump({"requests": len(expected), "missing": sorted(expected - answered)[:20],
                   "unparseable": unparseable[:20], "internalErrors": internal[:20]}, open(sys.argv[1] + "/verdict", "w"))
        """

    static func judge(cases: [[UInt8]], answers: [String]) async throws -> Verdict {
        let directory = TemporaryDirectory.make(prefix: "pushdoc-fuzz")
        try Data(cases.map { Data($0).base64EncodedString() }.joined(separator: "\n").utf8)
            .write(to: URL(fileURLWithPath: directory + "/cases"))
        try Data(answers.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: directory + "/answers"))
        try await runPython(judgeScript, [directory])
        return try JSONDecoder().decode(Verdict.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/verdict")))
    }

    static let fixedCases = [
        "{", "}", "[", "]", "[]", "{}", "null", "true", "0", #""ping""#, #"{"jsonrpc":"2.0"}"#, #"{"jsonrpc":"1.0","id":"x","method":"ping"}"#,
        #"{"jsonrpc":"2.0","id":{},"method":"ping"}"#, #"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#, #"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
        #"{"jsonrpc":"2.0","id":1e400,"method":"ping"}"#, #"{"jsonrpc":"2.0","id":-0,"method":"ping"}"#, #"{"jsonrpc":"2.0","method":7}"#,
        #"{"jsonrpc":"2.0","method":"ping","params":"#, #"{"jsonrpc":"2.0","id":"a","method":"ping"} trailing"#, "\u{FEFF}{}",
        #"{"jsonrpc":"2.0","id":"dup","id":"dup2","method":"ping"}"#, #"{"a":"\ud800"}"#, #"{"a":"\x"}"#, "[1,]", "{\"a\":1,}",
        "[" + String(repeating: "[", count: 5000), String(repeating: "[", count: 3000) + String(repeating: "]", count: 3000),
        #"[{"jsonrpc":"2.0","id":"b1","method":"ping"},1,{"jsonrpc":"2.0","method":"ping"}]"#, "[1,2,3]",
        "123456789012345678901234567890123456789012345678901234567890", "-", "--1", "0x10", "NaN", "Infinity", #""\u0000""#,
    ]

    static func fuzzCase(_ index: Int, methods: [String], random: inout SplitMix64) -> [UInt8] {
        if index < fixedCases.count { return Array(fixedCases[index].utf8) }
        let method = methods[Int.random(in: 0..<methods.count, using: &random)]
        let values = wrongValues.map(\.json) + [#""Achats/x.pdf""#, "1", "100", #""d1""#, "false", #""2026-01-01""#]
        var params: [String] = []
        for _ in 0..<Int.random(in: 0...3, using: &random) {
            let name = ["ids", "query", "page", "pageSize", "dossierId", "path", "contentBase64", "limit", "after", "documentId", "date", "x"]
                .randomElement(using: &random)!
            params.append(#""\#(name)":\#(values.randomElement(using: &random)!)"#)
        }
        let request = #"{"jsonrpc":"2.0","id":"f\#(index)","method":"\#(method)","params":{\#(params.joined(separator: ","))}}"#
        var bytes = Array(request.utf8)
        switch index % 4 {
        case 0:
            return bytes
        case 1:
            return Array(bytes.prefix(Int.random(in: 1..<bytes.count, using: &random)))
        case 2:
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = Int.random(in: 0..<bytes.count, using: &random)
                let byte = [0x00, 0xFF, 0x22, 0x7B, 0x5D, 0x5C, 0x2C, 0x3A, 0xC3, 0x80, UInt8.random(in: 1...0x7F, using: &random)]
                    .randomElement(using: &random)!
                if Bool.random(using: &random) { bytes[position] = byte } else { bytes.insert(byte, at: position) }
            }
            // One message per line: a mutation may not add a line.
            return bytes.map { $0 == 0x0A ? 0x20 : $0 }
        default:
            return Array(("[" + (0..<Int.random(in: 1...5, using: &random)).map { _ in
                #"{"jsonrpc":"2.0","id":"f\#(index)-\#(Int.random(in: 0...999_999, using: &random))","method":"\#(methods.randomElement(using: &random)!)"}"#
            }.joined(separator: ",") + "]").utf8)
        }
    }
}
