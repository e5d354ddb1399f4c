import Store

/// How a search over the catalog runs fast: a needle of three characters or
/// more is counted through the trigram index. The page then comes from the
/// index's matches sorted by name when they are few, or from the name order
/// filtered as it goes when they are many (it stops after one page).
struct DossierSearch {
    /// Below this many matches, sorting them beats walking the name order.
    static let sortMatchesBelow = 5000

    let needle: String
    let selectedOnly: Bool

    private var usesIndex: Bool { needle.count >= 3 }

    /// The needle as one FTS5 string (quotes doubled): data, never syntax.
    private var phrase: String { "\"" + needle.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    private var selection: String { selectedOnly ? " AND d.selected = 1" : "" }

    func count(_ connection: SQLiteConnection) throws -> Int {
        if needle.isEmpty {
            return try connection.count("SELECT count(*) FROM dossiers d WHERE 1" + selection)
        }
        if usesIndex {
            let source = selectedOnly
                ? "SELECT count(*) FROM dossier_search s JOIN dossiers d ON d.rowid = s.rowid WHERE dossier_search MATCH ?" + selection
                : "SELECT count(*) FROM dossier_search WHERE dossier_search MATCH ?"
            return try connection.count(source, [.text(phrase)])
        }
        return try connection.count("SELECT count(*) FROM dossiers d WHERE instr(d.search_text, ?) > 0" + selection, [.text(needle)])
    }

    func page<T>(_ connection: SQLiteConnection, total: Int, limit: Int, offset: Int, _ row: (Row) throws -> T) throws -> [T] {
        let columns = "SELECT d.id, d.name, d.attributes, d.selected"
        let paging: [SQLValue] = [.integer(Int64(limit)), .integer(Int64(offset))]
        if usesIndex, total < Self.sortMatchesBelow {
            return try connection.rows(
                columns + " FROM dossier_search s JOIN dossiers d ON d.rowid = s.rowid WHERE dossier_search MATCH ?"
                    + selection + " ORDER BY d.sort_key, d.id LIMIT ? OFFSET ?", [.text(phrase)] + paging, row)
        }
        return try connection.rows(
            columns + " FROM dossiers d WHERE instr(d.search_text, ?) > 0" + selection
                + " ORDER BY d.sort_key, d.id LIMIT ? OFFSET ?", [.text(needle)] + paging, row)
    }
}
