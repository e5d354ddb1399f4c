import Foundation
import Glibc
import Postgres
import TestSupport
import Testing

/// Engines sharing one PostgreSQL database behave as one: real engine
/// processes over pipes, a real PostgreSQL server, the Inqom stand-in.
struct ClusterTests {
    /// The deployment's master key, the same for every engine.
    static let masterKey = Data((0..<32).map { UInt8($0) }).base64EncodedString()

    /// One database and one Inqom for the engines of a test.
    struct Deployment {
        let standIn: InqomStandIn
        let uri: String

        init(uri: String? = nil) async throws {
            standIn = try await InqomStandIn()
            self.uri = if let uri { uri } else { try await SharedPostgres.newDatabase() }
        }

        func engine(_ node: String, _ extra: [String] = [], key: String = ClusterTests.masterKey) throws -> PushdocProcess {
            try PushdocProcess(
                PushHarness.serveArguments(standIn) + PushHarness.engineOptions + ["--store", uri, "--node-id", node] + extra,
                environment: ["PUSHDOC_MASTER_KEY": key])
        }

        /// The wizard's four steps through `engine`: dossier d1 mapped, a rule for Achats.
        func configure(through engine: PushdocProcess) async throws {
            for (method, params) in StandInWizard.steps(dossierName: "Boulangerie Martin") {
                let answer = try await engine.stdio.call(method, params)
                #expect(answer["result"] != nil, "\(method): \(answer)")
            }
        }

        /// What Inqom received, as the number of uploads of each content.
        func uploadsByContent() async throws -> [String: Int] {
            try await standIn.uploads().reduce(into: [:]) { counts, upload in counts[upload["sha256"] as? String ?? "", default: 0] += 1 }
        }
    }

    static func submit(_ engine: PushdocProcess, _ name: String) async throws -> String {
        let content = Data("invoice \(name)".utf8).base64EncodedString()
        let answer = try await engine.stdio.call(
            "push.submit", #"{"dossierId":"d1","path":"Achats/\#(name).pdf","contentBase64":"\#(content)"}"#)
        return try #require(answer.string("result", "documentId"), "\(answer)")
    }

    static func sha256(_ name: String) throws -> String { try PushTests.sha256("invoice \(name)") }

    @Test func documentsSubmittedThroughEitherEngineAreSentOnceAndEveryEngineTellsOfThemInOneOrder() async throws {
        let deployment = try await Deployment()
        let first = try deployment.engine("engine-a")
        // Started before the wizard: the credentials another engine stores are the ones it sends with.
        let second = try deployment.engine("engine-b")
        try await deployment.configure(through: first)
        _ = try await second.stdio.call("events.subscribe")
        let names = (0..<40).map { "doc-\($0)" }
        var ids: [String] = []
        for (index, name) in names.enumerated() { ids.append(try await Self.submit(index % 2 == 0 ? first : second, name)) }
        // The second engine's subscriber hears of every document, whichever engine sent it.
        var transmitted: [(seq: Int, id: String)] = []
        while transmitted.count < ids.count {
            let event = try await second.stdio.take(timeout: .seconds(30)) {
                $0.string("method") == "event" && $0.string("params", "type") == "document.transmitted"
            }
            transmitted.append((try #require(event.int("params", "seq")), try #require(event.string("params", "data", "documentId"))))
        }
        #expect(Set(transmitted.map(\.id)) == Set(ids))
        #expect(transmitted.map(\.seq) == transmitted.map(\.seq).sorted(), "one seq order, each event once")
        let uploads = try await deployment.uploadsByContent()
        let twice = try await deployment.standIn.uploads().filter { upload in uploads[upload["sha256"] as? String ?? ""] ?? 0 > 1 }
        #expect(try names.allSatisfy { uploads[try Self.sha256($0)] == 1 }, "each document uploaded once: \(twice)")
        let summary = try await first.stdio.call("status.summary")
        #expect(summary.int("result", "documents", "transmitted") == ids.count)
        #expect(try await deployment.standIn.tokens().count == 1, "the token wizard.connect got serves both engines")
        // A spool only stages what its engine accepts: no engine keeps a file per document the other sent.
        for engine in [first, second] {
            let files = try FileManager.default.contentsOfDirectory(atPath: engine.dataDir + "/spool")
            #expect(files.count <= 2, "\(files.count) spool files for \(ids.count / 2) documents accepted")
        }

        // Inqom refuses that token: the engines renew it once between them.
        try await deployment.standIn.control("expire-tokens", [:])
        for (index, name) in (0..<10).map({ "after-\($0)" }).enumerated() { _ = try await Self.submit(index % 2 == 0 ? first : second, name) }
        #expect(try await first.stdio.call("push.drain").int("result", "documents", "transmitted") == ids.count + 10)
        #expect(try await deployment.standIn.tokens().count == 2, "one renewal for the deployment")
    }

    @Test func aKilledEnginesDocumentsAreSentByAnotherOnceItsLeasesRunOut() async throws {
        let deployment = try await Deployment()
        let lease = 5
        let dying = try deployment.engine("engine-a", ["--workers", "4", "--lease-seconds", "\(lease)"])
        try await deployment.configure(through: dying)
        try await deployment.standIn.inject("upload", count: 4, ["hold": true])
        let names = (0..<12).map { "doc-\($0)" }
        for name in names { _ = try await Self.submit(dying, name) }
        try await deployment.standIn.waitUntilHeld(4)
        dying.signal(SIGKILL)
        _ = try await dying.waitForExit()
        let killedAt = ContinuousClock.now
        try await deployment.standIn.release()

        let survivor = try deployment.engine("engine-b", ["--lease-seconds", "\(lease)"])
        let drained = try await survivor.stdio.call("push.drain", #"{"timeoutMs":\#((lease + 10) * 1000)}"#, timeout: .seconds(60))
        let elapsed = ContinuousClock.now - killedAt
        #expect(drained.int("result", "documents", "transmitted") == names.count, "\(drained)")
        #expect(elapsed < .seconds(lease + 5), "sent \(elapsed) after the kill")
        let uploads = try await deployment.uploadsByContent()
        #expect(try names.allSatisfy { (uploads[try Self.sha256($0)] ?? 0) >= 1 }, "every document reached Inqom: \(uploads)")
        let again = uploads.values.reduce(0) { $0 + $1 - 1 }
        #expect(again <= 4, "sent twice at most what the dead engine had in flight: \(uploads)")
        let summary = try await survivor.stdio.call("status.summary")
        #expect(summary.int("result", "documents", "transmitted") == names.count)
    }

    @Test func anEngineGivenAnotherMasterKeyRefusesToStart() async throws {
        let deployment = try await Deployment()
        let first = try deployment.engine("engine-a")
        try await deployment.configure(through: first)
        let other = Data((0..<32).map { UInt8(255 - $0) }).base64EncodedString()
        let refused = try deployment.engine("engine-b", key: other)
        #expect(try await refused.waitForExit() == 1)
        try await refused.stderr.waitForEnd()
        let complaint = refused.stderr.pending.filter { $0.hasPrefix("pushdoc:") }
        #expect(complaint.count == 1)
        #expect(complaint.first?.contains("master key") == true, "\(complaint)")
        #expect(!refused.stderr.pending.joined().contains(deployment.uri), "the URI holds the password")
    }

    /// Two engines under one `--node-id` would take each other's leases for
    /// their own: the second refuses to start. Started again at once after
    /// a kill, an engine waits for the server to end its predecessor's
    /// session, and serves.
    @Test func aSecondEngineUnderARunningEnginesNodeIDRefusesToStart() async throws {
        let deployment = try await Deployment()
        let first = try deployment.engine("engine-a")
        try await deployment.configure(through: first)
        let twin = try deployment.engine("engine-a")
        #expect(try await twin.waitForExit() == 1)
        try await twin.stderr.waitForEnd()
        let complaint = twin.stderr.pending.filter { $0.hasPrefix("pushdoc:") }
        #expect(complaint.count == 1 && complaint.first?.contains("--node-id") == true, "\(complaint)")
        #expect(try await first.stdio.call("ping")["result"] != nil, "the running engine goes on")

        first.signal(SIGKILL)
        _ = try await first.waitForExit()
        let restarted = try deployment.engine("engine-a")
        #expect(try await restarted.stdio.call("ping", timeout: .seconds(30))["result"] != nil, "\(restarted.stderr.pending)")
    }

    /// The database stopped and started again under a running engine: calls
    /// that need it answer 1601 without the password, `ping` and
    /// `status.engine` still answer, and once it is back the engine
    /// reconnects by itself and nothing it acknowledged is lost.
    @Test func theDatabaseRestartedUnderAnEngineLosesNothing() async throws {
        let server = try await PostgresServer.start()
        let deployment = try await Deployment(uri: server.uri)
        let engine = try deployment.engine("engine-a")
        try await deployment.configure(through: engine)
        let before = (0..<5).map { "before-\($0)" }
        for name in before { _ = try await Self.submit(engine, name) }
        #expect(try await engine.stdio.call("push.drain").int("result", "documents", "transmitted") == before.count)

        try await onThread { try server.halt() }
        #expect(try await engine.stdio.call("ping")["result"] != nil)
        let status = try await engine.stdio.call("status.engine")
        #expect(status.string("result", "store", "kind") == "postgres")
        #expect(status.bool("result", "store", "reachable") == false)
        let refused = try await engine.stdio.call(
            "push.submit", #"{"dossierId":"d1","path":"Achats/while-down.pdf","contentBase64":"\#(Data("x".utf8).base64EncodedString())"}"#)
        #expect(refused.int("error", "code") == 1601, "\(refused)")
        for answer in [status, refused] { #expect(!answer.text.contains(server.password), "no password in \(answer.text)") }

        try await onThread { try server.restart() }
        let back = ContinuousClock.now
        // Reconnection is the engine's own: the next calls succeed within its 5 s backoff.
        var accepted: String?
        while accepted == nil, ContinuousClock.now - back < .seconds(10) {
            let answer = try await engine.stdio.call(
                "push.submit", #"{"dossierId":"d1","path":"Achats/after.pdf","contentBase64":"\#(Data("invoice after".utf8).base64EncodedString())"}"#)
            accepted = answer.string("result", "documentId")
        }
        #expect(accepted != nil)
        #expect(ContinuousClock.now - back < .seconds(6), "reconnected \(ContinuousClock.now - back) after the restart")
        let drained = try await engine.stdio.call("push.drain")
        #expect(drained.int("result", "documents", "transmitted") == before.count + 1)
        #expect(!engine.stderr.pending.joined().contains(server.password), "no password in the log")
    }

    /// Uploads under way when the database goes away finish; what Inqom
    /// answered is kept and recorded once the database is back, and no
    /// document goes to Inqom twice.
    @Test func outcomesOfUploadsUnderWayDuringAnOutageAreRecordedOnceTheDatabaseIsBack() async throws {
        let server = try await PostgresServer.start()
        let deployment = try await Deployment(uri: server.uri)
        let engine = try deployment.engine("engine-a", ["--workers", "2"])
        try await deployment.configure(through: engine)
        try await deployment.standIn.inject("upload", count: 2, ["hold": true])
        let names = ["held-0", "held-1"]
        for name in names { _ = try await Self.submit(engine, name) }
        try await deployment.standIn.waitUntilHeld(2)
        try await onThread { try server.halt() }
        try await deployment.standIn.release()
        for _ in names { try await engine.waitForLog("outcome kept until the store can write") }

        try await onThread { try server.restart() }
        let drained = try await Self.drainOnceReachable(engine)
        #expect(drained.int("result", "documents", "transmitted") == names.count, "\(drained)")
        let uploads = try await deployment.uploadsByContent()
        #expect(try names.allSatisfy { uploads[try Self.sha256($0)] == 1 }, "each uploaded once: \(uploads)")
    }

    /// The daily digest goes once for the deployment: two engines due at the
    /// same moment, each with the SMTP server, one mail.
    @Test func theDailyDigestGoesOnceForTheDeployment() async throws {
        let deployment = try await Deployment()
        // A zone where now is far from midnight: the digest time a few minutes ago is today's.
        let hour = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).hour ?? 0
        let zone = TimeZone(identifier: (6..<18).contains(hour) ? "UTC" : "Etc/GMT-12")!
        func localTime(_ date: Date) -> String {
            let parts = Calendar(identifier: .gregorian).dateComponents(in: zone, from: date)
            return String(format: "%02d:%02d", parts.hour ?? 0, parts.minute ?? 0)
        }
        let zoneOption = ["--timezone", zone.identifier]
        let setup = try deployment.engine("engine-a", zoneOption + ["--digest-at", localTime(Date().addingTimeInterval(3 * 3600))])
        try await deployment.configure(through: setup)
        try await deployment.standIn.inject("upload", ["status": 422, "body": ["error": "pdf illisible"]])
        _ = try await Self.submit(setup, "refused")
        #expect(try await setup.stdio.call("push.drain").int("result", "documents", "failed") == 1)
        let collaborator = #"{"collaborators":[{"id":"alice","name":"Alice","email":"alice@cabinet.fr","dailyDigest":true}]}"#
        #expect(try await setup.stdio.call("collaborators.upsert", collaborator)["result"] != nil)
        // It failed ten minutes ago, before the digest time of the engines below.
        try await onThread { _ = try PostgresConnection(deployment.uri).execute("UPDATE documents SET failed_at = failed_at - 600") }

        let sink = try await SMTPSink()
        let due = zoneOption + ["--digest-at", localTime(Date().addingTimeInterval(-300)), "--smtp-url", sink.url, "--log-level", "debug"]
        let engines = try ["engine-b", "engine-c"].map { try deployment.engine($0, due) }
        let messages = try await sink.waitForMessages(1)
        #expect(messages.first?.string("to") == "Alice <alice@cabinet.fr>")
        // Each engine has decided: one sent the digest, the other found the day taken.
        var decisions: [String] = []
        for engine in engines {
            decisions.append(try await engine.stderr.take(timeout: .seconds(20)) {
                $0.contains("digest sent") || $0.contains("daily digest already run")
            })
        }
        #expect(decisions.filter { $0.contains("digest sent") }.count == 1, "\(decisions)")
        #expect(try sink.messages().count == 1, "one digest for the deployment")
    }

    /// `push.drain`, once the engine reaches its database again (its reconnection backs off up to 5 s).
    static func drainOnceReachable(_ engine: PushdocProcess) async throws -> JSONLine {
        let start = ContinuousClock.now
        while true {
            let answer = try await engine.stdio.call("push.drain", #"{"timeoutMs":20000}"#, timeout: .seconds(30))
            guard answer.int("error", "code") == 1601, ContinuousClock.now - start < .seconds(10) else { return answer }
        }
    }
}
