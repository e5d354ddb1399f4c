import CLinux
import Dispatch
import Glibc
import JSONSafety
import Logging
import Synchronization

/// What every connection shares: the method table, the limits, and the
/// shutdown state. Transports create connections through it.
public final class RPCServer: Sendable {
    /// Deeper JSON is refused before any decoder sees it.
    public static let maxDepth = SafeJSON.maxDepth

    private struct State {
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
    // Looked at and counted for every request, from every connection's thread:
    // atomics, not the lock, which hundreds of busy connections would convoy on.
    private let acceptingWork = Atomic<Bool>(true)
    private let activeTasks = Atomic<Int>(0)

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

    public var isAcceptingWork: Bool { acceptingWork.load(ordering: .acquiring) }

    /// From now on requests are answered `-32001 shutting_down`.
    public func beginShutdown() {
        acceptingWork.store(false, ordering: .releasing)
    }

    /// Waits until no request is running, or the deadline passes; returns
    /// whether everything finished. Blocks: call it from a thread of its own.
    public func waitUntilIdle(deadline: ContinuousClock.Instant) -> Bool {
        let idle = DispatchSemaphore(value: 0)
        let busy = state.withLock { state -> Bool in
            state.idleWaiters.append(idle)
            // Counted after registering: a last request ending in between finds this waiter.
            guard activeTasks.load(ordering: .sequentiallyConsistent) == 0 else { return true }
            state.idleWaiters.removeLast()
            return false
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

    func taskStarted() { activeTasks.add(1, ordering: .sequentiallyConsistent) }
    func taskEnded() {
        guard activeTasks.subtract(1, ordering: .sequentiallyConsistent).newValue == 0 else { return }
        let waiters = state.withLock { state -> [DispatchSemaphore] in
            defer { state.idleWaiters.removeAll() }
            return state.idleWaiters
        }
        for waiter in waiters { waiter.signal() }
    }
}
