import Foundation
import Synchronization
import WorkerThreads

/// A fixed set of threads, each owning one easy handle (and so its open
/// connections), that run libcurl's blocking transfers away from Swift's
/// cooperative threads. Work beyond the thread count waits its turn.
/// The threads, and libcurl with the libraries it loads, start with the
/// first transfer: an engine not yet connected to Inqom keeps none of
/// their memory.
final class CurlWorkers: Sendable {
    private let threads: WorkerThreads<EasyHandle?>

    init(threads: Int, timeouts: EasyHandle.Timeouts) {
        self.threads = WorkerThreads(name: "pd-curl", count: threads) { EasyHandle(timeouts: timeouts) }
    }

    /// Runs `body` on one of the threads, with that thread's handle (nil when
    /// libcurl cannot be loaded); cancelling the task aborts its transfers.
    func run<T: Sendable>(_ body: @escaping @Sendable (EasyHandle?, CancellationFlag) -> T) async -> T {
        let cancellation = CancellationFlag()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                threads.submit { handle in continuation.resume(returning: body(handle, cancellation)) }
            }
        } onCancel: {
            cancellation.set()
        }
    }

    /// Work is waiting for a thread.
    var hasWaitingWork: Bool { threads.hasWaitingWork }

    /// Lets the transfers already given finish, then ends the threads (see `WorkerThreads.stop`).
    func stop(waitingUntil deadline: DispatchTime) -> Bool { threads.stop(waitingUntil: deadline) }
}

/// Set when the task that asked for some work is cancelled: its transfers
/// abort at libcurl's next progress call, and a wait for a request slot
/// ends at once.
final class CancellationFlag: Sendable {
    private let flag = Atomic(false)
    private let signal = DispatchSemaphore(value: 0)

    var isSet: Bool { flag.load(ordering: .relaxed) }

    func set() {
        guard flag.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        signal.signal()
    }

    /// Blocks the calling thread for `duration` or until the flag is set,
    /// whichever comes first. One thread waits at a time (the transfer
    /// thread running the task's work).
    func wait(for duration: Duration) {
        let parts = duration.components
        let nanoseconds = parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000
        if signal.wait(timeout: .now() + .nanoseconds(Int(nanoseconds))) == .success {
            // Keep the one signal for any later wait on this flag.
            signal.signal()
        }
    }
}
