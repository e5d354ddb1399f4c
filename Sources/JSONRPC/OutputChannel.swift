import Dispatch
import Glibc
import Synchronization

/// Writes whole messages to a file descriptor from its own serial queue, so
/// that a slow reader never blocks Swift's cooperative threads. Messages
/// queued while a write is under way leave together in the next write.
/// While the connection's reader holds the channel (one chunk of input),
/// answers wait, then leave in one write from the reader's own thread: a
/// lone `ping` costs no hand-off, a pipelined burst one write per chunk.
public final class OutputChannel: Sendable {
    private struct State {
        var buffer: [UInt8] = []
        var draining = false
        var held = false
        var broken = false
    }

    private let fd: Int32
    let isSocket: Bool
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "pushdoc.jsonrpc.output")

    /// `isSocket` selects `send(MSG_NOSIGNAL)`: a vanished peer is an error
    /// code, never a signal.
    public init(fd: Int32, isSocket: Bool) {
        self.fd = fd
        self.isSocket = isSocket
    }

    /// Bytes waiting to be written: the reader slows down when it grows.
    public var backlog: Int { state.withLock { $0.buffer.count } }

    /// Whether the peer stopped reading (EPIPE, reset): nothing more is sent.
    public var isBroken: Bool { state.withLock { $0.broken } }

    public func write(_ bytes: [UInt8]) {
        let startDrain = state.withLock { state -> Bool in
            guard !state.broken else { return false }
            state.buffer.append(contentsOf: bytes)
            guard !state.draining, !state.held else { return false }
            state.draining = true
            return true
        }
        if startDrain { queue.async { self.drain() } }
    }

    /// Holds writes back while the reader handles one chunk of input.
    public func hold() {
        state.withLock { $0.held = true }
    }

    /// Ends a hold, writing what it kept back on the calling thread, which
    /// must be the reader's own (never one of Swift's cooperative threads).
    public func release() {
        let drainHere = state.withLock { state -> Bool in
            state.held = false
            guard !state.draining, !state.buffer.isEmpty, !state.broken else { return false }
            state.draining = true
            return true
        }
        if drainHere { drain() }
    }

    /// Returns once everything queued so far has been written (or the peer
    /// is gone). Blocks the caller: for shutdown, from a non-pool thread.
    public func flush() {
        queue.sync {}
        while state.withLock({ $0.draining && !$0.broken }) { queue.sync {} }
    }

    private func drain() {
        while true {
            let chunk = state.withLock { state -> [UInt8]? in
                guard !state.buffer.isEmpty, !state.broken else {
                    state.draining = false
                    return nil
                }
                defer { state.buffer = [] }
                return state.buffer
            }
            guard let chunk else { return }
            if !writeAll(chunk) {
                state.withLock { state in
                    state.broken = true
                    state.buffer = []
                }
            }
        }
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let pointer = raw.baseAddress! + offset
                let written =
                    isSocket
                    ? send(fd, pointer, raw.count - offset, Int32(MSG_NOSIGNAL))
                    : Glibc.write(fd, pointer, raw.count - offset)
                if written < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }
}
