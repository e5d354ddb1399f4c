import Foundation
import TestSupport
import Testing

@testable import Engine
@testable import Store

struct EventLogTests {
    @Test func eventsAreKeptThirtyDaysThenPruned() async throws {
        let path = TemporaryDirectory.make(prefix: "pushdoc-events") + "/events.sqlite"
        let database = try Database(path: path, migrations: Schema.migrations)
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        try await database.write { connection in
            try connection.appendEvent(.documentQueued, at: start, ["documentId": .text("old")])
            try connection.appendEvent(.documentQueued, at: start.addingTimeInterval(20 * 86_400), ["documentId": .text("recent")])
        }
        // 30 days after the first: both still there.
        let kept = try await database.write { try $0.pruneEvents(now: start.addingTimeInterval(30 * 86_400 - 1)) }
        #expect(kept == 0)
        let pruned = try await database.write { try $0.pruneEvents(now: start.addingTimeInterval(31 * 86_400)) }
        #expect(pruned == 1)
        let left = try await database.read { try $0.events(after: 0, limit: 10) }
        #expect(left.map(\.seq) == [2])
        #expect(left.first?.data["documentId"] == .text("recent"))
    }

    @Test func dataIsStrictJSONThatReadsBackAsWritten() throws {
        let data: [String: EventValue] = [
            "path": .text("Achats/\"Café\" \\ 2026\n\t\u{01}/f.pdf"), "attempt": .number(-42), "archivePath": .null,
            "inqomDocumentId": .number(Int64.max), "emoji": .text("🧾"),
        ]
        let json = EventValue.json(data)
        #expect(json.hasPrefix(#"{"archivePath":null,"attempt":-42,"emoji":"🧾","#))
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        #expect(object?.count == 5)
        #expect(try JSONDecoder().decode([String: EventValue].self, from: Data(json.utf8)) == data)
    }
}

struct RetryScheduleTests {
    let schedule = RetrySchedule(delays: [.seconds(60), .seconds(300), .seconds(1800), .seconds(7200), .seconds(21600)], maxAttempts: 6)

    @Test func followsTheScheduleAndStopsAfterTheLastAttempt() {
        #expect(schedule.delay(afterAttempts: 1, jitter: 0, retryAfter: nil) == .seconds(60))
        #expect(schedule.delay(afterAttempts: 5, jitter: 0, retryAfter: nil) == .seconds(21600))
        #expect(schedule.delay(afterAttempts: 6, jitter: 0, retryAfter: nil) == nil)
        let long = RetrySchedule(delays: [.seconds(1), .seconds(2)], maxAttempts: 10)
        #expect(long.delay(afterAttempts: 7, jitter: 0, retryAfter: nil) == .seconds(2))  // the last entry repeats
    }

    @Test func jitterStaysWithinTwentyPercent() {
        #expect(schedule.delay(afterAttempts: 1, jitter: 1, retryAfter: nil) == .seconds(72))
        #expect(schedule.delay(afterAttempts: 1, jitter: -1, retryAfter: nil) == .seconds(48))
        #expect(schedule.delay(afterAttempts: 1, jitter: 5, retryAfter: nil) == .seconds(72))
    }

    @Test func retryAfterWinsWhenLongerUpToSixHours() {
        #expect(schedule.delay(afterAttempts: 1, jitter: 0, retryAfter: .seconds(600)) == .seconds(600))
        #expect(schedule.delay(afterAttempts: 1, jitter: 0, retryAfter: .seconds(10)) == .seconds(60))
        #expect(schedule.delay(afterAttempts: 1, jitter: 0, retryAfter: .seconds(86_400)) == .seconds(21_600))
    }
}
