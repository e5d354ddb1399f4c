import Dispatch

/// Runs blocking work (file reads, fsync) on dispatch threads, never on
/// Swift's cooperative ones.
struct BlockingWork: Sendable {
    private let queue = DispatchQueue(label: "pushdoc.blocking", attributes: .concurrent)

    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}
