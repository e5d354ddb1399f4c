/// A French establishment number: 14 digits, checked by Luhn, with La
/// Poste's exception (SIREN 356000000: the digits' sum is a multiple of 5).
public struct Siret: Sendable, Hashable, CustomStringConvertible {
    public let digits: String

    public var description: String { digits }

    /// Accepts what people type: spaces, dots, dashes and non-breaking
    /// spaces are removed; what remains must be a valid SIRET.
    public init?(_ text: String) {
        let ignored: Set<Character> = [" ", ".", "-", "\u{00A0}", "\u{202F}", "\t"]
        let kept = text.filter { !ignored.contains($0) }
        guard kept.count == 14, kept.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let values = kept.compactMap { $0.wholeNumberValue }
        guard Self.luhnValid(values) || (kept.hasPrefix("356000000") && values.reduce(0, +) % 5 == 0) else {
            return nil
        }
        self.digits = kept
    }

    static func luhnValid(_ values: [Int]) -> Bool {
        var sum = 0
        for (offset, value) in values.reversed().enumerated() {
            let doubled = offset % 2 == 1 ? value * 2 : value
            sum += doubled > 9 ? doubled - 9 : doubled
        }
        return sum % 10 == 0
    }
}
