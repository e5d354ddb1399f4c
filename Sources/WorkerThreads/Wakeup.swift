import CLinux
import Glibc

/// Wakes a thread out of `poll`: an eventfd that any thread may signal,
/// watched beside a connection's socket or pipes.
public final class Wakeup: Sendable {
    public let fd: Int32

    public init() {
        fd = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(fd >= 0, "eventfd: \(String(cString: strerror(errno)))")
    }

    deinit { close(fd) }

    public func signal() {
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    /// Takes every signal given so far.
    public func clear() {
        var count: UInt64 = 0
        _ = read(fd, &count, 8)
    }
}
