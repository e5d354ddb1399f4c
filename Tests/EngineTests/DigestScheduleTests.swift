import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// The digest's clock, moved by the test.
struct DigestScheduleTests {
    private func engine(clock: ManualClock, smtp: String?) async throws -> Engine {
        let configuration = EngineConfiguration(
            dataDirectory: TemporaryDirectory.make(prefix: "digest-engine"), timeZone: TimeZone(identifier: "Europe/Paris")!,
            inqomAuthURL: URL(string: "http://127.0.0.1:9")!, inqomAPIURL: URL(string: "http://127.0.0.1:9")!,
            inqomClientID: "test", workers: 1, maxAttempts: 3, retryDelays: [.seconds(1)], inqomMaxRequestsPerSecond: 0,
            circuitProbeInterval: .seconds(30), maxFileBytes: 1 << 20, filesRoot: nil, shutdownGrace: .seconds(1),
            smtp: smtp.map { .init(url: URL(string: $0)!, from: "pushdoc@cabinet.fr", user: nil, password: nil, requireTLS: false, caFile: nil) },
            digestAtMinutes: 7 * 60)
        return try await Engine(configuration: configuration, environment: [:], logger: Logger(label: "test"), clock: clock)
    }

    /// A document of `d1` that failed at `at`.
    private func failDocument(_ engine: Engine, id: String, at: String, of connector: ConnectorName = .default) async throws {
        let time = try Date(at, strategy: .iso8601).timeIntervalSince1970
        try await engine.database!.write { connection in
            try connection.run(
                """
                INSERT INTO documents (connector, id, dossier_id, path, file_name, size, sha256, state, reason, attempts,
                    deposited_at, submitted_at, failed_at)
                VALUES (?, ?, 'd1', ?, ?, 1, 'x', 'failed', 'inqom_unavailable', 6, ?, ?, ?)
                """, [connector.sql, .text(id), .text("Achats/\(id).pdf"), .text("\(id).pdf"), .real(time), .real(time), .real(time)])
        }
    }

    @Test func digestTimesFollowParisThroughTheChangesOfHour() throws {
        var paris = Calendar(identifier: .gregorian)
        paris.timeZone = TimeZone(identifier: "Europe/Paris")!
        let days = DigestCalendar(calendar: paris, digestAtMinutes: 7 * 60)
        #expect(days.instant(on: "2026-03-28") == (try Date("2026-03-28T06:00:00Z", strategy: .iso8601)))
        #expect(days.instant(on: "2026-03-29") == (try Date("2026-03-29T05:00:00Z", strategy: .iso8601)))
        #expect(days.instant(on: "2026-10-25") == (try Date("2026-10-25T06:00:00Z", strategy: .iso8601)))
        #expect(days.instant(on: "2026-02-30") == nil)
        let next = days.nextInstant(after: try Date("2026-03-28T06:30:00Z", strategy: .iso8601))
        #expect(next == (try Date("2026-03-29T05:00:00Z", strategy: .iso8601)))
        let window = days.window(of: "2026-03-29", now: .distantPast)
        #expect(window.start == (try Date("2026-03-28T05:00:00Z", strategy: .iso8601)))
        #expect(days.localTime(try Date("2026-03-29T05:00:00Z", strategy: .iso8601)) == "2026-03-29 07:00")
    }

    @Test func theScheduleSendsOnceADayAfterDigestTimeEvenAcrossRestarts() async throws {
        let sink = try await SMTPSink()
        let clock = ManualClock("2026-03-29T04:59:00Z")  // 06:59 in Paris, the day summer time starts
        let engine = try await engine(clock: clock, smtp: sink.url)
        _ = try await engine.defaultConnector.catalog.upsert([Dossier(id: "d1", name: "Boulangerie", attributes: [:])])
        _ = try await engine.defaultConnector.catalog.select(ids: ["d1"], query: nil, selected: true)
        _ = try await engine.defaultConnector.digest.upsertCollaborators([Collaborator(id: "alice", name: "Alice", email: "alice@cabinet.fr", dailyDigest: true, dossierIds: nil)])
        try await failDocument(engine, id: "evening", at: "2026-03-28T20:00:00Z")

        // One turn of the schedule, as at a start: it looks, sends if due,
        // and is over once it sleeps until its next time.
        func runSchedule() async {
            let task = Task { await engine.runDigestSchedule() }
            await clock.waitUntilSleeping(1)
            task.cancel()
            await task.value
        }
        // Before 07:00: nothing.
        await runSchedule()
        #expect(try sink.messages().isEmpty)
        // Just after: the digest of 29/03 goes.
        clock.set("2026-03-29T05:01:00Z")
        await runSchedule()
        let first = try await sink.waitForMessages(1)
        #expect(first.first?.string("subject") == "Pushdoc Inqom : 1 document non transmis le 29/03/2026")
        // A restart later that day sends nothing more.
        clock.set("2026-03-29T09:00:00Z")
        await runSchedule()
        #expect(try sink.messages().count == 1)
        let summary = try await engine.summary(of: engine.defaultConnector)
        #expect(summary.digest.nextRunAt.hasPrefix("2026-03-30T05:00:00"))
        // The next morning, the next day's failures.
        try await failDocument(engine, id: "noon", at: "2026-03-29T12:00:00Z")
        clock.set("2026-03-30T05:00:30Z")
        await runSchedule()
        let second = try await sink.waitForMessages(2)
        #expect(second.last?.string("subject") == "Pushdoc Inqom : 1 document non transmis le 30/03/2026")
        #expect((second.last?.at("parts", 0, "content") as? String)?.contains("noon.pdf") == true)
    }

    /// Every firm's collaborators get their digest, each listing only that firm's documents.
    @Test func theScheduleSendsEveryFirmsDigestWithItsOwnFailures() async throws {
        let sink = try await SMTPSink()
        let clock = ManualClock("2026-03-30T05:01:00Z")
        let engine = try await engine(clock: clock, smtp: sink.url)
        let firms = [(ConnectorName.default, "alice", "Boulangerie"), (ConnectorName("garage")!, "bob", "Garage")]
        for (name, collaborator, dossier) in firms {
            let firm = try await engine.connector(name)
            _ = try await firm.catalog.upsert([Dossier(id: "d1", name: dossier, attributes: [:])])
            _ = try await firm.catalog.select(ids: ["d1"], query: nil, selected: true)
            _ = try await firm.digest.upsertCollaborators([
                Collaborator(id: "c1", name: collaborator, email: "\(collaborator)@cabinet.fr", dailyDigest: true, dossierIds: nil)
            ])
            try await failDocument(engine, id: "\(collaborator)-failed", at: "2026-03-29T20:00:00Z", of: name)
        }
        let task = Task { await engine.runDigestSchedule() }
        await clock.waitUntilSleeping(1)
        task.cancel()
        await task.value
        let messages = try await sink.waitForMessages(2)
        for (_, collaborator, _) in firms {
            let mail = try #require(messages.first { $0.string("to")?.contains("\(collaborator)@cabinet.fr") == true })
            let text = try #require(mail.at("parts", 0, "content") as? String)
            #expect(text.contains("\(collaborator)-failed.pdf"))
            #expect(firms.filter { $0.1 != collaborator }.allSatisfy { !text.contains("\($0.1)-failed.pdf") })
        }
    }
}
