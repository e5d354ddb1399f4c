import Foundation
import Postgres
import Store
import TestSupport
import Testing

/// The master key's check value, as engines given the same or another key meet it.
struct PostgresKeyCheckTests {
    private static let key = SecretBox(key: Array(repeating: 7, count: 32))
    private static let otherKey = SecretBox(key: Array(repeating: 8, count: 32))

    @Test func theFirstKeyIsRecordedAndOnlyItOpensTheCheck() async throws {
        let uri = try await SharedPostgres.newDatabase()
        let outcomes = try await onThread { () -> [Bool] in
            let connection = try PostgresConnection(uri)
            func accepted(_ box: SecretBox) throws -> Bool {
                do {
                    try PostgresKeyCheck.verify(box, on: connection)
                    return true
                } catch is MasterKeyMismatch {
                    return false
                }
            }
            return [try accepted(Self.key), try accepted(Self.key), try accepted(Self.otherKey), try accepted(Self.key)]
        }
        #expect(outcomes == [true, true, false, true])
    }

    @Test func enginesStartingTogetherWithTwoKeysAgreeOnOne() async throws {
        let uri = try await SharedPostgres.newDatabase()
        let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for box in [Self.key, Self.otherKey, Self.key, Self.otherKey] {
                group.addTask {
                    try await onThread {
                        do {
                            try PostgresKeyCheck.verify(box, on: PostgresConnection(uri))
                            return true
                        } catch is MasterKeyMismatch {
                            return false
                        }
                    }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        // Whichever key came first, exactly the two engines given it start.
        #expect(accepted == 2)
    }
}
