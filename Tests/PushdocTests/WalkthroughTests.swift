import Foundation
import TestSupport
import Testing

/// The walk-through of protocol/README.md is a real session: this test
/// replays it against a real engine and the stand-in and fails when the
/// transcript in the README no longer matches (times, rule ids and uptime
/// are written as placeholders). On a mismatch it writes the new transcript
/// to /tmp/pushdoc-walkthrough.txt.
struct WalkthroughTests {
    static let steps: [(method: String, params: String?, events: Int)] = [
        ("initialize", #"{"clientInfo":{"name":"mcf-backend","version":"1.0"}}"#, 0),
        ("catalog.upsertDossiers", #"{"dossiers":[{"id":"d1","name":"Boulangerie Martin","attributes":{"SIRET":"732 829 320 00074"}}]}"#, 0),
        ("wizard.selectDossiers", #"{"query":"boulangerie","selected":true}"#, 0),
        ("wizard.connect", #"{"login":"cabinet@example.fr","password":"Mot de passe 1!","clientSecret":"cs-4f1e-standin"}"#, 0),
        ("wizard.mapDossiers", #"{"siretAttribute":"SIRET"}"#, 0),
        ("rules.add", #"{"depositPath":"Achats","documentType":"facture_achat","archivePath":"Achats/Envoyés","period":"any"}"#, 0),
        ("events.subscribe", #"{"after":0}"#, 0),
        ("wizard.finish", nil, 1),
        ("push.submit", #"{"dossierId":"d1","path":"Achats/Facture EDF.pdf","contentBase64":"JVBERi0xLjQgZmFjdHVyZQ=="}"#, 2),
        ("status.document", nil, 0),  // asks for the document push.submit answered with
        ("shutdown", nil, 0),
    ]

    static var readmePath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("protocol/README.md").path
    }

    static func normalise(_ line: String) -> String {
        line.replacing(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/, with: "<time>")
            .replacing(/rule_[0-9a-f]{16}/, with: "rule_<id>")
            .replacing(/"uptimeSeconds":\d+/, with: #""uptimeSeconds":<n>"#)
    }

    @Test func theReadmeWalkthroughIsARealSession() async throws {
        let standIn = try await InqomStandIn(folders: [.init(id: 11287, name: "BOULANGERIE MARTIN", siren: "732829320", nic: "00074")])
        let engine = try PushdocProcess([
            "serve", "--stdio", "--inqom-auth-url", standIn.url.absoluteString, "--inqom-api-url", standIn.url.absoluteString,
        ])
        var transcript: [String] = []
        var documentID = ""
        for (index, step) in Self.steps.enumerated() {
            var params = step.params
            if step.method == "status.document" { params = #"{"documentId":"\#(documentID)"}"# }
            let request = #"{"jsonrpc":"2.0","id":\#(index + 1),"method":"\#(step.method)""# + (params.map { #","params":\#($0)"# } ?? "") + "}"
            engine.stdio.send(request)
            transcript.append("→ " + request)
            let answer = try await engine.stdio.response(id: index + 1)
            transcript.append("← " + answer.text)
            if step.method == "push.submit" { documentID = answer.string("result", "documentId") ?? "" }
            var events: [JSONLine] = []
            for _ in 0..<step.events { events.append(try await engine.stdio.take { $0.string("method") == "event" }) }
            transcript += events.sorted { ($0.int("params", "seq") ?? 0) < ($1.int("params", "seq") ?? 0) }.map { "← " + $0.text }
        }
        #expect(try await engine.waitForExit() == 0)
        let produced = transcript.map(Self.normalise).joined(separator: "\n")
        let readme = try String(contentsOfFile: Self.readmePath, encoding: .utf8)
        let recorded = readme.firstMatch(of: /<!-- walkthrough -->\n```text\n([\s\S]*?)\n```/).map { String($0.output.1) }
        if recorded != produced {
            try produced.write(toFile: "/tmp/pushdoc-walkthrough.txt", atomically: true, encoding: .utf8)
        }
        #expect(recorded == produced, "protocol/README.md's walk-through differs from a real session: see /tmp/pushdoc-walkthrough.txt")
    }
}
