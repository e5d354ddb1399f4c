import Foundation
import TestSupport
import Testing

/// Protocol version 2 through a real engine: two firms with the same ids,
/// each call seeing only its own connector.
struct ConnectorsTests {
    static let garage = InqomStandIn.Account(login: "garage@example.fr", password: "garage-pw", folders: [11289])

    /// `params` with `"connector"` added (none for the default connector).
    private func scoped(_ params: String, _ connector: String?) -> String {
        guard let connector else { return params }
        let body = params.dropFirst().dropLast()
        return "{" + #""connector":"\#(connector)""# + (body.isEmpty ? "" : "," + body) + "}"
    }

    @Test func twoFirmsWithTheSameIdsSeeOnlyTheirOwnThroughEveryMethodFamily() async throws {
        let standIn = try await InqomStandIn(
            folders: InqomStandIn.defaultFolders + [.init(id: 11289, name: "GARAGE DUPRE", siren: "443061841", nic: "00047")],
            otherAccounts: [Self.garage])
        let engine = try PushdocProcess(
            ["serve", "--stdio", "--inqom-auth-url", standIn.url.absoluteString, "--inqom-api-url", standIn.url.absoluteString])
        let files = TemporaryDirectory.make(prefix: "pushdoc-connectors")
        func call(_ method: String, _ params: String = "{}", _ connector: String?) async throws -> JSONLine {
            try await engine.stdio.call(method, scoped(params, connector), timeout: .seconds(60))
        }
        let firms: [(connector: String?, name: String, siret: String, login: String, password: String, folder: Int)] = [
            (nil, "Boulangerie", "73282932000074", InqomStandIn.login, InqomStandIn.password, 11287),
            ("garage-dupre", "Garage", "44306184100047", Self.garage.login, Self.garage.password, 11289),
        ]
        for firm in firms {
            let c = firm.connector
            _ = try await call("catalog.upsertDossiers", #"{"dossiers":[{"id":"D1","name":"\#(firm.name)","attributes":{"SIRET":"\#(firm.siret)"}}]}"#, c)
            _ = try await call("catalog.upsertFolders", #"{"paths":["Achats/\#(firm.name)"]}"#, c)
            _ = try await call("wizard.selectDossiers", #"{"ids":["D1"],"selected":true}"#, c)
            #expect(try await call("wizard.connect", #"{"login":"\#(firm.login)","password":"\#(firm.password)","clientSecret":"\#(InqomStandIn.clientSecret)"}"#, c)["result"] != nil)
            let mapping = try await call("wizard.mapDossiers", #"{"siretAttribute":"SIRET"}"#, c)
            #expect(mapping.int("result", "matched", 0, "inqomFolderId") == firm.folder)
            _ = try await call("rules.add", #"{"depositPath":"Achats","documentType":"facture_achat","period":"any"}"#, c)
            #expect(try await call("wizard.finish", "{}", c).string("result", "state") == "active")
            _ = try await call("collaborators.upsert", #"{"collaborators":[{"id":"c1","name":"\#(firm.name)","email":"c1@example.fr","dailyDigest":true}]}"#, c)
            let file = files + "/\(firm.name).pdf"
            try Data("%PDF \(firm.name)".utf8).write(to: URL(fileURLWithPath: file))
            let submitted = try await call("push.submit", #"{"dossierId":"D1","path":"Achats/inv-1.pdf","file":"\#(file)","documentId":"inv-1"}"#, c)
            #expect(submitted.string("result", "state") == "queued")
        }
        for firm in firms {
            let c = firm.connector
            let drained = try await call("push.drain", #"{"timeoutMs":20000}"#, c)
            #expect(drained.int("result", "documents", "transmitted") == 1)
            #expect(try await call("wizard.searchDossiers", #"{"query":""}"#, c).string("result", "items", 0, "name") == firm.name)
            #expect(try await call("rules.completePath", #"{"prefix":"Achats/"}"#, c).at("result", "suggestions") as? [String] == ["Achats/\(firm.name)"])
            #expect((try await call("rules.list", "{}", c).at("result", "rules") as? [Any])?.count == 1)
            #expect(try await call("status.document", #"{"documentId":"inv-1"}"#, c).string("result", "state") == "transmitted")
            #expect((try await call("status.documents", "{}", c).at("result", "items") as? [Any])?.count == 1)
            #expect(try await call("collaborators.list", "{}", c).string("result", "collaborators", 0, "name") == firm.name)
            #expect(try await call("status.summary", "{}", c).int("result", "documents", "transmitted") == 1)
            // Events are filtered only when a connector is named, even "default".
            let events = try await call("events.list", #"{"limit":1000}"#, c ?? "default").at("result", "events") as? [[String: Any]] ?? []
            #expect(!events.isEmpty && events.allSatisfy { $0["connector"] as? String == (firm.connector ?? "default") })
        }
        // The connector and digest families: each firm's own.
        for firm in firms {
            let preview = try await call("digest.preview", #"{"collaboratorId":"c1"}"#, firm.connector)
            #expect(preview.string("result", "text")?.contains(firm.name) == true)
            #expect((try await call("catalog.attributes", "{}", firm.connector).at("result", "attributes") as? [Any])?.count == 1)
        }
        #expect(try await call("connector.pause", "{}", "garage-dupre").string("result", "state") == "paused")
        #expect(try await call("status.summary", "{}", nil).string("result", "connector", "state") == "active")
        #expect(try await call("connector.resume", "{}", "garage-dupre").string("result", "state") == "active")
        _ = try await call("connector.reset", #"{"confirm":true}"#, "garage-dupre")
        #expect(try await call("wizard.state", "{}", "garage-dupre").string("result", "state") == "unconfigured")
        #expect(try await call("wizard.state", "{}", nil).string("result", "state") == "active")
        #expect((try await call("rules.list", "{}", nil).at("result", "rules") as? [Any])?.count == 1)
        // Each upload went with its firm's login to its firm's folder.
        let sent = try await standIn.uploads().map { "\($0["account"] as? String ?? "?") → \($0["folderId"] as? Int ?? 0)" }
        #expect(sent.sorted() == ["cabinet@example.fr → 11287", "garage@example.fr → 11289"])
        // Without a connector, events.list gives every connector's.
        let all = try await engine.stdio.call("events.list", #"{"limit":1000}"#).at("result", "events") as? [[String: Any]] ?? []
        #expect(Set(all.compactMap { $0["connector"] as? String }) == ["default", "garage-dupre"])
        // The engine as a whole, and the list of connectors.
        #expect(try await engine.stdio.call("status.engine").int("result", "documents", "transmitted") == 2)
        let listed = try await engine.stdio.call("connectors.list").at("result", "items") as? [[String: Any]] ?? []
        #expect(listed.compactMap { $0["connector"] as? String } == ["default", "garage-dupre"])

        // A connector only read is not created; names are checked exactly.
        #expect(try await call("wizard.state", "{}", "nobody-yet").string("result", "state") == "unconfigured")
        #expect((try await engine.stdio.call("connectors.list").at("result", "items") as? [Any])?.count == 2)
        #expect(try await call("status.document", #"{"documentId":"inv-1"}"#, "Garage-Dupre").errorCode == 1302)
        for bad in ["", "a b", String(repeating: "x", count: 129), "é"] {
            let refused = try await call("wizard.state", "{}", bad)
            #expect(refused.errorCode == -32602)
            #expect(refused.string("error", "data", "field") == "connector")
        }
        // The engine's own methods take no connector.
        for method in ["ping", "status.engine", "connectors.list"] {
            #expect(try await engine.stdio.call(method, #"{"connector":"default"}"#).string("error", "data", "field") == "connector")
        }
        // Removing a firm: every trace of it goes, and the log says so.
        #expect(try await engine.stdio.call("connectors.remove", #"{"connector":"garage-dupre"}"#).string("error", "data", "field") == "confirm")
        #expect(try await engine.stdio.call("connectors.remove", #"{"confirm":true}"#).string("error", "data", "field") == "connector")
        #expect(try await engine.stdio.call("connectors.remove", #"{"connector":"nobody","confirm":true}"#).errorCode == 1304)
        #expect(try await engine.stdio.call("connectors.remove", #"{"connector":"garage-dupre","confirm":true}"#).at("result", "removed") as? Bool == true)
        #expect(try await call("status.document", #"{"documentId":"inv-1"}"#, "garage-dupre").errorCode == 1302)
        #expect(try await call("wizard.state", "{}", "garage-dupre").string("result", "state") == "unconfigured")
        #expect((try await call("collaborators.list", "{}", "garage-dupre").at("result", "collaborators") as? [Any])?.isEmpty == true)
        let left = try await call("events.list", #"{"limit":1000}"#, "garage-dupre").at("result", "events") as? [[String: Any]] ?? []
        #expect(left.map { $0["type"] as? String } == ["connector.removed"])
        #expect((left.first?["data"] as? [String: Any])?["connector"] as? String == "garage-dupre")
        #expect((try await engine.stdio.call("connectors.list").at("result", "items") as? [[String: Any]])?.compactMap { $0["connector"] as? String } == ["default"])
        #expect(try await call("status.document", #"{"documentId":"inv-1"}"#, nil).string("result", "state") == "transmitted")

        let hello = try await engine.stdio.call("initialize")
        #expect(hello.string("result", "protocolVersion") == "2")
        #expect(hello.at("result", "capabilities", "connectors") as? Bool == true)
    }
}
