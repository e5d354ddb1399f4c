import Glibc

/// Splits a byte stream into `\n`-terminated lines (a trailing `\r` is
/// dropped, blank lines are skipped). A line longer than `maxBytes` is
/// discarded as it streams by and reported once as `.oversized`: the framer
/// never holds more than `maxBytes` of it.
public struct LineFramer {
    public enum Frame {
        case line(UnsafeBufferPointer<UInt8>)
        case oversized
    }

    public let maxBytes: Int
    private var pending: [UInt8] = []
    private var discarding = false

    /// Bytes of an unfinished line held right now.
    public var bufferedByteCount: Int { pending.count }

    /// Memory reserved for unfinished lines right now (what the budget counts).
    public var reservedByteCount: Int { pending.capacity }

    public init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    /// Feeds a chunk; `emit` sees each complete frame, whose buffer is valid
    /// only during the call.
    public mutating func feed(_ chunk: UnsafeBufferPointer<UInt8>, emit: (Frame) -> Void) {
        guard let base = chunk.baseAddress else { return }
        var start = 0
        while start < chunk.count {
            let remaining = chunk.count - start
            guard let found = memchr(base + start, 0x0A, remaining) else {
                absorbPartial(UnsafeBufferPointer(start: base + start, count: remaining), emit: emit)
                return
            }
            let end = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            let piece = UnsafeBufferPointer(start: base + start, count: end - start)
            start = end + 1
            if discarding {
                discarding = false
                continue
            }
            if pending.isEmpty {
                deliver(piece, emit: emit)
            } else if pending.count + piece.count > maxBytes + 1 {
                pending.removeAll(keepingCapacity: false)
                emit(.oversized)
            } else {
                append(piece)
                pending.withUnsafeBufferPointer { deliver($0, emit: emit) }
                pending.removeAll(keepingCapacity: pending.capacity <= 1 << 16)
            }
        }
    }

    /// Whatever is left at end of input counts as a last line.
    public mutating func finish(emit: (Frame) -> Void) {
        guard !discarding, !pending.isEmpty else { return }
        pending.withUnsafeBufferPointer { deliver($0, emit: emit) }
        pending.removeAll()
    }

    private mutating func absorbPartial(_ piece: UnsafeBufferPointer<UInt8>, emit: (Frame) -> Void) {
        if discarding { return }
        // One byte of slack for a `\r` that the terminator will strip.
        if pending.count + piece.count > maxBytes + 1 {
            pending.removeAll(keepingCapacity: false)
            discarding = true
            emit(.oversized)
        } else {
            append(piece)
        }
    }

    /// Grows the buffer by doubling, but never past the limit: a long line
    /// must not cost twice the limit.
    private mutating func append(_ piece: UnsafeBufferPointer<UInt8>) {
        let needed = pending.count + piece.count
        if needed > pending.capacity {
            pending.reserveCapacity(min(maxBytes + 1, max(needed, pending.capacity * 2)))
        }
        pending.append(contentsOf: piece)
    }

    private func deliver(_ line: UnsafeBufferPointer<UInt8>, emit: (Frame) -> Void) {
        var count = line.count
        if count > 0, line[count - 1] == 0x0D { count -= 1 }
        if count > maxBytes {
            emit(.oversized)
            return
        }
        let trimmed = UnsafeBufferPointer(rebasing: line[0..<count])
        if trimmed.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
        emit(.line(trimmed))
    }
}
