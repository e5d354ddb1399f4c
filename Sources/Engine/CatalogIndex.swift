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
        /// Entry positions in name order; rebuilt lazily after changes.
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
            for entry in entries {
                if let position = state.positions[entry.id] {
                    state.entries[position].sortKey = entry.sortKey
                    state.entries[position].text = entry.text
                } else {
                    state.positions[entry.id] = state.entries.count
                    state.entries.append(entry)
                }
            }
            state.order = nil
        }
    }

    func remove(_ ids: [String]) {
        state.withLock { state in
            let gone = Set(ids)
            guard gone.contains(where: { state.positions[$0] != nil }) else { return }
            state.entries.removeAll { gone.contains($0.id) }
            state.positions = Dictionary(uniqueKeysWithValues: state.entries.enumerated().map { ($1.id, $0) })
            state.order = nil
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
            let order = state.order ?? Self.nameOrder(state.entries)
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

    private static func nameOrder(_ entries: [Entry]) -> [Int] {
        entries.indices.sorted { left, right in
            let (a, b) = (entries[left], entries[right])
            return a.sortKey == b.sortKey
                ? a.id.utf8.lexicographicallyPrecedes(b.id.utf8) : a.sortKey.lexicographicallyPrecedes(b.sortKey)
        }
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
