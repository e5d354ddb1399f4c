import Foundation
import TestSupport
import Testing

@testable import Engine
@testable import Store

/// An `EventStore` under test, with a way to write events as the other stores do.
protocol EventStoreFixture: Sendable {
    var store: any EventStore { get }
    func append(_ type: EventType, at date: Date, _ data: [String: EventValue]) async throws
}

/// One implementation of the seam: every test below runs on each.
struct EventStoreImplementation: Sendable, CustomStringConvertible {
    let description: String
    let make: @Sendable () async throws -> any EventStoreFixture
}

/// What any `EventStore` must do, whatever keeps the log.
struct EventStoreTests {
    static let implementations = StoreKind.allCases.map(SQLEventFixture.implementation)

    private static let start = Date(timeIntervalSince1970: 1_790_000_000)

    @Test(arguments: implementations)
    func eventsAreReadInOrderFromWhereAReaderStands(_ implementation: EventStoreImplementation) async throws {
        let fixture = try await implementation.make()
        #expect(try await fixture.store.lastSeq() == 0)
        for index in 1...5 {
            try await fixture.append(.documentQueued, at: Self.start, ["documentId": .text("d\(index)"), "n": .number(Int64(index))])
        }
        let page = try await fixture.store.events(after: 2, of: nil, limit: 2)
        #expect(page.map(\.seq) == [3, 4])
        #expect(page.first?.type == "document.queued")
        #expect(page.first?.data == ["documentId": .text("d3"), "n": .number(3)])
        #expect(try await fixture.store.lastSeq() == 5)
        let followed = try await fixture.store.eventsForFollower(after: 4, of: nil, limit: 10) { false }
        #expect(followed.map(\.seq) == [5])
        #expect(try await fixture.store.eventsForFollower(after: 0, of: nil, limit: 10) { true }.isEmpty)
    }

    @Test(arguments: implementations)
    func eventsAreKeptThirtyDaysThenPrunedAndTheSequenceGoesOn(_ implementation: EventStoreImplementation) async throws {
        let fixture = try await implementation.make()
        try await fixture.append(.documentQueued, at: Self.start, ["documentId": .text("old")])
        try await fixture.append(.documentQueued, at: Self.start.addingTimeInterval(20 * 86_400), ["documentId": .text("recent")])
        // 30 days after the first: both still there.
        #expect(try await fixture.store.prune(before: EventRetention.cutoff(at: Self.start.addingTimeInterval(30 * 86_400 - 1))) == 0)
        #expect(try await fixture.store.prune(before: EventRetention.cutoff(at: Self.start.addingTimeInterval(31 * 86_400))) == 1)
        let left = try await fixture.store.events(after: 0, of: nil, limit: 10)
        #expect(left.map(\.seq) == [2])
        #expect(left.first?.data["documentId"] == .text("recent"))
        #expect(try await fixture.store.prune(before: Self.start.addingTimeInterval(365 * 86_400)) == 1)
        #expect(try await fixture.store.lastSeq() == 2)
        try await fixture.append(.documentQueued, at: Self.start, ["documentId": .text("next")])
        #expect(try await fixture.store.events(after: 0, of: nil, limit: 10).map(\.seq) == [3])
    }
}

/// The log in a fresh database of either kind.
struct SQLEventFixture: EventStoreFixture {
    let storage: any StoreAccess
    let store: any EventStore

    static func implementation(_ kind: StoreKind) -> EventStoreImplementation {
        EventStoreImplementation(description: kind.description) {
            let storage = try await kind.fresh("event-store").storage
            return SQLEventFixture(storage: storage, store: SQLEventStore(storage: storage))
        }
    }

    func append(_ type: EventType, at date: Date, _ data: [String: EventValue]) async throws {
        try await storage.write { try $0.appendEvent(type, of: .default, at: date, data) }
    }
}

struct EventValueTests {
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
