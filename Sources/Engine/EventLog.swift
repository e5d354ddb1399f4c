import Foundation
import JSONSafety
import Postgres
import Store
import Synchronization

/// One entry of the durable event log.
public struct Event: Sendable, Codable {
    public let seq: Int64
    public let type: String
    public let at: String
    public let connector: String
    public let data: [String: EventValue]
}

/// Event data values: text, whole numbers, or null.
public enum EventValue: Sendable, Codable, Equatable {
    case text(String)
    case number(Int64)
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let number = try? container.decode(Int64.self) {
            self = .number(number)
        } else {
            self = .text(try container.decode(String.self))
        }
    }

    /// An event's data as a JSON object, keys sorted: written by hand, as
    /// `JSONEncoder` cost more than the rest of the event's transaction.
    static func json(_ data: [String: EventValue]) -> String {
        var output: [UInt8] = [UInt8(ascii: "{")]
        for (index, key) in data.keys.sorted().enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            JSONLiteral.appendString(key, to: &output)
            output.append(UInt8(ascii: ":"))
            switch data[key] ?? .null {
            case .text(let text): JSONLiteral.appendString(text, to: &output)
            case .number(let number): output.append(contentsOf: String(number).utf8)
            case .null: output.append(contentsOf: "null".utf8)
            }
        }
        output.append(UInt8(ascii: "}"))
        return String(decoding: output, as: UTF8.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .number(let number): try container.encode(number)
        case .null: try container.encodeNil()
        }
    }
}

extension SQLConnection {
    /// Appends an event inside the caller's transaction: it commits with the
    /// state change it tells of, or not at all. On PostgreSQL its seq comes
    /// from a row that stays locked until that commit, and every other
    /// engine's events wait for it (that keeps seq in commit order): a
    /// transaction appends its events last, just before it commits.
    func appendEvent(_ type: EventType, of connector: ConnectorName, at date: Date, _ data: [String: EventValue]) throws {
        try run(eventStatement(type, of: connector, at: date, data))
    }

    /// The statement `appendEvent` runs, to run with others.
    func eventStatement(_ type: EventType, of connector: ConnectorName, at date: Date, _ data: [String: EventValue]) -> SQLStatement {
        let bindings: [SQLValue] = [connector.sql, .word(type), .real(date.timeIntervalSince1970), .text(EventValue.json(data))]
        switch dialect {
        case .sqlite:
            return SQLStatement("INSERT INTO events (connector, type, at, data) VALUES (?, ?, ?, ?)", bindings)
        case .postgres:
            // Other engines' followers and senders are woken at the commit.
            return SQLStatement(
                """
                WITH next AS (UPDATE event_seq SET last = last + 1 RETURNING last),
                    added AS (INSERT INTO events (seq, connector, type, at, data) SELECT last, ?, ?, ?, ? FROM next RETURNING seq)
                SELECT pg_notify('\(PostgresListener.channel)', '') FROM added
                """, bindings)
        }
    }

    /// Events after `seq`, oldest first (of one connector, or of all), inside the caller's transaction.
    func events(after seq: Int64, of connector: ConnectorName?, limit: Int) throws -> [Event] {
        let (filter, bindings): (String, [SQLValue]) =
            connector.map { ("connector = ? AND ", [$0.sql]) } ?? ("", [])
        return try rows(
            "SELECT seq, type, at, connector, data FROM events WHERE \(filter)seq > ? ORDER BY seq LIMIT ?",
            bindings + [.integer(seq), .integer(Int64(limit))]
        ) { row in
            try Event(seq: try row.int(0), type: try row.text(1), at: try row.double(2), connector: try row.text(3), json: try row.text(4))
        }
    }
}

extension Event {
    /// An event as a row keeps it: its time in seconds since 1970, its data as JSON.
    init(seq: Int64, type: String, at seconds: Double, connector: String, json: String) throws {
        self.init(
            seq: seq, type: type, at: Timestamp.text(Date(timeIntervalSince1970: seconds)), connector: connector,
            data: try JSONDecoder().decode([String: EventValue].self, from: Data(json.utf8)))
    }
}

/// Wakes whoever waits for new events or for documents to settle, after
/// each commit that wrote some. A waiter notes `generation` before it looks
/// at the state, then waits for a later one: a change between its look and
/// its wait is never missed.
final class ChangeSignal: Sendable {
    private struct State {
        var generation: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waiters woken (timeout, cancellation) before they registered.
        var woken: Set<UInt64> = []
    }

    private let state = Mutex(State())
    private let nextKey = Atomic<UInt64>(0)

    var generation: UInt64 { state.withLock { $0.generation } }

    func notify() {
        let woken = state.withLock { state in
            state.generation += 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in woken { waiter.resume() }
    }

    /// Returns once the generation has passed `seen`, after `timeout` on
    /// `clock`, or on cancellation.
    func wait(after seen: UInt64, timeout: Duration, on clock: any EngineClock) async {
        await wait(after: seen, until: clock.elapsed + timeout, on: clock)
    }

    /// Returns once the generation has passed `seen`, once `clock`'s
    /// elapsed time reaches `deadline`, or on cancellation.
    func wait(after seen: UInt64, until deadline: Duration, on clock: any EngineClock) async {
        let key = nextKey.add(1, ordering: .relaxed).newValue
        let timer = Task { [weak self] in
            // Cancelled when the wait ends first: then it wakes nobody.
            guard (try? await clock.sleep(until: deadline)) != nil else { return }
            self?.wake(key)
        }
        await suspend(after: seen, key: key)
        timer.cancel()
        state.withLock { _ = $0.woken.remove(key) }
    }

    /// Returns once the generation has passed `seen`, or on cancellation:
    /// for a change that is sure to come.
    func wait(after seen: UInt64) async {
        let key = nextKey.add(1, ordering: .relaxed).newValue
        await suspend(after: seen, key: key)
        state.withLock { _ = $0.woken.remove(key) }
    }

    private func suspend(after seen: UInt64, key: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let early = state.withLock { state -> Bool in
                    if state.generation != seen || state.woken.remove(key) != nil { return true }
                    state.waiters[key] = continuation
                    return false
                }
                if early { continuation.resume() }
            }
        } onCancel: {
            wake(key)
        }
    }

    private func wake(_ key: UInt64) {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let continuation = state.waiters.removeValue(forKey: key) { return continuation }
            state.woken.insert(key)
            return nil
        }
        continuation?.resume()
    }
}
