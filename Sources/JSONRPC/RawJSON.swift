import Foundation
import JSONSafety

/// The exact bytes of one JSON value as received, already accepted by
/// `JSONValidator`. Ids are echoed from it byte for byte, and params reach
/// `JSONDecoder` only through it, so no decoder ever sees unchecked input.
public struct RawJSON: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Wraps bytes that are known to be one valid JSON value.
    init(validated bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Accepts bytes only if they are one valid JSON value of sane depth.
    public init(parsing bytes: [UInt8]) throws(ResponseError) {
        let verdict = bytes.withUnsafeBufferPointer { JSONValidator.validate($0, maxDepth: RPCServer.maxDepth) }
        switch verdict {
        case .valid: self.bytes = bytes
        case .tooDeep: throw .invalidRequest("nested deeper than \(RPCServer.maxDepth) levels")
        case .invalid(let detail): throw .parseError(detail)
        }
    }

    /// Encodes a value. Only this process's own encoder output is trusted
    /// without validation.
    public init<T: Encodable>(encoding value: T) throws {
        if let raw = value as? RawJSON {
            self = raw
            return
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        self.bytes = Array(try encoder.encode(value))
    }

    /// The same value without insignificant whitespace: one line, fit to send.
    public func compacted() -> RawJSON {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                continue
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            }
            output.append(byte)
        }
        return RawJSON(validated: output)
    }

    public static let null = RawJSON(validated: Array("null".utf8))
    public static let emptyObject = RawJSON(validated: Array("{}".utf8))

    public var description: String { String(decoding: bytes, as: UTF8.self) }

    public var kind: JSONKind { JSONKind(firstByte: bytes.first) }

    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        // The decoder reads the bytes in place: a 16 MiB contentBase64 is not copied once more.
        try bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return try JSONDecoder().decode(type, from: Data()) }
            return try JSONDecoder().decode(
                type, from: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: raw.count, deallocator: .none))
        }
    }

    /// The members of an object, in order; later duplicates win on lookup.
    public func members() -> [(key: String, value: RawJSON)] {
        bytes.withUnsafeBufferPointer { buffer in
            var reader = ShallowReader(bytes: buffer)
            return reader.objectMembers()
        }
    }

    public func member(_ name: String) -> RawJSON? {
        members().last { $0.key == name }?.value
    }

    public func elements() -> [RawJSON] {
        bytes.withUnsafeBufferPointer { buffer in
            var reader = ShallowReader(bytes: buffer)
            return reader.arrayElements()
        }
    }

    /// The decoded text when this is a JSON string.
    public var stringValue: String? {
        guard kind == .string else { return nil }
        return bytes.withUnsafeBufferPointer { JSONString.decode($0[...]) }
    }
}

/// Nested inside other Codable values, raw JSON goes through a generic tree.
extension RawJSON: Codable {
    public init(from decoder: any Decoder) throws {
        self = try RawJSON(encoding: try JSONTree(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try decode(JSONTree.self).encode(to: encoder)
    }
}

private enum JSONTree: Codable {
    case null, bool(Bool), integer(Int64), number(Double), string(String)
    case array([JSONTree]), object([String: JSONTree])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONTree].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONTree].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

public enum JSONKind: Sendable {
    case object, array, string, number, bool, null

    init(firstByte: UInt8?) {
        switch firstByte {
        case UInt8(ascii: "{"): self = .object
        case UInt8(ascii: "["): self = .array
        case UInt8(ascii: "\""): self = .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): self = .bool
        case UInt8(ascii: "n"): self = .null
        default: self = .number
        }
    }
}

/// Walks one level of validated JSON without decoding what it skips.
struct ShallowReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    mutating func objectMembers() -> [(key: String, value: RawJSON)] {
        var members: [(key: String, value: RawJSON)] = []
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return members }
        index += 1
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return members }
            let keyRange = skipValue()
            let key = JSONString.decode(bytes[keyRange])
            skipWhitespace()
            index += 1  // ':'
            skipWhitespace()
            let valueRange = skipValue()
            members.append((key, RawJSON(validated: Array(bytes[valueRange]))))
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { return members }
            index += 1
        }
    }

    mutating func arrayElements() -> [RawJSON] {
        var elements: [RawJSON] = []
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { return elements }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { return elements }
        while true {
            skipWhitespace()
            let range = skipValue()
            elements.append(RawJSON(validated: Array(bytes[range])))
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { return elements }
            index += 1
        }
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A
            || bytes[index] == 0x0D
        {
            index += 1
        }
    }

    /// Skips one value and returns its byte range. Depth is a counter, not
    /// recursion: the bytes are already known to be well formed.
    private mutating func skipValue() -> Range<Int> {
        let start = index
        var depth = 0
        repeat {
            guard index < bytes.count else { break }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index += 1
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                index += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
                index += 1
            case UInt8(ascii: ","), UInt8(ascii: ":"), 0x20, 0x09, 0x0A, 0x0D:
                index += 1
            default:
                // A scalar: run to the next delimiter.
                while index < bytes.count {
                    let byte = bytes[index]
                    if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}")
                        || byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
                    {
                        break
                    }
                    index += 1
                }
            }
        } while depth > 0
        return start..<index
    }
}
