/// MCF's id for one firm's connector: 1 to 128 characters of `A–Z a–z 0–9
/// . _ : -`, compared exactly. Every row the engine keeps belongs to one.
public struct ConnectorName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// The connector of a call that names none, and of a version-1 data directory.
    public static let `default` = ConnectorName(checked: "default")

    /// Nil for a name outside the alphabet or the length.
    public init?(_ text: String) {
        guard (1...128).contains(text.utf8.count),
            text.utf8.allSatisfy({ byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || ".:_-".utf8.contains(byte)
            })
        else { return nil }
        rawValue = text
    }

    /// Where the engine keeps settings of its own (the digest schedule's
    /// day): no connector can have the empty name.
    static let engineWide = ConnectorName(checked: "")

    private init(checked text: String) { rawValue = text }

    public var description: String { rawValue }

    public static func < (lhs: ConnectorName, rhs: ConnectorName) -> Bool { lhs.rawValue < rhs.rawValue }
}
