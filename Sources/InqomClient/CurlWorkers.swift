import Foundation
import Synchronization

/// A fixed set of threads, each owning one easy handle (and so its open
/// connections), that run libcurl's blocking transfers away from Swift's
/// cooperative threads. Transfers beyond the thread count wait their turn.
/// The threads, and libcurl with the libraries it loads, start with the
/// first transfer: an engine not yet connected to Inqom keeps 8 MB less
/// resident.
final class CurlWorkers: Sendable {
    private struct Job {
        let request: HTTPRequest
        let context: TransferContext
        let continuation: CheckedContinuation<Result<HTTPResponse, TransferFailure>, Never>
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
            let thread = Thread { [self] in
                let handle = EasyHandle(timeouts: timeouts)
                while true {
                    available.wait()
                    guard let job = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
                    job.continuation.resume(
                        returning: handle?.perform(job.request, context: job.context) ?? .failure(EasyHandle.unavailable))
                }
            }
            thread.name = "pushdoc.curl.\(index)"
            thread.start()
        }
    }

    /// Runs one transfer; cancelling the task aborts it.
    func perform(_ request: HTTPRequest, maxBodyBytes: Int) async -> Result<HTTPResponse, TransferFailure> {
        let context = TransferContext(maxBodyBytes: maxBodyBytes)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                startThreads()
                queue.withLock { $0.append(Job(request: request, context: context, continuation: continuation)) }
                available.signal()
            }
        } onCancel: {
            context.cancelled.store(true, ordering: .relaxed)
        }
    }
}
