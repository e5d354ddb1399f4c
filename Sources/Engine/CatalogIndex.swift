import CByteSearch
import Glibc
import Synchronization

/// The catalog's folded search text, in memory, so that a search over
/// 50,000 dossiers is one pass of `memmem` over their texts laid end to end
/// (under a millisecond) instead of a table scan. SQLite stays the truth:
/// the index is changed inside the transactions that change the table, and
/// reloaded from it if a write fails.
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
        /// a load, then kept through changes (a search after a rename
        /// would otherwise pay for sorting every name again).
        var order: [Int]?
        /// Each entry's place in `order`, made when it is first needed after
        /// `order` changed.
        var rank: [Int]?
        /// The texts laid end to end in the entries' own order, so that new
        /// entries are appended to it. Built at a load, and at the first
        /// search after a text changed or an entry went: one pass over
        /// contiguous texts is what makes a search fast, and laying them out
        /// again after each batch of new dossiers would be most of the
        /// next search's time.
        var haystack: Haystack?
    }

    private struct Haystack {
        var bytes: [UInt8] = []
        /// Where the text of entry k starts; one more at the end.
        var starts: [Int] = [0]

        mutating func append(_ text: [UInt8]) {
            bytes += text
            starts.append(bytes.count)
        }
    }

    private let state = Mutex(State())

    func replaceAll(_ entries: [Entry]) {
        state.withLock { state in
            state.entries = entries
            state.positions = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.id, $0) })
            state.order = nil
            state.rank = nil
            state.haystack = Self.laidEndToEnd(entries)
        }
    }

    /// Inserts or replaces entries; a replaced entry keeps its selection.
    func upsert(_ entries: [Entry]) {
        state.withLock { state in
            var moved = Set<Int>()
            for entry in entries {
                if let position = state.positions[entry.id] {
                    if state.entries[position].text != entry.text { state.haystack = nil }
                    if state.entries[position].sortKey != entry.sortKey { moved.insert(position) }
                    state.entries[position].sortKey = entry.sortKey
                    state.entries[position].text = entry.text
                } else {
                    state.positions[entry.id] = state.entries.count
                    moved.insert(state.entries.count)
                    state.entries.append(entry)
                    state.haystack?.append(entry.text)
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
            state.rank = nil
        }
    }

    func remove(_ ids: [String]) {
        state.withLock { state in
            let gone = Set(ids)
            guard gone.contains(where: { state.positions[$0] != nil }) else { return }
            state.haystack = nil
            var newPosition = [Int?](repeating: nil, count: state.entries.count)
            var kept: [Entry] = []
            for (position, entry) in state.entries.enumerated() where !gone.contains(entry.id) {
                newPosition[position] = kept.count
                kept.append(entry)
            }
            state.entries = kept
            state.positions = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($1.id, $0) })
            state.order = state.order?.compactMap { newPosition[$0] }
            state.rank = nil
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
            for position in Self.matches(of: needle, in: &state) { state.entries[position].selected = selected }
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
            var total = 0
            var ids: [String] = []
            for position in Self.matches(of: needle, in: &state) where !selectedOnly || state.entries[position].selected {
                if total >= offset, ids.count < limit { ids.append(state.entries[position].id) }
                total += 1
            }
            return (total, ids)
        }
    }

    private static func order(_ state: inout State) -> [Int] {
        if let order = state.order { return order }
        let order = nameOrder(Array(state.entries.indices), state.entries)
        state.order = order
        state.rank = nil
        return order
    }

    /// Positions of the entries whose text contains `needle` (all for an
    /// empty one, as `instr` has it), in name order.
    private static func matches(of needle: [UInt8], in state: inout State) -> [Int] {
        let order = order(&state)
        guard !needle.isEmpty else { return order }
        let haystack = state.haystack ?? laidEndToEnd(state.entries)
        state.haystack = haystack
        let rank = state.rank ?? ranks(order)
        state.rank = rank
        // Hits come in the entries' own order: each marks its entry's rank,
        // and the marks read in rank order give name order.
        var hitRanks = [UInt64](repeating: 0, count: (order.count + 63) / 64)
        haystack.bytes.withUnsafeBufferPointer { bytes in
            needle.withUnsafeBufferPointer { pin in
                guard let base = bytes.baseAddress, let pinBase = pin.baseAddress else { return }
                var from = 0
                // The text that holds `from`: hits only move forward, and so does it.
                var current = 0
                while from + pin.count <= bytes.count,
                    let hit = pushdoc_memmem(base + from, bytes.count - from, pinBase, pin.count)
                {
                    let at = UnsafeRawPointer(base).distance(to: hit)
                    while haystack.starts[current + 1] <= at { current += 1 }
                    let end = haystack.starts[current + 1]
                    if at + pin.count <= end {
                        hitRanks[rank[current] >> 6] |= 1 << UInt64(rank[current] & 63)
                        from = end
                    } else {
                        // It runs on into the next text: not a match of this one.
                        from = at + 1
                    }
                }
            }
        }
        var found: [Int] = []
        for (word, marks) in hitRanks.enumerated() {
            var left = marks
            while left != 0 {
                found.append(order[word << 6 + left.trailingZeroBitCount])
                left &= left - 1
            }
        }
        return found
    }

    private static func laidEndToEnd(_ entries: [Entry]) -> Haystack {
        var haystack = Haystack()
        haystack.bytes.reserveCapacity(entries.reduce(0) { $0 + $1.text.count })
        haystack.starts.reserveCapacity(entries.count + 1)
        for entry in entries { haystack.append(entry.text) }
        return haystack
    }

    private static func ranks(_ order: [Int]) -> [Int] {
        var rank = [Int](repeating: 0, count: order.count)
        for (place, position) in order.enumerated() { rank[position] = place }
        return rank
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
}
