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
            self.state.withLock { state in
                if !state.partial.isEmpty { state.lines.append(String(decoding: state.partial, as: UTF8.self)) }
                state.ended = true
            }
            if closeWhenDone { close(fd) }
        }
        thread.start()
    }

    private func append(_ bytes: ArraySlice<UInt8>) {
        state.withLock { state in
            state.byteCount += bytes.count
            for byte in bytes {
                if byte == 0x0A {
                    state.lines.append(String(decoding: state.partial, as: UTF8.self))
                    state.partial.removeAll(keepingCapacity: true)
                } else {
                    state.partial.append(byte)
                }
            }
        }
    }

    public var isEnded: Bool { state.withLock { $0.ended } }

    /// Every byte read so far (lines and the unterminated rest).
    public var totalBytes: Int { state.withLock { $0.byteCount } }

    /// The lines read so far and not yet taken.
    public var pending: [String] { state.withLock { $0.lines } }

    /// Takes the first line (read or to come) that `matches`.
    public func take(
        timeout: Duration = .seconds(20), where matches: @escaping @Sendable (String) -> Bool = { _ in true }
    ) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let found = state.withLock { state -> (String?, Bool) in
                if let index = state.lines.firstIndex(where: matches) {
                    return (state.lines.remove(at: index), state.ended)
                }
                return (nil, state.ended)
            }
            if let line = found.0 { return line }
            if found.1 { throw Timeout(description: "stream ended without the line awaited; unread: \(pending)") }
            if ContinuousClock.now > deadline {
                throw Timeout(description: "no line awaited within \(timeout); unread: \(pending.prefix(5))")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Waits for end of file.
    public func waitForEnd(timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !isEnded {
            if ContinuousClock.now > deadline { throw Timeout(description: "stream still open after \(timeout)") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}
