import Foundation
import Logging
import Postgres
import TestSupport

@testable import Engine
@testable import Store

/// The databases the engine keeps its state in: every store test runs on each.
enum StoreKind: String, CaseIterable, CustomStringConvertible, Sendable {
    case sqlite = "SQLite"
    case postgres = "PostgreSQL"

    var description: String { rawValue }

    /// A fresh database of this kind, migrated (a file in a directory of
    /// its own, or a database of its own on the tests' PostgreSQL server,
    /// whose URI comes with it).
    func fresh(_ name: String) async throws -> (storage: any StoreAccess, uri: String?) {
        switch self {
        case .sqlite:
            return (try StorageAccess.fresh(name), nil)
        case .postgres:
            let uri = try await SharedPostgres.newDatabase()
            return (try await PostgresAccess.migrated(uri), uri)
        }
    }
}

extension StorageAccess {
    /// A fresh SQLite database, migrated, in a directory of its own: what a
    /// store under test is built on.
    static func fresh(_ name: String) throws -> StorageAccess {
        let path = TemporaryDirectory.make(prefix: name) + "/pushdoc.sqlite"
        return StorageAccess(testing: try Database(path: path, migrations: Schema.migrations))
    }

    /// Another store's database, shared.
    init(testing database: Database) {
        self.init(database: database, logger: Logger(label: "test"), now: { Date() })
    }
}

extension PostgresAccess {
    /// The database at `uri`, migrated.
    static func migrated(_ uri: String) async throws -> PostgresAccess {
        let database = try await onThread { try PostgresDatabase(uri: uri, connections: 2, migrations: PostgresSchema.migrations) }
        return PostgresAccess(database: database, logger: Logger(label: "test"), now: { Date() })
    }
}
