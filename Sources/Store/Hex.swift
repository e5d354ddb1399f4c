/// Lower-case hexadecimal, as digests and identifiers are written.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Table lookups: every submission writes a digest, and `String(format:)` per byte is slow.
    public static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
