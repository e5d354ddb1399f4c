import Dispatch
import Synchronization

/// Runs async `work` to its end from a thread that may block (the main
/// thread at start-up, a thread of one's own), never one of Swift's
/// cooperative threads, which it would hold while `work` needs them.
public func awaitFromThread<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
    let outcome = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let result: Result<T, any Error>
        do { result = .success(try await work()) } catch { result = .failure(error) }
        outcome.withLock { $0 = result }
        done.signal()
    }
    done.wait()
    return outcome.withLock { $0! }
}
