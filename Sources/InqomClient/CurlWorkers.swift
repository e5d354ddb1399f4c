import Foundation
import Synchronization

/// A fixed set of threads, each owning one easy handle (and so its open
/// connections), that run libcurl's blocking transfers away from Swift's
/// cooperative threads. Work beyond the thread count waits its turn.
/// The threads, and libcurl with the libraries it loads, start with the
/// first transfer: an engine not yet connected to Inqom keeps none of
/// their memory.
final class CurlWorkers: Sendable {
    private struct Job {
        let cancellation: CancellationFlag
        let run: @Sendable (EasyHandle?, CancellationFlag) -> Void
    }

    private let queue = Mutex<[Job]>([])
    private let available = DispatchSemaphore(value: 0)
    private let threads: Int
    private let timeouts: EasyHandle.Timeouts
    private let started = Mutex(false)

    init(threads: Int, timeouts: EasyHandle.Timeouts) {
        self.threads = threads
        self.timeouts = timeouts
    }

    private func startThreads() {
        let alreadyStarted = started.withLock { started in
            defer { started = true }
            return started
        }
        guard !alreadyStarted else { return }
        for index in 0..<threads {
            Thread { [self] in
                Thread.current.name = "pd-curl-\(index)"
                let handle = EasyHandle(timeouts: timeouts)
                while true {
                    available.wait()
                    guard let job = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
                    job.run(handle, job.cancellation)
                }
            }.start()
        }
    }

    /// Runs `body` on one of the threads, with that thread's handle (nil when
    /// libcurl cannot be loaded); cancelling the task aborts its transfers.
    func run<T: Sendable>(_ body: @escaping @Sendable (EasyHandle?, CancellationFlag) -> T) async -> T {
        let cancellation = CancellationFlag()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                startThreads()
                queue.withLock {
                    $0.append(Job(cancellation: cancellation) { continuation.resume(returning: body($0, $1)) })
                }
                available.signal()
            }
        } onCancel: {
            cancellation.set()
        }
    }

    /// Work is waiting for a thread.
    var hasWaitingWork: Bool { queue.withLock { !$0.isEmpty } }
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
