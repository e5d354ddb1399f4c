import Foundation
import Store
import Synchronization

/// `CatalogStore` on the engine's database (SQLite or PostgreSQL), searched through the
/// in-memory `CatalogIndex`.
struct SQLCatalogStore: CatalogStore {
    let storage: any StoreAccess
    let search: DossierSearch
    var connector: ConnectorName { search.connector }

    func upsert(_ dossiers: [Dossier]) async throws -> Int {
        var rows: [[SQLValue]] = []
        var entries: [CatalogIndex.Entry] = []
        for dossier in dossiers {
            let attributes = String(decoding: try JSONEncoder().encode(dossier.attributes), as: UTF8.self)
            let searchable = ([dossier.name] + dossier.attributes.keys.sorted().compactMap { dossier.attributes[$0] })
                .map(TextFolding.fold).joined(separator: "\n")
            let sortKey = TextFolding.fold(dossier.name)
            rows.append([connector.sql, .text(dossier.id), .text(dossier.name), .text(sortKey), .text(searchable), .text(attributes)])
            entries.append(.init(id: dossier.id, sortKey: Array(sortKey.utf8), text: Array(searchable.utf8), selected: false))
        }
        let (connector, now) = (connector, storage.now())
        return try await search.write(storage) { [rows, entries] connection, index in
            if !rows.isEmpty { try connection.noteConnector(connector, at: now) }
            for row in rows {
                try connection.run(
                    """
                    INSERT INTO dossiers (connector, id, name, sort_key, search_text, attributes) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (connector, id) DO UPDATE SET name = excluded.name, sort_key = excluded.sort_key,
                        search_text = excluded.search_text, attributes = excluded.attributes
                    """, row)
            }
            index?.upsert(entries)
            return rows.count
        }
    }

    func remove(ids: [String]) async throws -> Int {
        try await search.write(storage) { [connector] connection, index in
            var removed = 0
            for id in ids {
                try connection.run("DELETE FROM mapping WHERE connector = ? AND dossier_id = ?", [connector.sql, .text(id)])
                removed += try connection.run("DELETE FROM dossiers WHERE connector = ? AND id = ?", [connector.sql, .text(id)])
            }
            index?.remove(ids)
            try SQLConnectorStore.refreshState(of: connector, connection)
            return removed
        }
    }

    func select(ids: [String], _ selected: Bool) async throws -> Int {
        try await search.write(storage) { [connector] connection, index in
            var unknown: [String] = []
            for id in ids
            where try connection.run(
                "UPDATE dossiers SET selected = ? WHERE connector = ? AND id = ?", [.integer(selected ? 1 : 0), connector.sql, .text(id)]) == 0
            {
                unknown.append(id)
            }
            // Nothing changes when an id is unknown: the transaction rolls back.
            if !unknown.isEmpty { throw EngineError.unknownDossiers(ids: Array(unknown.prefix(20))) }
            index?.select(ids: ids, selected)
            try SQLConnectorStore.refreshState(of: connector, connection)
            return try Self.selectedCount(connection, of: connector)
        }
    }

    func select(matching query: String, _ selected: Bool) async throws -> Int {
        let needle = TextFolding.fold(query)
        return try await search.write(storage) { [connector] connection, index in
            try connection.run(
                "UPDATE dossiers SET selected = ? WHERE connector = ? AND \(connection.dialect.position(of: "?", in: "search_text")) > 0",
                [.integer(selected ? 1 : 0), connector.sql, .text(needle)])
            index?.select(matching: Array(needle.utf8), selected)
            try SQLConnectorStore.refreshState(of: connector, connection)
            return try Self.selectedCount(connection, of: connector)
        }
    }

    func search(_ query: String, selectedOnly: Bool, paging: Paging) async throws -> Page<Dossier> {
        let index = try await search.loaded(storage)
        let (total, ids) = index.search(
            needle: Array(TextFolding.fold(query).utf8), selectedOnly: selectedOnly, offset: paging.offset, limit: paging.pageSize)
        let idList = String(decoding: try JSONEncoder().encode(ids), as: UTF8.self)
        let found = try await storage.read { [connector] connection in
            try connection.rows(
                Self.select + " WHERE connector = ? AND id IN (\(connection.dialect.jsonTextElements("?")))", [connector.sql, .text(idList)],
                Self.dossier)
        }
        let byID = Dictionary(uniqueKeysWithValues: found.map { ($0.id, $0) })
        return Page(total: total, page: paging.page, pageSize: paging.pageSize, items: ids.compactMap { byID[$0] })
    }

    func selectedDossiers() async throws -> [Dossier] {
        try await storage.read { [connector] connection in
            try connection.rows(Self.select + " WHERE connector = ? AND selected = 1 ORDER BY sort_key, id", [connector.sql], Self.dossier)
        }
    }

    func attributes() async throws -> [AttributeUsage] {
        try await storage.read { [connector] connection in
            try connection.rows(
                """
                SELECT attribute.key, count(*) FROM dossiers, \(connection.dialect.jsonObjectMembers("dossiers.attributes", as: "attribute"))
                WHERE dossiers.connector = ? GROUP BY attribute.key ORDER BY attribute.key
                """, [connector.sql]
            ) { AttributeUsage(name: try $0.text(0), dossierCount: Int(try $0.int(1))) }
        }
    }

    func carries(attribute: String) async throws -> Bool {
        try await storage.read { [connector] connection in
            try connection.count(
                """
                SELECT EXISTS (SELECT 1 FROM dossiers, \(connection.dialect.jsonObjectMembers("dossiers.attributes", as: "attribute"))
                    WHERE dossiers.connector = ? AND attribute.key = ?)
                """, [connector.sql, .text(attribute)]) == 1
        }
    }

    func addFolders(_ paths: [String]) async throws {
        let now = storage.now()
        try await storage.write { [connector] connection in
            if !paths.isEmpty { try connection.noteConnector(connector, at: now) }
            for path in paths {
                try connection.run(
                    "INSERT INTO catalog_folders (connector, path, folded) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    [connector.sql, .text(path), .text(TextFolding.fold(path))])
            }
        }
    }

    func folders(startingWith prefix: String, limit: Int) async throws -> [String] {
        let folded = TextFolding.fold(prefix)
        return try await storage.read { [connector] connection in
            try connection.rows(
                """
                SELECT path FROM catalog_folders WHERE connector = ? AND folded >= ? AND folded < ?
                ORDER BY folded LIMIT ?
                """,
                // Past every text that starts with the prefix: the highest code point after it.
                [connector.sql, .text(folded), .text(folded + "\u{10FFFF}"), .integer(Int64(limit))]
            ) { try $0.text(0) }
        }
    }

    private static let select = "SELECT id, name, attributes, selected FROM dossiers"

    private static func dossier(_ row: any SQLRow) throws -> Dossier {
        let attributes = try JSONDecoder().decode([String: String].self, from: Data(try row.text(2).utf8))
        return Dossier(id: try row.text(0), name: try row.text(1), attributes: attributes, selected: try row.int(3) == 1)
    }

    private static func selectedCount(_ connection: any SQLConnection, of connector: ConnectorName) throws -> Int {
        try connection.count("SELECT count(*) FROM dossiers WHERE connector = ? AND selected = 1", [connector.sql])
    }
}

/// The catalog's in-memory search index and whether it mirrors the
/// `dossiers` table, shared by the stores that change dossiers or
/// their selection. On SQLite, writes change the index as they change the
/// table. On PostgreSQL other engines change the table too: each write
/// counts a new version of the connector's catalog (`catalog_versions`),
/// and a search on an index loaded at an older version loads it again.
final class DossierSearch: Sendable {
    let connector: ConnectorName
    private let index = CatalogIndex()
    /// Read and set on the writer queue, so no change slips between a load and its use.
    private let loaded = Atomic<Bool>(false)
    /// PostgreSQL: the catalog's version the index was loaded at.
    private let loadedVersion = Mutex<Int64?>(nil)

    init(of connector: ConnectorName) { self.connector = connector }

    /// A write that changes the catalog: `body` gets the index when it is
    /// loaded, to change it alike. If the transaction fails, the index is
    /// dropped and reloaded from the table at the next search.
    func write<T: Sendable>(
        _ storage: any StoreAccess, _ body: @escaping @Sendable (any SQLConnection, CatalogIndex?) throws -> T
    ) async throws -> T {
        do {
            return try await storage.write { connection in
                guard connection.dialect == .sqlite else {
                    try connection.run(
                        """
                        INSERT INTO catalog_versions (connector, version) VALUES (?, 1)
                        ON CONFLICT (connector) DO UPDATE SET version = catalog_versions.version + 1
                        """, [self.connector.sql])
                    return try body(connection, nil)
                }
                return try body(connection, self.loaded.load(ordering: .acquiring) ? self.index : nil)
            }
        } catch {
            loaded.store(false, ordering: .releasing)
            throw error
        }
    }

    /// The index, loaded from the table on first use (on PostgreSQL, again
    /// whenever the catalog changed since).
    func loaded(_ storage: any StoreAccess) async throws -> CatalogIndex {
        guard storage.dialect == .sqlite else { return try await loadedAtLatestVersion(storage) }
        if loaded.load(ordering: .acquiring) { return index }
        try await storage.write { connection in
            guard !self.loaded.load(ordering: .acquiring) else { return }
            self.index.replaceAll(try self.entries(connection))
            self.loaded.store(true, ordering: .releasing)
        }
        return index
    }

    private func loadedAtLatestVersion(_ storage: any StoreAccess) async throws -> CatalogIndex {
        try await storage.read { connection in
            // Read before the rows: a write between the two makes the next search load again.
            let version = try connection.rows("SELECT version FROM catalog_versions WHERE connector = ?", [self.connector.sql]) {
                try $0.int(0)
            }.first ?? 0
            try self.loadedVersion.withLock { loaded in
                guard loaded != version else { return }
                self.index.replaceAll(try self.entries(connection))
                loaded = version
            }
            return self.index
        }
    }

    private func entries(_ connection: any SQLConnection) throws -> [CatalogIndex.Entry] {
        try connection.rows("SELECT id, sort_key, search_text, selected FROM dossiers WHERE connector = ?", [connector.sql]) { row in
            CatalogIndex.Entry(
                id: try row.text(0), sortKey: Array(try row.text(1).utf8), text: Array(try row.text(2).utf8), selected: try row.int(3) == 1)
        }
    }
}
