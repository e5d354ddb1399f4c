import Foundation
import Glibc
import TestSupport
import Testing

/// The push pipeline through a real engine process and the Inqom stand-in.
struct PushTests {
    @Test func everyDocumentTypeReachesItsEndpoint() async throws {
        let harness = try await PushHarness()
        let (year, month) = Self.parisYearAndMonth(Date())
        let submissions = [
            ("Achats/f1.pdf", "facture_achat"), ("Ventes/f2.pdf", "facture_vente"), ("Notes/ticket.jpg", "note_de_frais"),
            ("Admin/\(year)/\(month)/kbis.pdf", "administratif"), ("Divers/autre.png", "autre"),
        ]
        var ids: [String] = []
        for (path, _) in submissions {
            let answer = try await harness.submit("d1", path, content: "%PDF \(path)")
            #expect(answer.string("result", "state") == "queued", "\(path): \(answer)")
            ids.append(try #require(answer.string("result", "documentId")))
        }
        let drained = try await harness.drain()
        #expect(drained.int("result", "documents", "transmitted") == 5)
        let uploads = try await harness.standIn.uploads()
        let byName = Dictionary(uniqueKeysWithValues: uploads.map { ($0["fileName"] as! String, $0) })
        #expect((byName["f1.pdf"]?["fields"] as? [String: String])?["TypeScan"] == "Supplier")
        #expect((byName["f2.pdf"]?["fields"] as? [String: String])?["TypeScan"] == "Client")
        #expect((byName["kbis.pdf"]?["fields"] as? [String: String])?["TypeScan"] == "Others")
        #expect((byName["autre.png"]?["fields"] as? [String: String])?["TypeScan"] == "Others")
        #expect(byName["ticket.jpg"]?["kind"] as? String == "expense")
        #expect((byName["ticket.jpg"]?["fields"] as? [String: String])?["DocumentReference"] == ids[2])
        #expect((byName["f1.pdf"]?["fields"] as? [String: String])?["SourceId"] == ids[0])
        // Transmitted: Inqom's id kept, archive path expanded, history told, spool emptied.
        let first = try await harness.document(ids[0])
        #expect(first.string("result", "state") == "transmitted")
        #expect(first.int("result", "inqomDocumentId") == byName["f1.pdf"]?["id"] as? Int)
        #expect(first.string("result", "archivePath") == "Achats/Envoyés/\(year)/f1.pdf")
        let history = (first.at("result", "history") as? [[String: Any]] ?? []).compactMap { $0["event"] as? String }
        #expect(history == ["queued", "transmitted"])
        let transmitted = try await harness.events().filter { $0["type"] as? String == "document.transmitted" }
        #expect(transmitted.count == 5)
        let f1 = transmitted.compactMap { $0["data"] as? [String: Any] }.first { $0["documentId"] as? String == ids[0] }
        #expect(f1?["archivePath"] as? String == "Achats/Envoyés/\(year)/f1.pdf")
        // The spool keeps no document's file (no row names one), only free
        // ones for the next documents: up to five, fewer when a document was
        // sent before the next one came and was written over its file.
        let spoolState = """
            import os, sqlite3, sys
            database = sqlite3.connect('file:' + sys.argv[1] + '/pushdoc.sqlite?mode=ro', uri=True)
            named = database.execute('SELECT count(*) FROM documents WHERE spool_name IS NOT NULL').fetchone()[0]
            files = os.listdir(sys.argv[1] + '/spool')
            if named != 0 or not 1 <= len(files) <= 5:
                sys.exit('rows naming a spool file: %d; spool: %s' % (named, sorted(files)))
            """
        #expect(try await runPython(spoolState, [harness.engine.dataDir]) == 0)
    }

    @Test func intakeSaysWhyItIgnoresAndIsIdempotent() async throws {
        let harness = try await PushHarness()
        #expect(try await harness.submit("d3", "Achats/a.pdf", content: "A").string("result", "reason") == "dossier_not_selected")
        #expect(try await harness.submit("d1", "Ailleurs/a.pdf", content: "A").string("result", "reason") == "no_matching_rule")
        #expect(try await harness.submit("d1", "Achats/Sous-dossier/a.pdf", content: "A").string("result", "reason") == "no_matching_rule")
        let first = try await harness.submit("d1", "Achats/a.pdf", content: "same bytes", extra: #","documentId":"mcf-42""#)
        #expect(first.string("result", "documentId") == "mcf-42")
        let again = try await harness.submit("d1", "Achats/a.pdf", content: "same bytes", extra: #","documentId":"mcf-42""#)
        #expect(again.string("result", "documentId") == "mcf-42")
        #expect(["queued", "sending", "transmitted"].contains(again.string("result", "state") ?? ""))
        _ = try await harness.drain()
        // The same bytes under another id: a duplicate, unless forced.
        let duplicate = try await harness.submit("d1", "Achats/copie.pdf", content: "same bytes")
        #expect(duplicate.string("result", "state") == "duplicate")
        let forced = try await harness.submit("d1", "Achats/copie2.pdf", content: "same bytes", extra: #","force":true"#)
        #expect(forced.string("result", "state") == "queued")
        _ = try await harness.drain()
        #expect(try await harness.standIn.uploads().count == 2)
        let summary = try await harness.call("status.summary")
        #expect(summary.int("result", "documents", "ignored") == 3)
        #expect(summary.int("result", "documents", "duplicate") == 1)
        #expect(summary.int("result", "documents", "transmitted") == 2)
    }

    @Test func beforeFinishingNothingIsQueued() async throws {
        let harness = try await PushHarness(finish: false)
        #expect(try await harness.submit("d1", "Achats/a.pdf", content: "A").string("result", "reason") == "connector_not_active")
    }

    @Test func badSubmissionsAreRefusedAndNothingIsQueued() async throws {
        let harness = try await PushHarness(extra: ["--max-file-bytes", "1K"])
        let content = "exact content"
        let wrongSize = try await harness.submit("d1", "Achats/s.pdf", content: content, extra: #","size":3"#)
        #expect(wrongSize.errorCode == 1403)
        let wrongHash = try await harness.submit("d1", "Achats/s.pdf", content: content, extra: #","sha256":"\#(String(repeating: "0", count: 64))""#)
        #expect(wrongHash.errorCode == 1403)
        #expect(try await harness.submit("d1", "Achats/big.pdf", content: String(repeating: "x", count: 2000)).errorCode == 1402)
        #expect(try await harness.submit("nope", "Achats/x.pdf", content: "x").errorCode == 1301)
        #expect(try await harness.call("push.submit", #"{"dossierId":"d1","path":"Achats/x.pdf","contentBase64":"@@@"}"#).errorCode == 1401)
        #expect(try await harness.call("push.submit", #"{"dossierId":"d1","path":"Achats/x.pdf","file":"/no/such/file"}"#).errorCode == 1401)
        let neither = try await harness.call("push.submit", #"{"dossierId":"d1","path":"Achats/x.pdf"}"#)
        #expect(neither.errorCode == -32602)
        #expect(neither.string("error", "data", "field") == "file")
        let base64 = try await harness.call("push.submit", #"{"dossierId":"d1","path":"Achats/b.pdf","contentBase64":"\#(Data("base64 bytes".utf8).base64EncodedString())","sha256":"\#(try Self.sha256("base64 bytes"))"}"#)
        #expect(base64.string("result", "state") == "queued")
        _ = try await harness.drain()
        #expect(try await harness.call("status.summary").int("result", "documents", "transmitted") == 1)
        #expect(try await harness.standIn.uploads().count == 1)
    }

    /// A NUL once cut stored text short: two documents "ID\0one" and
    /// "ID\0two" were both read back as "ID", and a collaborator's email
    /// lost its tail on its way to RCPT TO.
    @Test func controlCharactersInAnyTextParamAreRefusedByField() async throws {
        let harness = try await PushHarness()
        for (method, params, field) in [
            ("push.submit", #"{"dossierId":"d1","path":"Achats/a.pdf","contentBase64":"eA==","documentId":"ID\u0000one"}"#, "documentId"),
            ("collaborators.upsert", #"{"collaborators":[{"id":"c","name":"C","email":"victim@corp.fr\u0000.evil","dailyDigest":true}]}"#, "collaborators.0.email"),
            ("catalog.upsertDossiers", #"{"dossiers":[{"id":"d9","name":"N","attributes":{"SIRET\n":"1"}}]}"#, "dossiers.0.attributes.SIRET\n"),
            ("wizard.searchDossiers", #"{"query":"a\u0001"}"#, "query"),
        ] {
            let answer = try await harness.call(method, params)
            #expect(answer.errorCode == -32602 && answer.string("error", "data", "field") == field, "\(method): \(answer)")
        }
        #expect((try await harness.call("status.documents", #"{"limit":10}"#).at("result", "items") as? [Any])?.isEmpty == true)
    }

    /// What a client may store is bounded: 100 attributes a dossier, 1,000
    /// bytes a name, attribute or path segment, 1–256 bytes a document id;
    /// folders are paths inside the dossier, as rules are.
    @Test func whatAClientStoresIsBounded() async throws {
        let harness = try await PushHarness()
        let long = String(repeating: "é", count: 501)
        let hundred = (0..<100).map { #""a\#($0)":"v""# }.joined(separator: ",")
        let refusals: [(String, String, String)] = [
            ("catalog.upsertDossiers", #"{"dossiers":[{"id":"d9","name":"N","attributes":{\#(hundred),"extra":"v"}}]}"#, "dossiers.0.attributes"),
            ("catalog.upsertDossiers", #"{"dossiers":[{"id":"d9","name":"\#(long)","attributes":{}}]}"#, "dossiers.0.name"),
            ("catalog.upsertDossiers", #"{"dossiers":[{"id":"d9","name":"N","attributes":{"SIRET":"\#(long)"}}]}"#, "dossiers.0.attributes.SIRET"),
            ("catalog.upsertFolders", #"{"paths":["Achats","../x"]}"#, "paths.1"),
            ("catalog.upsertFolders", #"{"paths":["/abs/y"]}"#, "paths.0"),
            ("catalog.upsertFolders", #"{"paths":["Achats/\#(long)"]}"#, "paths.0"),
            ("push.submit", #"{"dossierId":"d1","path":"Achats/a.pdf","contentBase64":"eA==","documentId":""}"#, "documentId"),
            ("push.submit", #"{"dossierId":"d1","path":"Achats/a.pdf","contentBase64":"eA==","documentId":"\#(String(repeating: "x", count: 257))"}"#, "documentId"),
            ("push.submit", #"{"dossierId":"d1","path":"Achats/\#(long).pdf","contentBase64":"eA=="}"#, "path"),
        ]
        for (method, params, field) in refusals {
            let answer = try await harness.call(method, params)
            #expect(answer.errorCode == -32602 && answer.string("error", "data", "field") == field, "\(method) \(field): \(answer)")
        }
        let atTheBounds = String(repeating: "é", count: 500)
        _ = try await harness.expectResult(
            "catalog.upsertDossiers", #"{"dossiers":[{"id":"d9","name":"\#(atTheBounds)","attributes":{\#(hundred)}}]}"#)
        _ = try await harness.expectResult("catalog.upsertFolders", #"{"paths":["Achats/\#(atTheBounds)"]}"#)
        #expect((try await harness.call("status.documents", #"{"limit":10}"#).at("result", "items") as? [Any])?.isEmpty == true)
    }

    /// What a new integrator met: empty content and files, negative sizes and
    /// fractional numbers are refused naming the field; 1402 says its limit
    /// as a number; a wrong document type lists the right ones.
    @Test func refusalsNameWhatIsWrong() async throws {
        let harness = try await PushHarness(extra: ["--max-file-bytes", "1K"])
        let emptyFile = harness.files + "/empty.pdf"
        _ = FileManager.default.createFile(atPath: emptyFile, contents: Data())
        for params in [
            #"{"dossierId":"d1","path":"Achats/e.pdf","contentBase64":""}"#,
            #"{"dossierId":"d1","path":"Achats/e.pdf","file":"\#(emptyFile)"}"#,
        ] {
            let answer = try await harness.call("push.submit", params)
            #expect(answer.errorCode == 1401 && answer.string("error", "data", "detail") == "the file is empty", "\(answer)")
        }
        for (method, params, field, says) in [
            ("push.submit", #"{"dossierId":"d1","path":"Achats/s.pdf","contentBase64":"eA==","size":-1}"#, "size", "must be 0 or more"),
            ("events.list", #"{"limit":2.5}"#, "limit", "expected an integer"),
            ("push.drain", #"{"timeoutMs":1.5}"#, "timeoutMs", "expected an integer"),
            ("wizard.searchDossiers", #"{"page":99999999999999999999}"#, "page", "expected an integer"),
            ("rules.add", #"{"depositPath":"X","documentType":"facture"}"#, "documentType",
             "must be one of administratif, facture_vente, facture_achat, note_de_frais, autre"),
        ] {
            let answer = try await harness.call(method, params)
            #expect(answer.errorCode == -32602 && answer.string("error", "data", "field") == field, "\(method): \(answer)")
            #expect(answer.string("error", "message")?.contains(says) == true, "\(method): \(answer)")
        }
        let tooLarge = try await harness.submit("d1", "Achats/big.pdf", content: String(repeating: "x", count: 2000))
        #expect(tooLarge.int("error", "data", "limit") == 1024 && tooLarge.string("error", "data", "limit") == nil, "\(tooLarge)")
        #expect((try await harness.call("status.documents", #"{"limit":10}"#).at("result", "items") as? [Any])?.isEmpty == true)
    }

    /// A drain waiting when `shutdown` arrives is answered (timed out, with
    /// the counts) and does not hold the exit for the grace.
    @Test func aWaitingDrainIsAnsweredAtShutdown() async throws {
        let harness = try await PushHarness(extra: ["--shutdown-grace", "60"])
        _ = try await harness.expectResult("connector.pause")
        #expect(try await harness.submit("d1", "Achats/wait.pdf", content: "waits").string("result", "state") == "queued")
        harness.engine.stdio.send(#"{"jsonrpc":"2.0","id":77,"method":"push.drain","params":{"timeoutMs":3600000}}"#)
        #expect(try await harness.call("status.summary")["result"] != nil)
        let stopping = ContinuousClock.now
        harness.engine.stdio.send(#"{"jsonrpc":"2.0","id":78,"method":"shutdown"}"#)
        let drained = try await harness.engine.stdio.response(id: 77)
        #expect(drained.bool("result", "timedOut") == true && drained.int("result", "documents", "queued") == 1, "\(drained)")
        #expect(try await harness.engine.waitForExit(timeout: .seconds(20)) == 0)
        #expect(ContinuousClock.now - stopping < .seconds(20))
    }

    /// An ignored answer keeps nothing: the same file submitted once the
    /// wizard is finished, or once a rule covers it, is evaluated afresh
    /// (dry run included) and sent.
    @Test func anIgnoredDocumentIsEvaluatedAfreshWhenSubmittedAgain() async throws {
        let harness = try await PushHarness(finish: false)
        let early = try await harness.call("push.submit", #"{"dossierId":"d1","path":"Achats/early.pdf","contentBase64":"ZWFybHk=","documentId":"mcf-early"}"#)
        #expect(early.string("result", "reason") == "connector_not_active")
        _ = try await harness.expectResult("wizard.finish")
        let uncovered = try await harness.call("push.submit", #"{"dossierId":"d1","path":"Nouveau/late.pdf","contentBase64":"bGF0ZQ=="}"#)
        #expect(uncovered.string("result", "reason") == "no_matching_rule")
        _ = try await harness.expectResult("rules.add", #"{"depositPath":"Nouveau","documentType":"autre","period":"any"}"#)
        let dryRun = try await harness.call("push.submit", #"{"dossierId":"d1","path":"Nouveau/late.pdf","contentBase64":"bGF0ZQ==","dryRun":true}"#)
        #expect(dryRun.string("result", "state") == "queued", "\(dryRun)")
        for params in [
            #"{"dossierId":"d1","path":"Achats/early.pdf","contentBase64":"ZWFybHk=","documentId":"mcf-early"}"#,
            #"{"dossierId":"d1","path":"Nouveau/late.pdf","contentBase64":"bGF0ZQ=="}"#,
        ] {
            #expect(try await harness.call("push.submit", params).string("result", "state") == "queued")
        }
        #expect(try await harness.drain().int("result", "documents", "transmitted") == 2)
        #expect(try await harness.call("status.summary").int("result", "documents", "ignored") == 0)
        #expect(try await harness.standIn.uploads().count == 2)
    }

    /// A documentId already used for another dossier, path or content is a
    /// conflict, said with what differs; nothing is queued.
    @Test func aDocumentIdReusedForAnotherDocumentIsAConflict() async throws {
        let harness = try await PushHarness()
        let first = try await harness.call("push.submit", #"{"dossierId":"d1","path":"Achats/a.pdf","contentBase64":"b25l","documentId":"inv-1"}"#)
        #expect(first.string("result", "state") == "queued")
        for (params, differs) in [
            (#"{"dossierId":"d1","path":"Achats/a.pdf","contentBase64":"dHdv","documentId":"inv-1"}"#, ["content"]),
            (#"{"dossierId":"d2","path":"Ventes/b.pdf","contentBase64":"b25l","documentId":"inv-1"}"#, ["dossierId", "path"]),
        ] {
            let answer = try await harness.call("push.submit", params)
            #expect(answer.errorCode == 1305 && answer.errorReason == "document_conflict", "\(answer)")
            #expect(answer.at("error", "data", "differs") as? [String] == differs)
        }
        let again = try await harness.call("push.submit", #"{"dossierId":"d1","path":"Achats/a.pdf","contentBase64":"b25l","documentId":"inv-1"}"#)
        #expect(again.string("result", "documentId") == "inv-1" && again.errorCode == nil)
        #expect(try await harness.drain().int("result", "documents", "transmitted") == 1)
        #expect(try await harness.standIn.uploads().count == 1)
    }

    /// Every state change is in the event log: a failed document sent back by
    /// push.retry is queued again there, and disconnecting or resetting the
    /// connector says its new state.
    @Test func everyStateChangeIsAnEvent() async throws {
        let harness = try await PushHarness()
        try await harness.standIn.inject("upload", ["status": 422, "body": ["error": "illisible"]])
        _ = try await harness.submit("d1", "Achats/refused.pdf", content: "refused once")
        _ = try await harness.drain()
        #expect(try await harness.call("push.retry", #"{"all":true}"#).int("result", "requeued") == 1)
        _ = try await harness.drain()
        _ = try await harness.expectResult("wizard.disconnect")
        _ = try await harness.expectResult("connector.reset", #"{"confirm":true}"#)
        let events = try await harness.events()
        let documents = events.compactMap { $0["type"] as? String }.filter { $0.hasPrefix("document.") }
        #expect(documents == ["document.queued", "document.failed", "document.queued", "document.transmitted"], "\(documents)")
        let causes = events.filter { $0["type"] as? String == "document.queued" }.compactMap { ($0["data"] as? [String: Any])?["cause"] as? String }
        #expect(causes == ["submitted", "retry"], "\(causes)")
        let states = events.filter { $0["type"] as? String == "connector.state" }.compactMap { ($0["data"] as? [String: Any])?["state"] as? String }
        #expect(states.suffix(2) == ["disconnected", "unconfigured"], "\(states)")
    }

    /// Two MCF dossiers with one SIRET both map to its Inqom folder, and the
    /// answer says so.
    @Test func dossiersSharingASiretAreShown() async throws {
        let harness = try await PushHarness()
        _ = try await harness.expectResult(
            "catalog.upsertDossiers", #"{"dossiers":[{"id":"d5","name":"Boulangerie Martin (ancien)","attributes":{"SIRET":"732 829 320 00074"}}]}"#)
        _ = try await harness.expectResult("wizard.selectDossiers", #"{"ids":["d5"],"selected":true}"#)
        let mapping = try await harness.expectResult("wizard.mapDossiers", #"{"siretAttribute":"SIRET"}"#)
        let shared = try #require(mapping.at("result", "sharedSirets") as? [[String: Any]])
        #expect(shared.count == 1)
        #expect(shared.first?["siret"] as? String == "73282932000074")
        #expect(shared.first?["dossierIds"] as? [String] == ["d1", "d5"])
    }

    @Test func filesRootIsEnforcedThroughDotsLinksAndNULs() async throws {
        let root = TemporaryDirectory.make(prefix: "pushdoc-root")
        let harness = try await PushHarness(extra: ["--files-root", root])
        let outside = harness.files + "/secret.pdf"
        try Data("outside".utf8).write(to: URL(fileURLWithPath: outside))
        try Data("inside".utf8).write(to: URL(fileURLWithPath: root + "/ok.pdf"))
        symlink(outside, root + "/link.pdf")
        symlink(harness.files, root + "/linked-dir")
        symlink("/dev/zero", root + "/zero.pdf")
        mkfifo(root + "/fifo.pdf", 0o600)
        mkdir(root + "/folder.pdf", 0o700)
        let sibling = root + "-evil"
        mkdir(sibling, 0o700)
        try Data("sibling".utf8).write(to: URL(fileURLWithPath: sibling + "/x.pdf"))
        let escapes = [
            outside, root + "/link.pdf", root + "/linked-dir/secret.pdf",
            root + "/../" + URL(fileURLWithPath: harness.files).lastPathComponent + "/secret.pdf",
            root + "/./../" + URL(fileURLWithPath: harness.files).lastPathComponent + "/secret.pdf",
            sibling + "/x.pdf", root + "/zero.pdf", root + "/fifo.pdf", root + "/folder.pdf",
        ]
        for file in escapes {
            let answer = try await harness.call("push.submit", #"{"dossierId":"d1","path":"Achats/x.pdf","file":"\#(file)"}"#)
            #expect(answer.errorCode == 1401, "\(file): \(answer)")
        }
        for file in [root + "/ok.pdf\\u0000/../../secret.pdf", "ok.pdf"] {
            let answer = try await harness.call("push.submit", #"{"dossierId":"d1","path":"Achats/x.pdf","file":"\#(file)"}"#)
            #expect(answer.errorCode == -32602 && answer.string("error", "data", "field") == "file", "\(file): \(answer)")
        }
        for path in ["Achats/..", "Achats/../../etc/x.pdf", "./Achats/x.pdf", "Achats/x\\u0000.pdf", "Achats/x\\n.pdf"] {
            let answer = try await harness.call("push.submit", #"{"dossierId":"d1","path":"\#(path)","contentBase64":"eA=="}"#)
            #expect(answer.errorCode == -32602 && answer.string("error", "data", "field") == "path", "\(path): \(answer)")
        }
        #expect(try await harness.call("status.summary").int("result", "documents", "queued") == 0)
        #expect(try await harness.call("push.submit", #"{"dossierId":"d1","path":"Achats/ok.pdf","file":"\#(root)/ok.pdf"}"#).string("result", "state") == "queued")
    }

    @Test func transientFaultsAreRetriedThenSucceed() async throws {
        let harness = try await PushHarness()
        try await harness.standIn.inject("upload", count: 2, ["status": 503])
        let id = try #require(try await harness.submit("d1", "Achats/t.pdf", content: "transient").string("result", "documentId"))
        _ = try await harness.drain()
        let document = try await harness.document(id)
        #expect(document.string("result", "state") == "transmitted")
        #expect(document.int("result", "attempts") == 3)
        let retries = try await harness.events().filter { $0["type"] as? String == "document.retry_scheduled" }
        #expect(retries.count == 2)
        #expect((retries.last?["data"] as? [String: Any])?["attempt"] as? Int == 2)
    }

    @Test func retryAfterIsHonouredWhenLongerThanTheSchedule() async throws {
        let harness = try await PushHarness()
        try await harness.standIn.inject("upload", ["status": 429, "retryAfter": 2])
        let id = try #require(try await harness.submit("d1", "Achats/later.pdf", content: "retry after").string("result", "documentId"))
        let scheduled = try await harness.engine.stdio.call("events.subscribe", #"{"after":0}"#)
        #expect(scheduled["result"] != nil)
        let retry = try await harness.engine.stdio.take { $0.string("params", "type") == "document.retry_scheduled" }
        let submittedAt = try #require(try await harness.document(id).string("result", "submittedAt"))
        let next = try #require(retry.string("params", "data", "nextAttemptAt"))
        let gap = try Date(next, strategy: .iso8601).timeIntervalSince(try Date(submittedAt, strategy: .iso8601))
        #expect(gap >= 1.9, "next attempt \(gap) s after submission, Retry-After said 2 s")
        _ = try await harness.drain()
        #expect(try await harness.document(id).string("result", "state") == "transmitted")
    }

    @Test func aSubscriptionMissesNothingWhileEventsAreWritten() async throws {
        let harness = try await PushHarness()
        _ = try await harness.expectResult("connector.pause")
        for index in 0..<30 { _ = try await harness.submit("d1", "Achats/w-\(index).pdf", content: "written \(index)") }
        _ = try await harness.expectResult("connector.resume")
        // Subscribed from the start while the 30 documents are being sent.
        _ = try await harness.call("events.subscribe", #"{"after":0}"#)
        var seqs: [Int] = []
        var transmitted = 0
        while transmitted < 30 {
            let event = try await harness.engine.stdio.take { $0.string("method") == "event" }
            seqs.append(try #require(event.int("params", "seq")))
            if event.string("params", "type") == "document.transmitted" { transmitted += 1 }
        }
        #expect(seqs == Array(1...seqs.count))
    }

    /// Inqom's refusals by status are in `FaultClassTests`; here, the two
    /// failures that have reasons of their own.
    @Test func permanentRefusalsFailAtOnceWithTheirReason() async throws {
        let harness = try await PushHarness()
        // A dossier without an Inqom folder.
        let unmapped = try #require(try await harness.submit("d2", "Achats/u.pdf", content: "unmapped").string("result", "documentId"))
        _ = try await harness.drain()
        #expect(try await harness.document(unmapped).string("result", "lastError", "reason") == "dossier_not_mapped")
        // Inqom's 404 on the folder.
        try await harness.standIn.inject("upload", ["status": 404])
        let gone = try #require(try await harness.submit("d1", "Achats/g.pdf", content: "gone").string("result", "documentId"))
        _ = try await harness.drain()
        #expect(try await harness.document(gone).string("result", "lastError", "reason") == "inqom_folder_not_found")
    }

    @Test func aDocumentWhoseSpoolFileIsLostFailsAsFileMissing() async throws {
        let harness = try await PushHarness()
        _ = try await harness.expectResult("connector.pause")
        let id = try #require(try await harness.submit("d1", "Achats/lost.pdf", content: "lost bytes").string("result", "documentId"))
        // What must never happen: the document's bytes vanish from the spool.
        let spool = harness.engine.dataDir + "/spool"
        let spooled = (FileManager.default.subpaths(atPath: spool) ?? []).filter { !$0.hasPrefix(".") }
        #expect(spooled.count == 1)
        for name in spooled { try FileManager.default.removeItem(atPath: spool + "/" + name) }
        _ = try await harness.expectResult("connector.resume")
        _ = try await harness.drain()
        let document = try await harness.document(id)
        #expect(document.string("result", "state") == "failed")
        #expect(document.string("result", "lastError", "reason") == "file_missing")
        let failed = try await harness.events().filter { $0["type"] as? String == "document.failed" }
        #expect(failed.compactMap { ($0["data"] as? [String: Any])?["reason"] as? String } == ["file_missing"])
        #expect(try await harness.standIn.uploads().isEmpty)
    }

    @Test func savingAMappingRequeuesWhatFailedForWantOfIt() async throws {
        let harness = try await PushHarness()
        let id = try #require(try await harness.submit("d2", "Achats/wait.pdf", content: "unmapped first").string("result", "documentId"))
        _ = try await harness.drain()
        #expect(try await harness.document(id).string("result", "lastError", "reason") == "dossier_not_mapped")
        // Inqom learns the dossier's SIRET, MCF gives it the attribute, the mapping is saved again.
        try await harness.standIn.control("folders", ["folders": [
            ["Id": 11287, "Name": "BOULANGERIE MARTIN", "Siren": "732829320", "Nic": "00074"],
            ["Id": 11300, "Name": "CAFE", "Siren": "552100554", "Nic": "00013"],
        ]])
        _ = try await harness.expectResult("catalog.upsertDossiers", #"{"dossiers":[{"id":"d2","name":"Café Sans Siret","attributes":{"SIRET":"55210055400013"}}]}"#)
        _ = try await harness.expectResult("wizard.mapDossiers", #"{"siretAttribute":"SIRET"}"#)
        _ = try await harness.drain()
        let document = try await harness.document(id)
        #expect(document.string("result", "state") == "transmitted")
        let queued = try await harness.events().filter { $0["type"] as? String == "document.queued" }
        #expect(queued.compactMap { ($0["data"] as? [String: Any])?["cause"] as? String } == ["submitted", "mapping"])
        #expect(try await harness.standIn.uploads().first?["folderId"] as? Int == 11300)
    }

    @Test func exhaustedAttemptsFailThenRetryGivesAFreshBudget() async throws {
        let harness = try await PushHarness()
        try await harness.standIn.inject("upload", count: 3, ["status": 502])
        let id = try #require(try await harness.submit("d1", "Achats/x.pdf", content: "exhausted").string("result", "documentId"))
        _ = try await harness.drain()
        let failed = try await harness.document(id)
        #expect(failed.string("result", "state") == "failed")
        #expect(failed.string("result", "lastError", "reason") == "inqom_unavailable")
        #expect(failed.int("result", "attempts") == 3)
        #expect(try await harness.call("push.retry", #"{"all":true}"#).int("result", "requeued") == 1)
        _ = try await harness.drain()
        #expect(try await harness.document(id).string("result", "state") == "transmitted")
    }

    @Test func anExpiredTokenDuringABurstIsRenewedOnce() async throws {
        let harness = try await PushHarness()
        let before = try await harness.standIn.stats()["token"] ?? 0
        try await harness.standIn.control("expire-tokens", [:])
        for index in 0..<12 { _ = try await harness.submit("d1", "Achats/burst-\(index).pdf", content: "burst \(index)") }
        let drained = try await harness.drain()
        #expect(drained.int("result", "documents", "transmitted") == 12)
        #expect((try await harness.standIn.stats()["token"] ?? 0) - before == 1)
    }

    /// A token about to lapse is renewed before an upload rather than after
    /// Inqom refuses it: a sender's turn on its transfer thread ends when
    /// its token enters the renewal margin (here every token does at once),
    /// even with the next document already claimed.
    @Test func aTokenNearItsExpiryIsRenewedBeforeTheNextUpload() async throws {
        let harness = try await PushHarness(extra: ["--workers", "1"], tokenLifetime: 20)
        _ = try await harness.expectResult("connector.pause")
        for index in 0..<6 { _ = try await harness.submit("d1", "Achats/lapsing-\(index).pdf", content: "lapsing \(index)") }
        let before = try await harness.standIn.stats()
        _ = try await harness.expectResult("connector.resume")
        #expect(try await harness.drain().int("result", "documents", "transmitted") == 6)
        let after = try await harness.standIn.stats()
        #expect((after["token"] ?? 0) - (before["token"] ?? 0) == 6)
        #expect((after["upload"] ?? 0) - (before["upload"] ?? 0) == 6)
    }

    @Test func aRevokedPasswordDisconnectsWithoutSpendingAttemptsUntilReconnected() async throws {
        let harness = try await PushHarness()
        try await harness.standIn.control("password", ["username": InqomStandIn.login, "password": "changed"])
        try await harness.standIn.control("expire-tokens", [:])
        let id = try #require(try await harness.submit("d1", "Achats/wait.pdf", content: "waits").string("result", "documentId"))
        let stateEvent = try await harness.engine.stdio.call("events.subscribe", #"{"after":0}"#)
        #expect(stateEvent["result"] != nil)
        _ = try await harness.engine.stdio.take { line in
            line.string("method") == "event" && line.string("params", "data", "state") == "disconnected"
        }
        #expect(try await harness.call("wizard.state").string("result", "state") == "disconnected")
        let waiting = try await harness.document(id)
        #expect(waiting.int("result", "attempts") == 0)
        #expect(waiting.string("result", "state") == "queued")
        _ = try await harness.expectResult("wizard.connect", #"{"login":"\#(InqomStandIn.login)","password":"changed","clientSecret":"\#(InqomStandIn.clientSecret)"}"#)
        _ = try await harness.drain()
        #expect(try await harness.document(id).string("result", "state") == "transmitted")
    }

    @Test func aLongDrainNeverDelaysPingAndCanBeCancelled() async throws {
        let harness = try await PushHarness()
        _ = try await harness.expectResult("connector.pause")
        _ = try await harness.submit("d1", "Achats/held.pdf", content: "held")
        harness.engine.stdio.send(#"{"jsonrpc":"2.0","id":"long","method":"push.drain","params":{"timeoutMs":600000}}"#)
        let pinged = ContinuousClock.now
        #expect(try await harness.call("ping").string("result") == "pong")
        #expect(ContinuousClock.now - pinged < .seconds(2))
        harness.engine.stdio.send(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"long"}}"#)
        let cancelled = try await harness.engine.stdio.take { $0.string("id") == "long" }
        #expect(cancelled.errorCode == -32800)
        #expect(cancelled.errorReason == "cancelled")
    }

    @Test func whilePausedDocumentsWait() async throws {
        let harness = try await PushHarness()
        _ = try await harness.expectResult("connector.pause")
        let id = try #require(try await harness.submit("d1", "Achats/p.pdf", content: "paused").string("result", "documentId"))
        let waited = try await harness.drain(timeoutMs: 500)
        #expect(waited.bool("result", "timedOut") == true)
        #expect(try await harness.standIn.uploads().isEmpty)
        _ = try await harness.expectResult("connector.resume")
        _ = try await harness.drain()
        #expect(try await harness.document(id).string("result", "state") == "transmitted")
    }

    @Test func killedWhileSendingNothingIsLostAndDuplicatesStayBounded() async throws {
        var harness = try await PushHarness(extra: ["--workers", "4"])
        try await harness.standIn.inject("upload", count: 10_000, ["delay": 0.02])
        _ = try await harness.expectResult("connector.pause")
        var ids: [String] = []
        for index in 0..<300 {
            ids.append(try #require(try await harness.submit("d1", "Achats/k-\(index).pdf", content: "kill \(index)").string("result", "documentId")))
        }
        _ = try await harness.expectResult("connector.resume")
        var kills = 0
        while kills < 5 {
            try await Task.sleep(for: .milliseconds(250))
            harness.engine.signal(SIGKILL)
            _ = try await harness.engine.waitForExit()
            kills += 1
            harness.engine = try PushdocProcess(
                PushHarness.serveArguments(harness.standIn) + PushHarness.engineOptions + ["--workers", "4"],
                dataDir: harness.engine.dataDir)
        }
        let drained = try await harness.drain(timeoutMs: 60_000)
        #expect(drained.int("result", "documents", "transmitted") == 300)
        let uploads = try await harness.standIn.uploads()
        let received = Set(uploads.compactMap { ($0["fields"] as? [String: String])?["SourceId"] })
        #expect(received == Set(ids))
        // At most the uploads in flight at each kill are sent twice.
        #expect(uploads.count <= 300 + kills * 4, "\(uploads.count) uploads for 300 documents and \(kills) kills")
        let events = try await harness.events().compactMap { $0["seq"] as? Int }
        #expect(events == Array(1...events.count), "the event log has a gap")
    }

    @Test func anOpenCircuitSpendsNoAttempts() async throws {
        // Three attempts each, and Inqom down until the circuit is seen open
        // and more uploads failed than the four documents' twelve attempts,
        // however long that takes on a loaded machine: without the circuit
        // every document would fail; with it, probes spend nothing.
        let harness = try await PushHarness()
        _ = try await harness.standIn.control("random-faults", ["seed": 1, "rate": 1.0, "statuses": [503], "kinds": ["upload"]])
        // All four start together: Inqom's outage meets them at once.
        _ = try await harness.expectResult("connector.pause")
        for index in 0..<4 { _ = try await harness.submit("d1", "Achats/c-\(index).pdf", content: "circuit \(index)") }
        _ = try await harness.expectResult("connector.resume")
        let deadline = ContinuousClock.now + .seconds(60)
        var sawOpen = false
        while !sawOpen, ContinuousClock.now < deadline {
            sawOpen = try await harness.call("status.summary").string("result", "inqom", "circuit") == "open"
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(sawOpen)
        var refused = 0
        while refused <= 12, ContinuousClock.now < deadline {
            refused = try await harness.standIn.stats()["upload"] ?? 0
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(refused > 12)
        _ = try await harness.standIn.control("random-faults", ["seed": 1, "rate": 0.0, "statuses": [503], "kinds": ["upload"]])
        let drained = try await harness.drain()
        #expect(drained.int("result", "documents", "transmitted") == 4)
        let failed = try await harness.call("status.documents", #"{"state":"failed"}"#)
        #expect(drained.int("result", "documents", "failed") == 0, "\(failed) after \(refused) refused uploads")
        #expect(drained.string("result", "inqom", "circuit") == "closed")
    }

    @Test func shutdownLetsUploadsUnderWayFinishWithinTheGrace() async throws {
        var harness = try await PushHarness()
        try await harness.standIn.inject("upload", ["hold": true])
        let id = try #require(try await harness.submit("d1", "Achats/slow.pdf", content: "slow").string("result", "documentId"))
        try await harness.standIn.waitUntilHeld(1)
        #expect(try await harness.call("shutdown")["result"] != nil)
        // Inqom answers while the engine is stopping: within the grace, the outcome is kept.
        try await harness.standIn.release()
        #expect(try await harness.engine.waitForExit() == 0)
        harness.engine = try PushdocProcess(PushHarness.serveArguments(harness.standIn), dataDir: harness.engine.dataDir)
        #expect(try await harness.document(id).string("result", "state") == "transmitted")
        #expect(try await harness.standIn.uploads().count == 1)
    }

    @Test func aShortGraceLeavesTheUploadForTheNextStart() async throws {
        var harness = try await PushHarness(extra: ["--shutdown-grace", "0.2"])
        try await harness.standIn.inject("upload", ["hold": true])
        let id = try #require(try await harness.submit("d1", "Achats/later.pdf", content: "later").string("result", "documentId"))
        try await harness.standIn.waitUntilHeld(1)
        harness.engine.signal(SIGTERM)
        // Inqom never answers: the upload was cancelled at the grace's end, not waited for.
        #expect(try await harness.engine.waitForExit() == 0)
        #expect(try await harness.standIn.uploads().isEmpty)
        try await harness.standIn.release()
        harness.engine = try PushdocProcess(PushHarness.serveArguments(harness.standIn), dataDir: harness.engine.dataDir)
        _ = try await harness.drain()
        #expect(try await harness.document(id).string("result", "state") == "transmitted")
    }

    @Test func aFullDiskRefusesToAcknowledgeAndRecoversByItself() async throws {
        let mountPoint = TemporaryDirectory.make(prefix: "pushdoc-tmpfs")
        try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mountPoint])
        defer { try? Self.run("/bin/umount", ["-l", mountPoint]) }
        let engine = try PushdocProcess(["serve", "--stdio"], dataDir: mountPoint + "/data")
        _ = try await engine.stdio.call("catalog.upsertDossiers", #"{"dossiers":[{"id":"d1","name":"Plein","attributes":{}}]}"#)
        let document = TemporaryDirectory.make(prefix: "pushdoc-big") + "/big.pdf"
        try Data(repeating: 0x41, count: 512 * 1024).write(to: URL(fileURLWithPath: document))
        let submit = #"{"dossierId":"d1","path":"Achats/big.pdf","file":"\#(document)"}"#
        // Fill the disk, leaving less than the document needs.
        let filler = mountPoint + "/filler"
        try? Self.run("/bin/dd", ["if=/dev/zero", "of=" + filler, "bs=64k", "count=100"])
        let refused = try await engine.stdio.call("push.submit", submit)
        #expect(refused.errorCode == 1601, "\(refused)")
        #expect(refused.errorReason == "storage_unavailable")
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
        #expect(try await engine.stdio.call("status.summary").int("result", "documents", "ignored") == 0)
        // Space is back: the engine stores again, with no restart.
        unlink(filler)
        let accepted = try await engine.stdio.call("push.submit", submit)
        #expect(accepted.string("result", "state") == "ignored", "\(accepted)")
        #expect(try await engine.stdio.call("status.summary").int("result", "documents", "ignored") == 1)
        engine.stdio.closeWrite()
        #expect(try await engine.waitForExit() == 0)
    }

    static func run(_ executable: String, _ arguments: [String]) throws {
        let status = try ChildProcess(executable, arguments).waitUntilExit()
        guard status == 0 else { throw PeerError(description: "\(executable) \(arguments) exited \(status)") }
    }

    @Test func eventsReplayFromAnySeqInOrderWithoutGaps() async throws {
        let harness = try await PushHarness()
        for index in 0..<5 { _ = try await harness.submit("d1", "Achats/e-\(index).pdf", content: "event \(index)") }
        _ = try await harness.drain()
        let all = try await harness.events()
        let seqs = all.compactMap { $0["seq"] as? Int }
        #expect(seqs == Array(1...seqs.count))
        let middle = seqs[seqs.count / 2]
        let subscribed = try await harness.call("events.subscribe", #"{"after":\#(middle)}"#)
        #expect(subscribed.int("result", "lastSeq") == seqs.last)
        var replayed: [Int] = []
        while replayed.last != seqs.last {
            replayed.append(try #require(try await harness.engine.stdio.take { $0.string("method") == "event" }.int("params", "seq")))
        }
        #expect(replayed == Array((middle + 1)...seqs.last!))
        // Live events follow, in order.
        _ = try await harness.submit("d1", "Achats/live.pdf", content: "live")
        let live = try await harness.engine.stdio.take { $0.string("method") == "event" }
        #expect(live.int("params", "seq") == seqs.last! + 1)
        #expect(live.string("params", "type") == "document.queued")
        _ = try await harness.expectResult("events.unsubscribe")
    }

    @Test func documentsArePagedWithACursorAndFiltered() async throws {
        let harness = try await PushHarness()
        for index in 0..<7 { _ = try await harness.submit("d1", "Achats/p-\(index).pdf", content: "page \(index)") }
        _ = try await harness.submit("d3", "Achats/ignored.pdf", content: "ignored")
        _ = try await harness.drain()
        var cursor: String?
        var seen: [String] = []
        repeat {
            let page = try await harness.call("status.documents", #"{"dossierId":"d1","limit":3\#(cursor.map { #","cursor":"\#($0)""# } ?? "")}"#)
            seen += (page.at("result", "items") as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
            cursor = page.string("result", "nextCursor")
        } while cursor != nil
        #expect(seen == (0..<7).map { "Achats/p-\($0).pdf" })
        let ignored = try await harness.call("status.documents", #"{"state":"ignored"}"#)
        #expect((ignored.at("result", "items") as? [Any])?.count == 1)
        #expect(try await harness.call("status.document", #"{"documentId":"nope"}"#).errorCode == 1302)
    }

    @Test func drainReportsProgress() async throws {
        let harness = try await PushHarness()
        // Paused until the drain has reported: the six cannot be gone before it starts.
        _ = try await harness.expectResult("connector.pause")
        for index in 0..<6 { _ = try await harness.submit("d1", "Achats/d-\(index).pdf", content: "drain \(index)") }
        harness.engine.stdio.send(#"{"jsonrpc":"2.0","id":"drain","method":"push.drain","params":{"progressToken":"tok"}}"#)
        let progress = try await harness.engine.stdio.take { $0.string("method") == "$/progress" }
        _ = try await harness.expectResult("connector.resume")
        #expect(progress.string("params", "token") == "tok")
        #expect(progress.int("params", "value", "total") == 6)
        let done = try await harness.engine.stdio.take { $0.string("id") == "drain" }
        #expect(done.int("result", "documents", "transmitted") == 6)
    }

    @Test(arguments: [
        // New Year's Eve 23:30 UTC is already January in Paris.
        ("2026-12-31T23:30:00Z", "Admin/2027/01/x.pdf", "queued"),
        ("2026-12-31T23:30:00Z", "Admin/2026/12/x.pdf", "ignored"),
        // 31 March 22:30 UTC, after the change to summer time, is 1 April 00:30 in Paris.
        ("2026-03-31T22:30:00Z", "Admin/2026/04/x.pdf", "queued"),
        // 31 October 22:30 UTC, after the change back, is 31 October 23:30 in Paris.
        ("2026-10-31T22:30:00Z", "Admin/2026/10/x.pdf", "queued"),
        ("2026-10-31T23:30:00Z", "Admin/2026/11/x.pdf", "queued"),
    ])
    func depositTimeIsReadInTheEngineTimeZone(depositedAt: String, path: String, state: String) async throws {
        let harness = try await PushHarness()
        let answer = try await harness.submit("d1", path, content: "tz", extra: #","depositedAt":"\#(depositedAt)","dryRun":true"#)
        #expect(answer.string("result", "state") == state)
        if state == "queued" {
            #expect(answer.int("result", "inqomFolderId") == 11287)
            #expect(answer.string("result", "typeScan") == "Others")
            #expect(answer.string("result", "endpoint") == "Documents")
        }
        // A dry run stores nothing.
        #expect(try await harness.call("status.summary").int("result", "documents", "queued") == 0)
    }

    static func parisYearAndMonth(_ date: Date) -> (String, String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Paris")!
        let parts = calendar.dateComponents([.year, .month], from: date)
        return (String(format: "%04d", parts.year!), String(format: "%02d", parts.month!))
    }

    static func sha256(_ text: String) throws -> String {
        let path = TemporaryDirectory.make(prefix: "sha") + "/f"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return try sha256sum(path)
    }
}
