import Glibc

/// The `poll` timeout, in milliseconds rounded up, until `deadline`; -1 (no
/// timeout) without one.
func pollTimeout(until deadline: ContinuousClock.Instant?) -> Int32 {
    guard let deadline else { return -1 }
    let (seconds, attoseconds) = max(deadline - .now, .zero).components
    return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
}
