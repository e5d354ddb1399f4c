import JSONSafety
import Glibc
import Logging
import Synchronization

/// What every connection shares: the method table, the limits, and the
/// shutdown state. Transports create connections through it.
public final class RPCServer: Sendable {
    /// Deeper JSON is refused before any decoder sees it.
    public static let maxDepth = SafeJSON.maxDepth

    private struct State {
        var acceptingWork = true
        var activeTasks = 0
        var connections: [ObjectIdentifier: Connection] = [:]
    }

    public let table: MethodTable
    public let maxMessageBytes: Int
    let logger: Logger
    private let state = Mutex(State())

    public init(table: MethodTable, maxMessageBytes: Int, logger: Logger) {
        self.table = table
        self.maxMessageBytes = maxMessageBytes
        self.logger = logger
    }

    public var isAcceptingWork: Bool { state.withLock { $0.acceptingWork } }

    /// From now on requests are answered `-32001 shutting_down`.
    public func beginShutdown() {
        state.withLock { $0.acceptingWork = false }
    }

    /// Waits until no request is running, or the deadline passes; returns
    /// whether everything finished. Blocks: call it from a thread of its own.
    public func waitUntilIdle(deadline: ContinuousClock.Instant) -> Bool {
        while state.withLock({ $0.activeTasks > 0 }) {
            if ContinuousClock.now >= deadline { return false }
            usleep(2000)
        }
        return true
    }

    /// Writes out every reply already produced, on every connection.
    public func flushAll() {
        for connection in state.withLock({ Array($0.connections.values) }) {
            connection.output.flush()
        }
    }

    /// Serves one client until its input ends; blocks the calling thread.
    /// `onEndOfInput` runs as soon as the input ends, before the requests
    /// still running are waited for.
    func serve(
        name: String, input: Int32, output: OutputChannel, onEndOfInput: @Sendable () -> Void = {}
    ) {
        let connection = Connection(name: name, output: output, server: self)
        let key = ObjectIdentifier(connection)
        state.withLock { $0.connections[key] = connection }
        logger.debug("client connected", metadata: ["connection": "\(name)"])
        connection.serve(input: input, onEndOfInput: onEndOfInput)
        state.withLock { _ = $0.connections.removeValue(forKey: key) }
        logger.debug("client disconnected", metadata: ["connection": "\(name)"])
    }

    func taskStarted() { state.withLock { $0.activeTasks += 1 } }
    func taskEnded() { state.withLock { $0.activeTasks -= 1 } }
}
