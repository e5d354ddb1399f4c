import Foundation
import PushdocRPC
import TestSupport
import Testing

/// `protocol/openrpc.json` is the contract: the engine serves it as it is,
/// and it describes exactly the methods the engine answers.
struct OpenRPCDocumentTests {
    static var path: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("protocol/openrpc.json").path
    }

    @Test func rpcDiscoverServesTheProtocolDocument() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        let served = try await engine.stdio.call("rpc.discover")
        let file = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.path)))
        #expect(NSDictionary(dictionary: try #require(served["result"] as? [String: Any])).isEqual(to: try #require(file as? [String: Any])))
        let initialize = try await engine.stdio.call("initialize")
        let answered = try #require(initialize.at("result", "capabilities", "methods") as? [String])
        let documented = try #require((file as? [String: Any])?["methods"] as? [[String: Any]]).compactMap { $0["name"] as? String }
        #expect(Set(answered) == Set(documented))
        #expect(answered.count == documented.count)
    }

    @Test func everyMethodHasParamsAResultAndValidReferences() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.path))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((document["openrpc"] as? String)?.hasPrefix("1.") == true)
        let text = String(decoding: data, as: UTF8.self)
        let components = try #require(document["components"] as? [String: Any])
        let references = text.matches(of: /"\$ref": "#\/components\/(\w+)\/(\w+)"/)
        for reference in references {
            let section = components[String(reference.output.1)] as? [String: Any]
            #expect(section?[String(reference.output.2)] != nil, "dangling \(reference.output.0)")
        }
        for method in try #require(document["methods"] as? [[String: Any]]) {
            #expect(method["params"] is [Any], "\(method["name"] ?? "?") has no params list")
            #expect(method["result"] is [String: Any], "\(method["name"] ?? "?") has no result")
        }
    }
}
