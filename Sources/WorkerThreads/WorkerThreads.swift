import Dispatch
import Glibc
import Synchronization

/// A fixed set of threads of their own for blocking work (file copies,
/// fsync, libcurl transfers, SMTP), never Swift's cooperative ones. Each
/// thread makes its own `Context` when it starts (a libcurl handle, or
/// nothing) and keeps it for life. The threads start with the first job;
/// `stop` lets the jobs already given finish, then ends them.
public final class WorkerThreads<Context>: Sendable {
    public typealias Job = @Sendable (Context) -> Void

    private struct State {
        var jobs: [Job] = []
        var started = false
        var stopped = false
        /// Joined at `stop`, so that a stopped pool has no thread left.
        var threads: [pthread_t] = []
    }

    private let name: String
    private let count: Int
    private let makeContext: @Sendable () -> Context
    private let state = Mutex(State())
    /// One signal per job given, and one per thread at `stop`.
    private let available = DispatchSemaphore(value: 0)
    private let ended = DispatchGroup()

    /// `name` names the threads (`name-0`, `name-1`, …) for `top -H`.
    public init(name: String, count: Int, makeContext: @escaping @Sendable () -> Context) {
        self.name = name
        self.count = count
        self.makeContext = makeContext
    }

    /// Runs `job` on one of the threads, after those given before it. Given
    /// after `stop`, it runs on a thread of its own rather than never.
    public func submit(_ job: @escaping Job) {
        let (accepted, start) = state.withLock { state -> (Bool, Bool) in
            guard !state.stopped else { return (false, false) }
            state.jobs.append(job)
            defer { state.started = true }
            return (true, !state.started)
        }
        guard accepted else {
            let makeContext = makeContext
            // Without a thread (the system's limit reached), here rather than never.
            if !startThread(named: "\(name)-late", { job(makeContext()) }) { job(makeContext()) }
            return
        }
        if start { startThreads() }
        available.signal()
    }

    /// Jobs are waiting for a thread.
    public var hasWaitingWork: Bool { state.withLock { !$0.jobs.isEmpty } }

    /// Lets the jobs already given finish, then ends the threads; waits for
    /// them until `deadline`, and says whether they all ended. Blocks: call
    /// it from a thread that may block.
    @discardableResult
    public func stop(waitingUntil deadline: DispatchTime = .distantFuture) -> Bool {
        let running = state.withLock { state -> Bool in
            defer { state.stopped = true }
            return state.started && !state.stopped
        }
        if running {
            for _ in 0..<count { available.signal() }
        }
        guard ended.wait(timeout: deadline) == .success else { return false }
        // Each has left its loop: joining waits only for the thread's own exit.
        let threads = state.withLock { state in
            defer { state.threads = [] }
            return state.threads
        }
        for thread in threads { pthread_join(thread, nil) }
        return true
    }

    private func startThreads() {
        for index in 0..<count {
            ended.enter()
            let thread = startJoinableThread(named: "\(name)-\(index)") { [self] in
                let context = makeContext()
                while true {
                    available.wait()
                    let job = state.withLock { state -> Job? in state.jobs.isEmpty ? nil : state.jobs.removeFirst() }
                    if let job {
                        job(context)
                    } else if state.withLock({ $0.stopped }) {
                        break
                    }
                }
                ended.leave()
            }
            // Without threads (the system's limit reached), a job would wait forever.
            precondition(thread != nil || index > 0, "no thread could be started for \(name)")
            if let thread { state.withLock { $0.threads.append(thread) } } else { ended.leave() }
        }
    }
}
