import Foundation

/// Checks that bytes are exactly one well-formed JSON value in valid UTF-8,
/// and how deeply it nests, without recursion: a line of 100,000 `[` costs a
/// byte of stack per level on the heap, never a crash. Nothing downstream
/// decodes a message before this has accepted it.
public enum JSONValidator {
    public enum Verdict: Equatable, Sendable {
        case valid
        case tooDeep
        case invalid(String)
    }

    public static func validate(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) -> Verdict {
        var scanner = Scanner(bytes: bytes)
        do {
            let depth = try scanner.scanDocument()
            return depth > maxDepth ? .tooDeep : .valid
        } catch {
            return .invalid(error.message)
        }
    }

    struct Failure: Error {
        let message: String
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        private enum Container: UInt8 { case array, object }

        /// Returns the maximum nesting depth of the document.
        mutating func scanDocument() throws(Failure) -> Int {
            var stack: [Container] = []
            var maxDepth = 0
            skipWhitespace()
            valueLoop: while true {
                // A value is expected here.
                guard index < bytes.count else { throw fail("unexpected end of input") }
                switch bytes[index] {
                case UInt8(ascii: "["):
                    index += 1
                    stack.append(.array)
                    maxDepth = max(maxDepth, stack.count)
                    skipWhitespace()
                    if peek(UInt8(ascii: "]")) {
                        index += 1
                        stack.removeLast()
                    } else {
                        continue valueLoop
                    }
                case UInt8(ascii: "{"):
                    index += 1
                    stack.append(.object)
                    maxDepth = max(maxDepth, stack.count)
                    skipWhitespace()
                    if peek(UInt8(ascii: "}")) {
                        index += 1
                        stack.removeLast()
                    } else {
                        try scanKeyAndColon()
                        continue valueLoop
                    }
                case UInt8(ascii: "\""):
                    try scanString()
                case UInt8(ascii: "t"): try scanLiteral("true")
                case UInt8(ascii: "f"): try scanLiteral("false")
                case UInt8(ascii: "n"): try scanLiteral("null")
                default: try scanNumber()
                }
                // A value ended: close containers or move to the next member.
                while true {
                    skipWhitespace()
                    guard let top = stack.last else {
                        guard index == bytes.count else { throw fail("unexpected data after the value") }
                        return maxDepth
                    }
                    guard index < bytes.count else { throw fail("unexpected end of input") }
                    let byte = bytes[index]
                    index += 1
                    if byte == UInt8(ascii: ",") {
                        skipWhitespace()
                        if top == .object { try scanKeyAndColon() }
                        continue valueLoop
                    }
                    let closer = top == .array ? UInt8(ascii: "]") : UInt8(ascii: "}")
                    guard byte == closer else { throw fail("expected ',' or a closing bracket", at: index - 1) }
                    stack.removeLast()
                }
            }
        }

        private mutating func scanKeyAndColon() throws(Failure) {
            guard peek(UInt8(ascii: "\"")) else { throw fail("expected a string key") }
            try scanString()
            skipWhitespace()
            guard peek(UInt8(ascii: ":")) else { throw fail("expected ':'") }
            index += 1
            skipWhitespace()
        }

        private func peek(_ byte: UInt8) -> Bool {
            index < bytes.count && bytes[index] == byte
        }

        private mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        private mutating func scanLiteral(_ literal: StaticString) throws(Failure) {
            let count = literal.utf8CodeUnitCount
            guard index + count <= bytes.count else { throw fail("invalid literal") }
            let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
            for offset in 0..<count where bytes[index + offset] != expected[offset] {
                throw fail("invalid literal")
            }
            index += count
        }

        private mutating func scanNumber() throws(Failure) {
            let start = index
            if peek(UInt8(ascii: "-")) { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid value", at: start) }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                skipDigits()
            }
            if peek(UInt8(ascii: ".")) {
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number", at: start) }
                skipDigits()
            }
            if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number", at: start) }
                skipDigits()
            }
        }

        private func isDigit(_ byte: UInt8) -> Bool {
            byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
        }

        private mutating func skipDigits() {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }

        private mutating func scanString() throws(Failure) {
            let start = index
            index += 1
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return
                case UInt8(ascii: "\\"):
                    try scanEscape()
                case 0..<0x20:
                    throw fail("control character in a string")
                case 0x20..<0x80:
                    index += 1
                default:
                    try scanMultibyte()
                }
            }
            throw fail("unterminated string", at: start)
        }

        private mutating func scanEscape() throws(Failure) {
            guard index + 1 < bytes.count else { throw fail("unterminated escape") }
            switch bytes[index + 1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                index += 2
            case UInt8(ascii: "u"):
                guard index + 6 <= bytes.count else { throw fail("invalid \\u escape") }
                for offset in 2..<6 where hexValue(bytes[index + offset]) == nil {
                    throw fail("invalid \\u escape")
                }
                index += 6
            default:
                throw fail("invalid escape")
            }
        }

        /// Validates one multi-byte UTF-8 sequence (RFC 3629: no overlong
        /// forms, no surrogates, nothing above U+10FFFF).
        private mutating func scanMultibyte() throws(Failure) {
            let lead = bytes[index]
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: throw fail("invalid UTF-8")
            }
            guard index + length <= bytes.count else { throw fail("invalid UTF-8") }
            let second = bytes[index + 1]
            guard second >= low, second <= high else { throw fail("invalid UTF-8") }
            for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 {
                throw fail("invalid UTF-8")
            }
            index += length
        }

        private func fail(_ message: String, at position: Int? = nil) -> Failure {
            Failure(message: "\(message) at byte \(position ?? index)")
        }
    }
}

/// The value of one hexadecimal digit.
public func hexValue(_ byte: UInt8) -> UInt32? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
    default: nil
    }
}

/// Decodes JSON that came from outside only once the validator accepted it:
/// Foundation's decoder here crashes the process on some deep inputs.
public enum SafeJSON {
    public struct Refused: Error, CustomStringConvertible {
        public let description: String
    }

    public static let maxDepth = 64

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        let verdict = bytes.withUnsafeBufferPointer { JSONValidator.validate($0, maxDepth: maxDepth) }
        switch verdict {
        case .valid: return try JSONDecoder().decode(type, from: Data(bytes))
        case .tooDeep: throw Refused(description: "JSON nested deeper than \(maxDepth) levels")
        case .invalid(let detail): throw Refused(description: "not JSON: \(detail)")
        }
    }
}
