import Glibc
import Synchronization

/// The catalog's folded search text, in memory, so that a search over
/// 50,000 dossiers is one pass of `memmem` in name order (a few
/// milliseconds) instead of a table scan. SQLite stays the truth: the index
/// is changed inside the transactions that change the table, and reloaded
/// from it if a write fails.
final class CatalogIndex: Sendable {
    struct Entry: Sendable {
        let id: String
        /// The folded name, compared as bytes like SQLite's BINARY order.
        var sortKey: [UInt8]
        var text: [UInt8]
        var selected: Bool
    }

    private struct State {
        var entries: [Entry] = []
        var positions: [String: Int] = [:]
        /// Entry positions in name order: sorted at the first search after
        /// a load, then kept through changes (sorting 50,000 names took
        /// 40 ms, a search after a rename would have paid it).
        var order: [Int]?
    }

    private let state = Mutex(State())

    func replaceAll(_ entries: [Entry]) {
        state.withLock { state in
            state.entries = entries
            state.positions = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.id, $0) })
            state.order = nil
        }
    }

    /// Inserts or replaces entries; a replaced entry keeps its selection.
    func upsert(_ entries: [Entry]) {
        state.withLock { state in
            var moved = Set<Int>()
            for entry in entries {
                if let position = state.positions[entry.id] {
                    if state.entries[position].sortKey != entry.sortKey { moved.insert(position) }
                    state.entries[position].sortKey = entry.sortKey
                    state.entries[position].text = entry.text
                } else {
                    state.positions[entry.id] = state.entries.count
                    moved.insert(state.entries.count)
                    state.entries.append(entry)
                }
            }
            guard let order = state.order, !moved.isEmpty else { return }
            // The moved entries, sorted among themselves, merged into the others' order.
            let entries = state.entries
            let placed = order.filter { !moved.contains($0) }
            let incoming = Self.nameOrder(Array(moved), entries)
            var merged: [Int] = []
            merged.reserveCapacity(placed.count + incoming.count)
            var (i, j) = (0, 0)
            while i < placed.count || j < incoming.count {
                if j == incoming.count || (i < placed.count && !Self.precedes(incoming[j], placed[i], entries)) {
                    merged.append(placed[i])
                    i += 1
                } else {
                    merged.append(incoming[j])
                    j += 1
                }
            }
            state.order = merged
        }
    }

    func remove(_ ids: [String]) {
        state.withLock { state in
            let gone = Set(ids)
            guard gone.contains(where: { state.positions[$0] != nil }) else { return }
            var newPosition = [Int?](repeating: nil, count: state.entries.count)
            var kept: [Entry] = []
            for (position, entry) in state.entries.enumerated() where !gone.contains(entry.id) {
                newPosition[position] = kept.count
                kept.append(entry)
            }
            state.entries = kept
            state.positions = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($1.id, $0) })
            state.order = state.order?.compactMap { newPosition[$0] }
        }
    }

    func select(ids: [String], _ selected: Bool) {
        state.withLock { state in
            for id in ids { if let position = state.positions[id] { state.entries[position].selected = selected } }
        }
    }

    /// Selects what a search matches, as `instr(search_text, needle)` does.
    func select(matching needle: [UInt8], _ selected: Bool) {
        state.withLock { state in
            for position in state.entries.indices where Self.contains(state.entries[position].text, needle) {
                state.entries[position].selected = selected
            }
        }
    }

    func clearSelection() {
        state.withLock { state in
            for position in state.entries.indices { state.entries[position].selected = false }
        }
    }

    /// How many entries match, and the ids of one page of them, in name order.
    func search(needle: [UInt8], selectedOnly: Bool, offset: Int, limit: Int) -> (total: Int, ids: [String]) {
        state.withLock { state in
            let order = state.order ?? Self.nameOrder(Array(state.entries.indices), state.entries)
            state.order = order
            var total = 0
            var ids: [String] = []
            for position in order {
                let entry = state.entries[position]
                guard !selectedOnly || entry.selected, needle.isEmpty || Self.contains(entry.text, needle) else { continue }
                if total >= offset, ids.count < limit { ids.append(entry.id) }
                total += 1
            }
            return (total, ids)
        }
    }

    private static func nameOrder(_ positions: [Int], _ entries: [Entry]) -> [Int] {
        positions.sorted { precedes($0, $1, entries) }
    }

    /// Name order as SQLite's BINARY collation has it, then id: bytes
    /// compared with `memcmp`, no entry copied.
    private static func precedes(_ left: Int, _ right: Int, _ entries: [Entry]) -> Bool {
        let order = entries[left].sortKey.withUnsafeBytes { a in
            entries[right].sortKey.withUnsafeBytes { b in
                let shared = min(a.count, b.count)
                let common = shared == 0 ? 0 : memcmp(a.baseAddress!, b.baseAddress!, shared)
                return common != 0 ? common : Int32(a.count < b.count ? -1 : a.count > b.count ? 1 : 0)
            }
        }
        return order == 0 ? entries[left].id.utf8.lexicographicallyPrecedes(entries[right].id.utf8) : order < 0
    }

    /// Whether `needle` occurs in `text`: `memchr` finds each candidate
    /// first byte, `memcmp` checks the rest.
    private static func contains(_ text: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard text.count >= needle.count else { return false }
        return text.withUnsafeBufferPointer { haystack in
            needle.withUnsafeBufferPointer { pin in
                let base = haystack.baseAddress!
                let lastStart = haystack.count - pin.count
                var start = 0
                while start <= lastStart {
                    guard let found = memchr(base + start, Int32(pin[0]), lastStart - start + 1) else { return false }
                    start = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    if memcmp(base + start, pin.baseAddress!, pin.count) == 0 { return true }
                    start += 1
                }
                return false
            }
        }
    }
}
