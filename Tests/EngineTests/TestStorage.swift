import Foundation
import Logging
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
