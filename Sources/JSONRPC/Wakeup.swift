import CLinux
import Glibc

/// Wakes a connection's thread out of `poll`: an eventfd that any thread
/// may signal, watched beside the connection's socket or pipes.
final class Wakeup: Sendable {
    let fd: Int32

    init() {
        fd = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(fd >= 0, "eventfd: \(String(cString: strerror(errno)))")
    }

    deinit { close(fd) }

    func signal() {
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    /// Takes every signal given so far.
    func clear() {
        var count: UInt64 = 0
        _ = read(fd, &count, 8)
    }
}

/// The `poll` timeout, in milliseconds rounded up, until `deadline`; -1 (no
/// timeout) without one.
func pollTimeout(until deadline: ContinuousClock.Instant?) -> Int32 {
    guard let deadline else { return -1 }
    let (seconds, attoseconds) = max(deadline - .now, .zero).components
    return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
}
