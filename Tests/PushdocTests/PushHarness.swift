import Foundation
import TestSupport
import Testing

/// An engine configured through the whole wizard, against a fresh stand-in:
/// dossier `d1` mapped to folder 11287, `d2` selected but not mapped,
/// `d3` not selected; rules for every document type.
struct PushHarness {
    let standIn: InqomStandIn
    var engine: PushdocProcess
    let files: String

    static let engineOptions = ["--retry-delays", "0.05,0.1", "--max-attempts", "3", "--circuit-probe-seconds", "0.3"]

    init(finish: Bool = true, extra: [String] = [], tokenLifetime: Int = 3600) async throws {
        standIn = try await InqomStandIn(tokenLifetime: tokenLifetime)
        files = TemporaryDirectory.make(prefix: "pushdoc-files")
        engine = try PushdocProcess(Self.serveArguments(standIn) + Self.engineOptions + extra)
        let dossiers = #"{"dossiers":[{"id":"d1","name":"Boulangerie Martin","attributes":{"SIRET":"73282932000074"}},{"id":"d2","name":"Café Sans Siret","attributes":{}},{"id":"d3","name":"Non choisi","attributes":{}}]}"#
        try await expectResult("catalog.upsertDossiers", dossiers)
        try await expectResult("wizard.selectDossiers", #"{"ids":["d1","d2"],"selected":true}"#)
        try await expectResult("wizard.connect", #"{"login":"\#(InqomStandIn.login)","password":"\#(InqomStandIn.password)","clientSecret":"\#(InqomStandIn.clientSecret)"}"#)
        try await expectResult("wizard.mapDossiers", #"{"siretAttribute":"SIRET"}"#)
        for rule in [
            #"{"depositPath":"Achats","documentType":"facture_achat","archivePath":"Achats/Envoyés/{millésime}","period":"any"}"#,
            #"{"depositPath":"Ventes","documentType":"facture_vente","period":"any"}"#,
            #"{"depositPath":"Notes","documentType":"note_de_frais","period":"any"}"#,
            #"{"depositPath":"Admin/{millésime}/{mois}","documentType":"administratif"}"#,
            #"{"depositPath":"Divers","documentType":"autre","period":"any"}"#,
        ] { try await expectResult("rules.add", rule) }
        if finish { try await expectResult("wizard.finish") }
    }

    /// Another firm's connector, configured like the default one on the
    /// same Inqom login: `d1` (the same SIRET) mapped, a rule for `Achats`.
    func addConnector(_ name: String) async throws {
        for (method, params) in StandInWizard.steps(connector: name, dossierName: "Autre cabinet") {
            try await expectResult(method, params)
        }
    }

    static func serveArguments(_ standIn: InqomStandIn) -> [String] {
        ["serve", "--stdio", "--inqom-auth-url", standIn.url.absoluteString, "--inqom-api-url", standIn.url.absoluteString]
    }

    /// Stops the engine with `shutdown`, runs `whileStopped`, and starts
    /// another on the same data directory (by default with the usual arguments).
    mutating func restart(
        _ arguments: [String]? = nil, environment: [String: String] = [:],
        whileStopped: (String) async throws -> Void = { _ in }
    ) async throws {
        let dataDir = engine.dataDir
        _ = try await call("shutdown")
        _ = try await engine.waitForExit()
        try await whileStopped(dataDir)
        engine = try PushdocProcess(
            arguments ?? (Self.serveArguments(standIn) + Self.engineOptions), dataDir: dataDir, environment: environment)
    }

    @discardableResult
    func expectResult(_ method: String, _ params: String? = nil) async throws -> JSONLine {
        let answer = try await engine.stdio.call(method, params)
        #expect(answer["result"] != nil, "\(method): \(answer)")
        return answer
    }

    func call(_ method: String, _ params: String? = nil) async throws -> JSONLine {
        try await engine.stdio.call(method, params)
    }

    /// Writes a file and submits it.
    func submit(_ dossier: String, _ path: String, content: String, extra: String = "") async throws -> JSONLine {
        let file = files + "/" + UUID().uuidString + "-" + (path.split(separator: "/").last.map(String.init) ?? "f")
        try Data(content.utf8).write(to: URL(fileURLWithPath: file))
        return try await call("push.submit", #"{"dossierId":"\#(dossier)","path":"\#(path)","file":"\#(file)"\#(extra)}"#)
    }

    func drain(timeoutMs: Int = 20_000) async throws -> JSONLine {
        try await engine.stdio.call("push.drain", #"{"timeoutMs":\#(timeoutMs)}"#, timeout: .seconds(60))
    }

    func document(_ id: String) async throws -> JSONLine {
        try await call("status.document", #"{"documentId":"\#(id)"}"#)
    }

    func events(after seq: Int = 0) async throws -> [[String: Any]] {
        try await call("events.list", #"{"after":\#(seq),"limit":1000}"#).at("result", "events") as? [[String: Any]] ?? []
    }
}
