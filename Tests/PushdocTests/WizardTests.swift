import Foundation
import TestSupport
import Testing

/// The four steps of the wizard, driven through a real engine process as
/// MCF's backend drives it, against the Inqom stand-in.
struct WizardTests {
    let standIn: InqomStandIn
    let engine: PushdocProcess

    /// Inqom's side: folders for the valid SIRETs, two sharing one, one without Nic.
    static let inqomFolders = [
        InqomStandIn.Folder(id: 11287, name: "BOULANGERIE MARTIN", siren: "732829320", nic: "74"),
        InqomStandIn.Folder(id: 11288, name: "HÔTEL DU PORT", siren: "552100554", nic: "00013"),
        InqomStandIn.Folder(id: 11289, name: "LA POSTE AGENCE", siren: "356000000", nic: "09075"),
        InqomStandIn.Folder(id: 11290, name: "DOUBLON A", siren: "443061841", nic: "00047"),
        InqomStandIn.Folder(id: 11291, name: "DOUBLON B", siren: "443061841", nic: "47"),
        InqomStandIn.Folder(id: 11292, name: "SANS NIC", siren: "803147446", nic: nil),
    ]

    /// MCF's side: accented names, SIRETs valid, spaced, invalid, missing, La Poste, absent, ambiguous.
    static let dossiers: [(id: String, name: String, siret: String?)] = [
        ("d-boul", "Boulangerie Martin", "732 829 320 00074"),
        ("d-hotel", "Hôtel du Port", "552.100.554.00013"),
        ("d-poste", "La Poste – Agence", "35600000009075"),
        ("d-double", "Société Doublon", "44306184100047"),
        ("d-absent", "Café des Arts", "55210055400021"),
        ("d-invalid", "Œnologie Dupré", "73282932000075"),
        ("d-missing", "Zénith Conseil", nil),
    ]

    init() async throws {
        standIn = try await InqomStandIn(folders: Self.inqomFolders)
        engine = try PushdocProcess([
            "serve", "--stdio", "--inqom-auth-url", standIn.url.absoluteString, "--inqom-api-url",
            standIn.url.absoluteString, "--inqom-client-id", InqomStandIn.clientID,
        ])
    }

    private func call(_ method: String, _ params: String? = nil) async throws -> JSONLine {
        try await engine.stdio.call(method, params)
    }

    private func loadCatalog() async throws {
        let dossiers = Self.dossiers.map { dossier -> [String: Any] in
            ["id": dossier.id, "name": dossier.name,
             "attributes": dossier.siret.map { ["SIRET": $0, "Ville": "Nantes"] } ?? ["Ville": "Rennes"]]
        }
        let params = String(decoding: try JSONSerialization.data(withJSONObject: ["dossiers": dossiers]), as: UTF8.self)
        #expect(try await call("catalog.upsertDossiers", params).int("result", "upserted") == Self.dossiers.count)
    }

    private func connect(password: String = InqomStandIn.password, secret: String = InqomStandIn.clientSecret) async throws -> JSONLine {
        let params = try JSONSerialization.data(withJSONObject: ["login": InqomStandIn.login, "password": password, "clientSecret": secret])
        return try await call("wizard.connect", String(decoding: params, as: UTF8.self))
    }

    @Test func theWholeWizardFromNothingToActive() async throws {
        #expect(try await call("wizard.state").string("result", "state") == "unconfigured")
        try await loadCatalog()
        let attributes = try #require(try await call("catalog.attributes").at("result", "attributes") as? [[String: Any]])
        #expect(attributes.map { $0["name"] as? String } == ["SIRET", "Ville"])
        #expect(attributes.first?["dossierCount"] as? Int == 6)

        // Step 1: search ignores case and accents; bulk selection spans pages.
        let found = try await call("wizard.searchDossiers", #"{"query":"societe"}"#)
        #expect(found.int("result", "total") == 1)
        #expect(found.string("result", "items", 0, "name") == "Société Doublon")
        #expect(try await call("wizard.searchDossiers", #"{"query":"HOTEL"}"#).string("result", "items", 0, "id") == "d-hotel")
        #expect(try await call("wizard.searchDossiers", #"{"query":"nantes"}"#).int("result", "total") == 6)
        let page2 = try await call("wizard.searchDossiers", #"{"query":"","page":2,"pageSize":3}"#)
        #expect(page2.int("result", "total") == 7)
        #expect((page2.at("result", "items") as? [Any])?.count == 3)
        let selected = try await call("wizard.selectDossiers", #"{"query":"nantes","selected":true}"#)
        #expect(selected.int("result", "selectedCount") == 6)
        #expect(try await call("wizard.selectDossiers", #"{"ids":["d-missing"],"selected":true}"#).int("result", "selectedCount") == 7)
        let listed = try await call("wizard.selectedDossiers", #"{"pageSize":500}"#)
        #expect(listed.int("result", "total") == 7)
        #expect(try await call("wizard.state").string("result", "state") == "configuring")

        // Step 2: refusals are told apart; success stores the credentials.
        let badPassword = try await connect(password: "wrong")
        #expect(badPassword.errorCode == 1101)
        #expect(badPassword.errorReason == "invalid_credentials")
        let badSecret = try await connect(secret: "wrong")
        #expect(badSecret.errorCode == 1101)
        #expect(badSecret.errorReason == "invalid_client_secret")
        let connected = try await connect()
        #expect(connected.bool("result", "connected") == true)
        #expect(connected.int("result", "accountingFolders") == Self.inqomFolders.count)
        let state = try await call("wizard.state")
        #expect(state.bool("result", "steps", "connection", "done") == true)
        #expect(state.string("result", "steps", "connection", "login") == InqomStandIn.login)

        // Step 3: a preview saves nothing; every unmatched reason, with its value.
        let preview = try await call("wizard.mapDossiers", #"{"siretAttribute":"SIRET","save":false}"#)
        #expect(try await call("wizard.mapping").int("result", "total") == 0)
        let matched = try #require(preview.at("result", "matched") as? [[String: Any]])
        #expect(Set(matched.compactMap { $0["dossierId"] as? String }) == ["d-boul", "d-hotel", "d-poste"])
        #expect(matched.first { $0["dossierId"] as? String == "d-boul" }?["inqomFolderId"] as? Int == 11287)
        #expect(matched.first { $0["dossierId"] as? String == "d-poste" }?["siret"] as? String == "35600000009075")
        let unmatched = try #require(preview.at("result", "unmatched") as? [[String: Any]])
        let reasons = Dictionary(uniqueKeysWithValues: unmatched.map { ($0["dossierId"] as! String, $0["reason"] as! String) })
        #expect(reasons == ["d-double": "ambiguous_in_inqom", "d-absent": "not_found_in_inqom", "d-invalid": "invalid_siret", "d-missing": "missing_attribute"])
        #expect(unmatched.first { $0["dossierId"] as? String == "d-invalid" }?["value"] as? String == "73282932000075")
        #expect((preview.at("result", "sharedSirets") as? [Any])?.isEmpty == true)
        _ = try await call("wizard.mapDossiers", #"{"siretAttribute":"SIRET"}"#)
        // An attribute no dossier carries saves nothing over the working mapping.
        let misspelt = try await call("wizard.mapDossiers", #"{"siretAttribute":"NOPE"}"#)
        #expect(misspelt.errorCode == -32602 && misspelt.string("error", "data", "field") == "siretAttribute", "\(misspelt)")
        let saved = try await call("wizard.mapping", #"{"pageSize":2}"#)
        #expect(saved.int("result", "total") == 3)
        #expect(saved.string("result", "siretAttribute") == "SIRET")
        #expect(saved.string("result", "items", 0, "name") == "Boulangerie Martin")

        // Finishing before step 4 names what is missing.
        let early = try await call("wizard.finish")
        #expect(early.errorCode == 1001)
        #expect(early.at("error", "data", "missing") as? [String] == ["rules"])

        // Step 4.
        let rule = try await call("rules.add", #"{"depositPath":"Achats/{millésime}/{mois}","documentType":"facture_achat","archivePath":"Achats/Envoyés/{millésime}"}"#)
        #expect(rule.string("result", "period") == "current")
        let finished = try await call("wizard.finish")
        #expect(finished.string("result", "state") == "active")
        #expect(try await call("connector.pause").string("result", "state") == "paused")
        #expect(try await call("connector.resume").string("result", "state") == "active")

        // The configuration survives a restart; credentials are never in clear.
        engine.stdio.closeWrite()
        #expect(try await engine.waitForExit() == 0)
        let again = try PushdocProcess(
            ["serve", "--stdio", "--inqom-auth-url", standIn.url.absoluteString, "--inqom-api-url", standIn.url.absoluteString],
            dataDir: engine.dataDir)
        let restored = try await again.stdio.call("wizard.state")
        #expect(restored.string("result", "state") == "active")
        #expect(restored.int("result", "steps", "mapping", "matched") == 3)
        // The stored credentials still work: a fresh mapping needs a token.
        #expect(try await again.stdio.call("wizard.mapDossiers", #"{"siretAttribute":"SIRET","save":false}"#)["result"] != nil)
        let everything = (FileManager.default.subpaths(atPath: engine.dataDir) ?? []).map { engine.dataDir + "/" + $0 }
        var isDirectory: ObjCBool = false
        for path in everything where FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            for secret in [InqomStandIn.password, InqomStandIn.clientSecret] {
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(secret) in clear in \(path)")
            }
        }

        // Reset wipes configuration, keeps the catalog.
        #expect(try await again.stdio.call("connector.reset", #"{"confirm":false}"#).errorCode == -32602)
        _ = try await again.stdio.call("connector.reset", #"{"confirm":true}"#)
        let wiped = try await again.stdio.call("wizard.state")
        #expect(wiped.string("result", "state") == "unconfigured")
        #expect(try await again.stdio.call("wizard.searchDossiers").int("result", "total") == 7)
        #expect(try await again.stdio.call("wizard.mapDossiers", #"{"siretAttribute":"SIRET"}"#).errorCode == 1002)
    }

    @Test func searchInputIsDataNeverSQL() async throws {
        let params = #"{"dossiers":[{"id":"a","name":"100% Bio","attributes":{}},{"id":"b","name":"Under_score","attributes":{}},{"id":"c","name":"L'Atelier","attributes":{}},{"id":"d","name":"Plain","attributes":{}}]}"#
        _ = try await call("catalog.upsertDossiers", params)
        for (query, expected) in [("%", ["a"]), ("_", ["b"]), ("'", ["c"]), ("' OR 1=1 --", [])] {
            let escaped = query.replacingOccurrences(of: "\"", with: "\\\"")
            let answer = try await call("wizard.searchDossiers", #"{"query":"\#(escaped)"}"#)
            let ids = (answer.at("result", "items") as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(ids == expected, "query \(query)")
        }
    }

    @Test func selectionNeedsIdsOrAQueryAndKnownIds() async throws {
        try await loadCatalog()
        let neither = try await call("wizard.selectDossiers", #"{"selected":true}"#)
        #expect(neither.errorCode == -32602)
        #expect(neither.string("error", "data", "field") == "ids")
        let unknown = try await call("wizard.selectDossiers", #"{"ids":["d-boul","nope"],"selected":true}"#)
        #expect(unknown.errorCode == 1301)
        #expect(unknown.at("error", "data", "ids") as? [String] == ["nope"])
        #expect(try await call("wizard.selectedDossiers").int("result", "total") == 0)
        #expect(try await call("wizard.searchDossiers", #"{"pageSize":501}"#).string("error", "data", "field") == "pageSize")
    }

    @Test func everyInvalidRuleIsRefusedWithItsFieldAndDetail() async throws {
        _ = try await call("rules.add", #"{"depositPath":"Ventes/{millesime}","documentType":"facture_vente"}"#)
        let cases: [(String, String, String)] = [
            (#"{"depositPath":"","documentType":"autre"}"#, "depositPath", "empty_path"),
            (#"{"depositPath":"/Ventes","documentType":"autre"}"#, "depositPath", "absolute_path"),
            (#"{"depositPath":"Ventes/../x","documentType":"autre"}"#, "depositPath", "dot_segment"),
            (#"{"depositPath":"Ventes/{jour}","documentType":"autre"}"#, "depositPath", "unknown_variable"),
            (#"{"depositPath":"Ventes","documentType":"autre","archivePath":"/Archive"}"#, "archivePath", "absolute_path"),
            (#"{"depositPath":"Ventes","documentType":"autre","archivePath":"ventes/"}"#, "archivePath", "same_as_deposit_path"),
            (#"{"depositPath":"VENTES/{millésime}","documentType":"facture_vente"}"#, "depositPath", "duplicate_rule"),
        ]
        for (params, field, detail) in cases {
            let answer = try await call("rules.add", params)
            #expect(answer.errorCode == 1201, "\(params)")
            #expect(answer.errorReason == "invalid_rule")
            #expect(answer.string("error", "data", "field") == field, "\(params)")
            #expect(answer.string("error", "data", "detail") == detail, "\(params)")
        }
        // A subfolder of the deposit path is a fine archive; the same path for another type is a fine rule.
        #expect(try await call("rules.add", #"{"depositPath":"Ventes","documentType":"autre","archivePath":"Ventes/Envoyés"}"#)["result"] != nil)
        #expect(try await call("rules.add", #"{"depositPath":"Ventes/{millésime}","documentType":"administratif"}"#)["result"] != nil)
        let badType = try await call("rules.add", #"{"depositPath":"X","documentType":"facture"}"#)
        #expect(badType.errorCode == -32602)
        #expect(badType.string("error", "data", "field") == "documentType")
        #expect(try await call("rules.list").at("result", "rules").map { ($0 as? [Any])?.count } == 3)
    }

    @Test func rulesUpdateAndDelete() async throws {
        let added = try await call("rules.add", #"{"depositPath":"Notes","documentType":"note_de_frais","archivePath":"Notes/Faites","period":"any"}"#)
        let id = try #require(added.string("result", "id"))
        let updated = try await call("rules.update", #"{"id":"\#(id)","archivePath":null,"depositPath":"Notes/{mois}"}"#)
        #expect(updated.string("result", "depositPath") == "Notes/{mois}")
        #expect(updated.at("result", "archivePath") == nil || updated.at("result", "archivePath") is NSNull)
        #expect(updated.string("result", "period") == "any")
        #expect(updated.string("result", "documentType") == "note_de_frais")
        #expect(try await call("rules.update", #"{"id":"rule_nope","period":"any"}"#).errorCode == 1202)
        #expect(try await call("rules.delete", #"{"id":"\#(id)"}"#).bool("result", "deleted") == true)
        #expect(try await call("rules.delete", #"{"id":"\#(id)"}"#).errorReason == "unknown_rule")
    }

    @Test func completionOffersTheCurrentYearAndMonthAsVariables() async throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Paris")!
        let now = calendar.dateComponents([.year, .month], from: Date())
        let year = String(format: "%04d", now.year!)
        let month = String(format: "%02d", now.month!)
        let paths = ["Comptabilité/\(year)/Achats/\(month)", "Comptabilité/\(year)/Ventes", "Comptabilité/2019/Achats", "Juridique/Statuts"]
        let params = String(decoding: try JSONSerialization.data(withJSONObject: ["paths": paths]), as: UTF8.self)
        _ = try await call("catalog.upsertFolders", params)
        let suggestions = try #require(try await call("rules.completePath", #"{"prefix":"comptabilite/"}"#).at("result", "suggestions") as? [String])
        #expect(suggestions.contains("Comptabilité/{millésime}/Achats/{mois}"))
        #expect(suggestions.contains("Comptabilité/\(year)/Achats/\(month)"))
        #expect(suggestions.contains("Comptabilité/2019/Achats"))
        #expect(!suggestions.contains("Juridique/Statuts"))
        let templated = try #require(try await call("rules.completePath", #"{"prefix":"Comptabilité/{millésime}/V","limit":5}"#).at("result", "suggestions") as? [String])
        #expect(templated == ["Comptabilité/{millésime}/Ventes", "Comptabilité/\(year)/Ventes"])
    }

    @Test func inqomDownDuringConnectIsUnreachable() async throws {
        try await standIn.inject("token", ["status": 503])
        let answer = try await connect()
        #expect(answer.errorCode == 1102)
        #expect(answer.errorReason == "inqom_unreachable")
        #expect(answer.string("error", "data", "detail")?.contains("503") == true)
        #expect(try await call("wizard.state").bool("result", "steps", "connection", "done") == false)
    }

    /// libcurl is loaded at the first call to Inqom, not at start: when it
    /// cannot be, the engine still serves, and the call says why.
    @Test func withoutLibcurlTheEngineServesAndTheCallSaysWhy() async throws {
        let libraries = TemporaryDirectory.make(prefix: "pushdoc-no-libcurl")
        try "not a library".write(toFile: libraries + "/libcurl.so.4", atomically: true, encoding: .utf8)
        let engine = try PushdocProcess(
            ["serve", "--stdio", "--inqom-auth-url", standIn.url.absoluteString, "--inqom-api-url", standIn.url.absoluteString,
             "--inqom-client-id", InqomStandIn.clientID],
            environment: ["LD_LIBRARY_PATH": libraries])
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
        let params = try JSONSerialization.data(
            withJSONObject: ["login": InqomStandIn.login, "password": InqomStandIn.password, "clientSecret": InqomStandIn.clientSecret])
        let answer = try await engine.stdio.call("wizard.connect", String(decoding: params, as: UTF8.self))
        #expect(answer.errorReason == "inqom_unreachable")
        #expect(answer.string("error", "data", "detail")?.contains("libcurl cannot be loaded") == true)
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
    }
}
