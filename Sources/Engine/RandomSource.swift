import Store
import Synchronization

/// The engine's chance: the spread of each retry and the ids of new rules.
/// Injected, so that a test seeds it and knows the times and ids it gives.
public final class RandomSource: Sendable {
    private let generator: Mutex<any RandomNumberGenerator & Sendable>

    public init(_ generator: some RandomNumberGenerator & Sendable) {
        self.generator = Mutex(generator)
    }

    /// The operating system's generator.
    public static func system() -> RandomSource { RandomSource(SystemRandomNumberGenerator()) }

    /// A number in -1..<1, for `RetrySchedule`; a generator's 0 gives 0.
    func jitter() -> Double {
        Double(Int64(bitPattern: next())) / 0x1p63
    }

    /// `count` random bytes as lowercase hexadecimal.
    func hex(bytes count: Int) -> String {
        Hex.encode((0..<count).map { _ in UInt8(truncatingIfNeeded: next()) })
    }

    private func next() -> UInt64 { generator.withLock { $0.next() } }
}
