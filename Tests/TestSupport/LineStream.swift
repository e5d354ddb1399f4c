import Foundation
import Glibc
import Synchronization

/// Collects the lines a file descriptor produces, on a thread of its own, so
/// tests can await them without blocking Swift's cooperative threads.
public final class LineStream: Sendable {
    public struct Timeout: Error, CustomStringConvertible {
        public let description: String
    }

    private struct State {
        var lines: [String] = []
        var partial: [UInt8] = []
        var ended = false
        var byteCount = 0
        /// Bumped at each new line or end of file; waiters sleep until it moves.
        var generation: UInt64 = 0
        var waiters: [CheckedContinuation<Void, Never>] = []

        /// Moves the generation on and hands back the waiters to resume.
        mutating func wake() -> [CheckedContinuation<Void, Never>] {
            generation += 1
            defer { waiters.removeAll() }
            return waiters
        }
    }

    private let state = Mutex(State())

    /// Reads `fd` until end of file; `closeWhenDone` closes it then.
    public init(fd: Int32, closeWhenDone: Bool = true) {
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                self.append(buffer[0..<count])
            }
            let waiters = self.state.withLock { state in
                if !state.partial.isEmpty { state.lines.append(String(decoding: state.partial, as: UTF8.self)) }
                state.ended = true
                return state.wake()
            }
            waiters.forEach { $0.resume() }
            if closeWhenDone { close(fd) }
        }
        thread.start()
    }

    private func append(_ bytes: ArraySlice<UInt8>) {
        let waiters = state.withLock { state in
            state.byteCount += bytes.count
            for byte in bytes {
                if byte == 0x0A {
                    state.lines.append(String(decoding: state.partial, as: UTF8.self))
                    state.partial.removeAll(keepingCapacity: true)
                } else {
                    state.partial.append(byte)
                }
            }
            return state.wake()
        }
        waiters.forEach { $0.resume() }
    }

    /// Sleeps until a line arrives or the stream ends (or 50 ms pass, so a
    /// deadline is noticed), without polling.
    private func waitForChange(since generation: UInt64) async {
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(50))
            self?.state.withLock { $0.wake() }.forEach { $0.resume() }
        }
        await withCheckedContinuation { continuation in
            let early = state.withLock { state -> Bool in
                if state.generation != generation { return true }
                state.waiters.append(continuation)
                return false
            }
            if early { continuation.resume() }
        }
        timer.cancel()
    }

    public var isEnded: Bool { state.withLock { $0.ended } }

    /// Every byte read so far (lines and the unterminated rest).
    public var totalBytes: Int { state.withLock { $0.byteCount } }

    /// The lines read so far and not yet taken.
    public var pending: [String] { state.withLock { $0.lines } }

    /// Takes every line received and not yet taken.
    public func drainPending() -> [String] {
        state.withLock { state in
            defer { state.lines.removeAll() }
            return state.lines
        }
    }

    /// Takes the first line (read or to come) that `matches`.
    public func take(
        timeout: Duration = .seconds(20), where matches: @escaping @Sendable (String) -> Bool = { _ in true }
    ) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let found = state.withLock { state -> (String?, Bool, UInt64) in
                if let index = state.lines.firstIndex(where: matches) {
                    return (state.lines.remove(at: index), state.ended, state.generation)
                }
                return (nil, state.ended, state.generation)
            }
            if let line = found.0 { return line }
            if found.1 { throw Timeout(description: "stream ended without the line awaited; unread: \(pending)") }
            if ContinuousClock.now > deadline {
                throw Timeout(description: "no line awaited within \(timeout); unread: \(pending.prefix(5))")
            }
            await waitForChange(since: found.2)
        }
    }

    /// Waits for end of file.
    public func waitForEnd(timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (ended, generation) = state.withLock { ($0.ended, $0.generation) }
            if ended { return }
            if ContinuousClock.now > deadline { throw Timeout(description: "stream still open after \(timeout)") }
            await waitForChange(since: generation)
        }
    }
}
