import Dispatch
import WorkerThreads

/// Threads of its own for blocking work (file copies, fsync, SMTP), never
/// Swift's cooperative ones. Several, because concurrent fsyncs share the
/// file system's journal commits.
final class BlockingWork: Sendable {
    private let threads: WorkerThreads<Void>

    init(threads: Int) {
        self.threads = WorkerThreads(name: "pd-file", count: threads) {}
    }

    /// Runs `work` on one of the threads and returns its result; throws what
    /// it throws (nothing, for work that cannot fail).
    func run<T: Sendable, Failure: Error>(_ work: @escaping @Sendable () throws(Failure) -> T) async throws(Failure) -> T {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, Failure>, Never>) in
            detach { continuation.resume(returning: Result(catching: work)) }
        }
        return try result.get()
    }

    /// Work whose end nobody waits for.
    func detach(_ work: @escaping @Sendable () -> Void) {
        threads.submit { _ in work() }
    }

    /// Lets the work already given finish, then ends the threads (see `WorkerThreads.stop`).
    func stop(waitingUntil deadline: DispatchTime) -> Bool { threads.stop(waitingUntil: deadline) }
}
