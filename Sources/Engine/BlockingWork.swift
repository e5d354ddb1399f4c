import Foundation
import Synchronization

/// Threads of its own for blocking work (file copies, fsync, SMTP), never
/// Swift's cooperative ones. Several, because concurrent fsyncs share the
/// file system's journal commits: on this disk 8 threads sync about three
/// times as many files per second as one.
final class BlockingWork: Sendable {
    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let available = DispatchSemaphore(value: 0)

    init(threads: Int) {
        for index in 0..<threads {
            Thread { [self] in
                Thread.current.name = "pd-file-\(index)"
                while true {
                    available.wait()
                    jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }?()
                }
            }.start()
        }
    }

    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            detach { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Work whose end nobody waits for.
    func detach(_ work: @escaping @Sendable () -> Void) {
        jobs.withLock { $0.append(work) }
        available.signal()
    }
}
