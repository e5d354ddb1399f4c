import Foundation
import Synchronization

private let launching = Mutex<Void>(())

extension Process {
    /// `run()`, one launch at a time in this test process. Two tests once
    /// crashed inside Foundation's `Process.run()` (a `memcpy` reading past
    /// a mapping, on Linux) while many tests launched processes at once.
    public func runOneAtATime() throws {
        try launching.withLock { _ in try run() }
    }
}
