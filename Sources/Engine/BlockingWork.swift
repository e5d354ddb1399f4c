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

    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            detach { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Work whose end nobody waits for.
    func detach(_ work: @escaping @Sendable () -> Void) {
        threads.submit { _ in work() }
    }

    /// Lets the work already given finish, then ends the threads (see `WorkerThreads.stop`).
    func stop(waitingUntil deadline: DispatchTime) -> Bool { threads.stop(waitingUntil: deadline) }
}
