/// One pass over raw params that names where a value is wrong, without
/// decoding or copying the values.
///
/// Text that reaches storage, mail or Inqom holds no NUL or other C0
/// control character: C strings end at a NUL (`"ID\u0000one"` was stored as
/// `"ID"`), mail headers break at CR/LF. JSON can carry them only as
/// escapes, in values or keys.
///
/// A number that is not a 64-bit integer (`2.5`, `1e3`, 20 digits) fails
/// Foundation's decoder with no path at all; the walk finds it.
extension RawJSON {
    /// The path (`dossiers.0.name`) of the first string or key holding a
    /// control character, or nil when there is none.
    public func firstControlCharacterPath() -> String? {
        bytes.withUnsafeBufferPointer { Self.scan($0, numbers: false) }
    }

    /// The path of the first number that is not a 64-bit integer.
    public func firstNonIntegerPath() -> String? {
        bytes.withUnsafeBufferPointer { Self.scan($0, numbers: true) }
    }

    private enum Frame {
        /// `key`: the range of the current member's name (quotes included), once read.
        case object(key: Range<Int>?)
        case array(index: Int)
    }

    /// Looks for control characters in strings, or (`numbers`) for numbers
    /// that are not 64-bit integers.
    private static func scan(_ bytes: UnsafeBufferPointer<UInt8>, numbers: Bool) -> String? {
        var frames: [Frame] = []
        var position = 0
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "{"): frames.append(.object(key: nil))
            case UInt8(ascii: "["): frames.append(.array(index: 0))
            case UInt8(ascii: "}"), UInt8(ascii: "]"): frames.removeLast()
            case UInt8(ascii: ","):
                switch frames.last {
                case .array(let index)?: frames[frames.count - 1] = .array(index: index + 1)
                case .object?: frames[frames.count - 1] = .object(key: nil)
                case nil: break
                }
            case UInt8(ascii: "\""):
                let (end, hasControl) = endOfString(bytes, openingAt: position)
                if case .object(key: nil)? = frames.last {
                    frames[frames.count - 1] = .object(key: position..<end + 1)
                    if hasControl, !numbers { return path(bytes, frames) }
                } else if hasControl, !numbers {
                    return path(bytes, frames)
                }
                position = end
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                var end = position
                while end < bytes.count, "-+.eE0123456789".utf8.contains(bytes[end]) { end += 1 }
                let literal = String(decoding: UnsafeBufferPointer(rebasing: bytes[position..<end]), as: UTF8.self)
                if numbers, Int64(literal) == nil { return path(bytes, frames) }
                position = end - 1
            default: break
            }
            position += 1
        }
        return nil
    }

    /// Where the string opening at `start` closes, and whether an escape in
    /// it stands for a control character (below U+0020).
    private static func endOfString(_ bytes: UnsafeBufferPointer<UInt8>, openingAt start: Int) -> (Int, Bool) {
        var position = start + 1
        var hasControl = false
        while bytes[position] != UInt8(ascii: "\"") {
            if bytes[position] == UInt8(ascii: "\\") {
                let escaped = bytes[position + 1]
                if "bfnrt".utf8.contains(escaped) {
                    hasControl = true
                } else if escaped == UInt8(ascii: "u"), bytes[position + 2] == UInt8(ascii: "0"),
                    bytes[position + 3] == UInt8(ascii: "0"), bytes[position + 4] == UInt8(ascii: "0")
                        || bytes[position + 4] == UInt8(ascii: "1")
                {
                    hasControl = true
                }
                position += 2
            } else {
                position += 1
            }
        }
        return (position, hasControl)
    }

    private static func path(_ bytes: UnsafeBufferPointer<UInt8>, _ frames: [Frame]) -> String {
        frames.compactMap { frame -> String? in
            switch frame {
            case .array(let index): "\(index)"
            case .object(let key?): JSONString.decode(bytes[key])
            case .object(key: nil): nil
            }
        }.joined(separator: ".")
    }
}
