import Foundation
import Logging
import Postgres
import TestSupport

@testable import Engine
@testable import Store

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
    /// A new database on the tests' PostgreSQL server, migrated: what a store under test is built on.
    static func fresh() async throws -> PostgresAccess {
        try await migrated(try await SharedPostgres.newDatabase())
    }

    /// The database at `uri`, migrated.
    static func migrated(_ uri: String) async throws -> PostgresAccess {
        let database = try await onThread { try PostgresDatabase(uri: uri, connections: 2, migrations: PostgresSchema.migrations) }
        return PostgresAccess(database: database, logger: Logger(label: "test"))
    }
}
