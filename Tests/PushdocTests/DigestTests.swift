import Foundation
import TestSupport
import Testing

/// The daily digest through a real engine, with failures made by the Inqom
/// stand-in and mail received by a real SMTP server.
struct DigestTests {
    /// The digest day whose window holds "now" when the digest is at 23:59.
    static var today: String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Paris")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: Date())
        let date = parts.hour == 23 && parts.minute == 59 ? calendar.date(byAdding: .day, value: 1, to: Date())! : Date()
        let day = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", day.year!, day.month!, day.day!)
    }

    static var frenchToday: String { today.split(separator: "-").reversed().joined(separator: "/") }

    /// Two failures: a refused invoice with an awkward name in d1, a
    /// document of the unmapped d2; and four collaborators.
    private func prepare(_ harness: PushHarness) async throws {
        try await harness.standIn.inject("upload", ["status": 422, "body": ["error": "pdf illisible"]])
        _ = try await harness.submit("d1", "Achats/a<b>&é.pdf", content: "refused")
        _ = try await harness.submit("d2", "Achats/sans-dossier.pdf", content: "unmapped")
        _ = try await harness.drain()
        _ = try await harness.expectResult("catalog.upsertDossiers", #"{"dossiers":[{"id":"d4","name":"Calme","attributes":{}}]}"#)
        _ = try await harness.expectResult(
            "collaborators.upsert",
            #"{"collaborators":[{"id":"alice","name":"Alice Lefèvre","email":"alice@cabinet.fr","dailyDigest":true},{"id":"bob","name":"Bob","email":"bob@cabinet.fr","dailyDigest":true,"dossierIds":["d2"]},{"id":"carol","name":"Carol","email":"carol@cabinet.fr","dailyDigest":false},{"id":"dave","name":"Dave","email":"dave@cabinet.fr","dailyDigest":true,"dossierIds":["d4"]}]}"#)
    }

    @Test func previewsListTheFailuresInFrenchAndEscapeUserData() async throws {
        let harness = try await PushHarness(extra: ["--digest-at", "23:59"])
        try await prepare(harness)
        let alice = try await harness.call("digest.preview", #"{"collaboratorId":"alice","date":"\#(Self.today)"}"#)
        #expect(alice.string("result", "to") == "alice@cabinet.fr")
        #expect(alice.string("result", "subject") == "Pushdoc Inqom : 2 documents non transmis le \(Self.frenchToday)")
        let failures = try #require(alice.at("result", "failures") as? [[String: Any]])
        #expect(Set(failures.compactMap { $0["reason"] as? String }) == ["inqom_rejected", "dossier_not_mapped"])
        let text = try #require(alice.string("result", "text"))
        #expect(text.hasPrefix("Bonjour Alice Lefèvre,"))
        #expect(text.contains("Inqom a refusé le document (code 422)"))
        #expect(text.contains("n'est associé à aucun dossier comptable Inqom"))
        #expect(text.contains("Que faire ?"))
        let html = try #require(alice.string("result", "html"))
        #expect(html.contains("a&lt;b&gt;&amp;é.pdf"))
        #expect(!html.contains("<b>"))
        // Bob sees only his dossier; an unknown collaborator is 1303.
        let bob = try await harness.call("digest.preview", #"{"collaboratorId":"bob","date":"\#(Self.today)"}"#)
        #expect((bob.at("result", "failures") as? [[String: Any]])?.compactMap { $0["dossierId"] as? String } == ["d2"])
        #expect(bob.string("result", "subject") == "Pushdoc Inqom : 1 document non transmis le \(Self.frenchToday)")
        #expect(try await harness.call("digest.preview", #"{"collaboratorId":"zoe"}"#).errorCode == 1303)
        #expect(try await harness.call("digest.preview", #"{"collaboratorId":"alice","date":"28/11/2026"}"#).string("error", "data", "field") == "date")
        // Without an SMTP server, previews only.
        let refused = try await harness.call("digest.send")
        #expect(refused.errorCode == 1501)
        #expect(refused.errorReason == "smtp_not_configured")
    }

    @Test func eachOptedInCollaboratorGetsOneMailADay() async throws {
        let sink = try await SMTPSink()
        let harness = try await PushHarness(extra: ["--digest-at", "23:59", "--smtp-url", sink.url, "--smtp-from", "pushdoc@cabinet.fr"])
        try await prepare(harness)
        let outcome = try await harness.call("digest.send", #"{"date":"\#(Self.today)"}"#)
        #expect(outcome.int("result", "sent") == 2)
        #expect(outcome.int("result", "skipped") == 2)  // carol opted out, dave has no failure
        let messages = try await sink.waitForMessages(2)
        let alice = try #require(messages.first { $0.string("to")?.contains("alice@cabinet.fr") == true })
        #expect(alice.string("to") == "Alice Lefèvre <alice@cabinet.fr>")
        #expect(alice.string("subject") == "Pushdoc Inqom : 2 documents non transmis le \(Self.frenchToday)")
        #expect(alice.string("mailFrom") == "pushdoc@cabinet.fr")
        #expect(alice.string("contentType") == "multipart/alternative")
        #expect(alice.string("date")?.isEmpty == false)
        #expect(alice.string("messageId")?.hasSuffix("@cabinet.fr>") == true)
        let parts = try #require(alice.at("parts") as? [[String: Any]])
        #expect(parts.compactMap { $0["type"] as? String } == ["text/plain", "text/html"])
        #expect((parts[0]["content"] as? String)?.contains("Achats/a<b>&é.pdf") == true)
        #expect((parts[1]["content"] as? String)?.contains("a&lt;b&gt;&amp;é.pdf") == true)
        #expect((parts[0]["content"] as? String)?.contains("sans-dossier.pdf") == true)
        let bob = try #require(messages.first { $0.string("to")?.contains("bob@cabinet.fr") == true })
        #expect((bob.at("parts", 0, "content") as? String)?.contains(#"a<b>"#) == false)
        // Once a day: again is skipped, force sends again.
        let again = try await harness.call("digest.send", #"{"date":"\#(Self.today)"}"#)
        #expect(again.int("result", "sent") == 0)
        #expect(try await harness.call("digest.send", #"{"date":"\#(Self.today)","collaboratorId":"alice","force":true}"#).int("result", "sent") == 1)
        _ = try await sink.waitForMessages(3)
        let sentEvents = try await harness.events().filter { $0["type"] as? String == "digest.sent" }
        #expect(sentEvents.count == 3)
        #expect((sentEvents.first?["data"] as? [String: Any])?["date"] as? String == Self.today)
    }

    @Test func smtpAuthUsesTheEnvironmentsCredentialsAndNeverLogsThem() async throws {
        let password = "Sm7p-canary-Pa55"
        let sink = try await SMTPSink(auth: "digest@cabinet.fr:" + password)
        var harness = try await PushHarness(extra: ["--digest-at", "23:59"])
        try await prepare(harness)
        // The same data directory, restarted with an SMTP server that wants AUTH.
        harness.engine.stdio.closeWrite()
        _ = try await harness.engine.waitForExit()
        let arguments = PushHarness.serveArguments(harness.standIn)
            + ["--digest-at", "23:59", "--smtp-url", sink.url, "--smtp-allow-plain-auth", "--log-level", "trace"]
        harness.engine = try PushdocProcess(
            arguments, dataDir: harness.engine.dataDir,
            environment: ["PUSHDOC_SMTP_USER": "digest@cabinet.fr", "PUSHDOC_SMTP_PASSWORD": "wrong"])
        #expect(try await harness.call("digest.send", #"{"date":"\#(Self.today)","collaboratorId":"alice"}"#).errorCode == 1502)
        harness.engine.stdio.closeWrite()
        _ = try await harness.engine.waitForExit()
        harness.engine = try PushdocProcess(
            arguments, dataDir: harness.engine.dataDir,
            environment: ["PUSHDOC_SMTP_USER": "digest@cabinet.fr", "PUSHDOC_SMTP_PASSWORD": password])
        #expect(try await harness.call("digest.send", #"{"date":"\#(Self.today)","collaboratorId":"alice"}"#).int("result", "sent") == 1)
        _ = try await sink.waitForMessages(1)
        harness.engine.stdio.closeWrite()
        _ = try await harness.engine.waitForExit()
        try await harness.engine.stderr.waitForEnd()
        #expect(!harness.engine.stderr.pending.isEmpty)
        #expect(!harness.engine.stderr.pending.joined().contains(password))
    }

    @Test func aDateIsExactlyYYYYMMDDAndADayThatExists() async throws {
        let harness = try await PushHarness()
        _ = try await harness.expectResult(
            "collaborators.upsert", #"{"collaborators":[{"id":"a","name":"A","email":"a@x.fr","dailyDigest":true}]}"#)
        for date in ["x-2026-1-1", "+2026-12-5", "2026-1-01", "2026-02-30", "2026-13-01", "2026-12-5 ", "-2026-12-05", "2026/12/05"] {
            let answer = try await harness.call("digest.preview", #"{"collaboratorId":"a","date":"\#(date)"}"#)
            #expect(answer.errorCode == -32602 && answer.string("error", "data", "field") == "date", "\(date): \(answer)")
        }
        #expect(try await harness.call("digest.preview", #"{"collaboratorId":"a","date":"2028-02-29"}"#)["result"] != nil)
    }

    /// With credentials, TLS is required: a server that offers no STARTTLS
    /// never receives AUTH; one that does, with a certificate from
    /// `--smtp-ca-file`, receives it over TLS.
    @Test func smtpCredentialsNeverTravelInClear() async throws {
        let password = "Sm7p-clear-canary"
        let credentials = ["PUSHDOC_SMTP_USER": "digest@cabinet.fr", "PUSHDOC_SMTP_PASSWORD": password]
        let certificate = try Self.selfSignedCertificate()
        let plain = try await SMTPSink(auth: "digest@cabinet.fr:" + password)
        let secure = try await SMTPSink(auth: "digest@cabinet.fr:" + password, startTLS: certificate)
        var harness = try await PushHarness(extra: ["--digest-at", "23:59"])
        try await prepare(harness)
        let send = #"{"date":"\#(Self.today)","collaboratorId":"alice"}"#
        for (sink, extra) in [(plain, [String]()), (secure, ["--smtp-ca-file", certificate.certificate])] {
            try await harness.restart(
                PushHarness.serveArguments(harness.standIn) + ["--digest-at", "23:59", "--smtp-url", sink.url] + extra,
                environment: credentials)
            let answer = try await harness.call("digest.send", send)
            if sink === plain {
                #expect(answer.errorReason == "smtp_failed", "\(answer)")
                #expect(plain.authentications().isEmpty)
            } else {
                #expect(answer.int("result", "sent") == 1, "\(answer)")
                #expect(secure.authentications() == ["tls"])
            }
        }
    }

    /// A certificate and key for 127.0.0.1, made with openssl for one test.
    static func selfSignedCertificate() throws -> (certificate: String, key: String) {
        let directory = TemporaryDirectory.make(prefix: "smtp-tls")
        let files = (certificate: directory + "/cert.pem", key: directory + "/key.pem")
        let openssl = try ChildProcess.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", files.key, "-out", files.certificate,
        ])
        guard openssl.status == 0 else { throw PeerError(description: "openssl could not make a certificate") }
        return files
    }

    @Test func collaboratorsAreListedAndRemoved() async throws {
        let harness = try await PushHarness()
        _ = try await harness.expectResult("collaborators.upsert", #"{"collaborators":[{"id":"b","name":"Bé","email":"b@x.fr","dailyDigest":false,"dossierIds":["d1"]},{"id":"a","name":"A","email":"a@x.fr","dailyDigest":true}]}"#)
        let listed = try #require(try await harness.call("collaborators.list").at("result", "collaborators") as? [[String: Any]])
        #expect(listed.compactMap { $0["id"] as? String } == ["a", "b"])
        #expect(listed.last?["dossierIds"] as? [String] == ["d1"])
        #expect(listed.first?["dossierIds"] == nil)
        let injected = try await harness.call("collaborators.upsert", #"{"collaborators":[{"id":"c","name":"C\r\nBcc: x@y.z","email":"c@x.fr","dailyDigest":true}]}"#)
        #expect(injected.string("error", "data", "field") == "collaborators.0.name")
        let badEmail = try await harness.call("collaborators.upsert", #"{"collaborators":[{"id":"c","name":"C","email":"c@x.fr>, d@y.z","dailyDigest":true}]}"#)
        #expect(badEmail.string("error", "data", "field") == "collaborators.0.email")
        #expect(try await harness.call("collaborators.remove", #"{"ids":["a","zz"]}"#).int("result", "removed") == 1)
    }

    @Test func anSMTPServerThatDoesNotAnswerIsSmtpFailed() async throws {
        let harness = try await PushHarness(extra: ["--digest-at", "23:59", "--smtp-url", "smtp://127.0.0.1:9"])
        try await prepare(harness)
        let answer = try await harness.call("digest.send", #"{"date":"\#(Self.today)","collaboratorId":"alice"}"#)
        #expect(answer.errorCode == 1502)
        #expect(answer.errorReason == "smtp_failed")
        #expect(try await harness.call("ping").string("result") == "pong")
    }
}
