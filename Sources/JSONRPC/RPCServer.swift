import CLinux
import Dispatch
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
        /// Signalled when `activeTasks` falls to zero.
        var idleWaiters: [DispatchSemaphore] = []
        var connections: [ObjectIdentifier: Connection] = [:]
    }

    public let table: MethodTable
    public let maxMessageBytes: Int
    /// Unfinished lines and unread answers of all connections together.
    public let budget: BufferBudget
    /// How long a line may stay unfinished before its connection is closed.
    public let unfinishedLineTimeout: Duration
    let logger: Logger
    private let state = Mutex(State())

    public static let defaultBufferBudget = 256 << 20

    public init(
        table: MethodTable, maxMessageBytes: Int, logger: Logger, bufferBudget: Int = RPCServer.defaultBufferBudget,
        unfinishedLineTimeout: Duration = .seconds(30)
    ) {
        self.table = table
        self.maxMessageBytes = maxMessageBytes
        self.logger = logger
        self.budget = BufferBudget(limit: bufferBudget)
        self.unfinishedLineTimeout = unfinishedLineTimeout
        budget.whenFreed { [weak self] in
            for connection in self?.state.withLock({ Array($0.connections.values) }) ?? [] { connection.wake() }
        }
    }

    public var isAcceptingWork: Bool { state.withLock { $0.acceptingWork } }

    /// From now on requests are answered `-32001 shutting_down`.
    public func beginShutdown() {
        state.withLock { $0.acceptingWork = false }
    }

    /// Waits until no request is running, or the deadline passes; returns
    /// whether everything finished. Blocks: call it from a thread of its own.
    public func waitUntilIdle(deadline: ContinuousClock.Instant) -> Bool {
        let idle = DispatchSemaphore(value: 0)
        let busy = state.withLock { state -> Bool in
            guard state.activeTasks > 0 else { return false }
            state.idleWaiters.append(idle)
            return true
        }
        guard busy else { return true }
        let milliseconds = max(0, (deadline - .now) / .milliseconds(1))
        return idle.wait(timeout: .now() + .milliseconds(Int(milliseconds.rounded(.up)))) == .success
    }

    /// Returns once every reply already produced has been sent, on every
    /// connection (each connection's thread sends as its client reads).
    public func flushAll() async {
        for connection in state.withLock({ Array($0.connections.values) }) {
            await connection.output.flush()
        }
    }

    /// Serves one client until its input ends; blocks the calling thread.
    /// `onEndOfInput` runs as soon as the input ends, before the requests
    /// still running are waited for.
    func serve(
        name: String, input: Int32, output: OutputChannel, onEndOfInput: @Sendable () -> Void = {}
    ) {
        output.attach(budget: budget)
        let connection = Connection(name: name, output: output, server: self)
        let key = ObjectIdentifier(connection)
        state.withLock { $0.connections[key] = connection }
        logger.debug("client connected", metadata: ["connection": "\(name)"])
        let heldAtMost = connection.serve(input: input, onEndOfInput: onEndOfInput)
        let remaining = state.withLock { state in
            state.connections.removeValue(forKey: key)
            return state.connections.count
        }
        logger.debug("client disconnected", metadata: ["connection": "\(name)"])
        // Buffers of a busy connection go back to the system, not only to the allocator.
        if remaining == 0 || heldAtMost >= 1 << 20 { malloc_trim(0) }
    }

    func taskStarted() { state.withLock { $0.activeTasks += 1 } }
    func taskEnded() {
        let waiters = state.withLock { state -> [DispatchSemaphore] in
            state.activeTasks -= 1
            guard state.activeTasks == 0 else { return [] }
            defer { state.idleWaiters.removeAll() }
            return state.idleWaiters
        }
        for waiter in waiters { waiter.signal() }
    }
}
