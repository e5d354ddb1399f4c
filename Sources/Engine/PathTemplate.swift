import Foundation

/// A deposit or archive path of step 4: relative to a dossier's root,
/// `/`-separated, with `{millésime}` (or `{millesime}`: the year, 4 digits)
/// and `{mois}` (the month, 2 digits). Pure: matching and expansion take the
/// date's year and month, already in the engine's time zone.
public struct PathTemplate: Sendable, Hashable, CustomStringConvertible {
    public enum Segment: Sendable, Hashable {
        case literal(String)
        /// A segment with variables: its pieces in order.
        case pattern([Piece])
    }

    public enum Piece: Sendable, Hashable {
        case text(String)
        case year
        case month
    }

    /// Why a path is refused, as a stable snake_case word.
    public enum Problem: String, Error, Sendable {
        case empty = "empty_path"
        case absolute = "absolute_path"
        case dotSegment = "dot_segment"
        case unknownVariable = "unknown_variable"
    }

    /// The path as given (for display).
    public let text: String
    /// Normalised segments: NFC, lower case, no empty segment.
    public let segments: [Segment]

    public init(_ text: String) throws(Problem) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw .empty }
        guard !trimmed.hasPrefix("/"), !trimmed.hasPrefix("\\") else { throw .absolute }
        let parts = Self.normalisedSegments(trimmed)
        guard !parts.isEmpty else { throw .empty }
        var segments: [Segment] = []
        for part in parts {
            guard part != ".", part != ".." else { throw .dotSegment }
            segments.append(try Self.parseSegment(part))
        }
        self.text = trimmed.precomposedStringWithCanonicalMapping
        self.segments = segments
    }

    public var description: String { text }

    /// The template in canonical form: `{millesime}` and `{millésime}` alike.
    public var canonical: String {
        segments.map { segment in
            switch segment {
            case .literal(let text): text
            case .pattern(let pieces):
                pieces.map { piece in
                    switch piece {
                    case .text(let text): text
                    case .year: "{millésime}"
                    case .month: "{mois}"
                    }
                }.joined()
            }
        }.joined(separator: "/")
    }

    public var hasVariables: Bool {
        segments.contains { if case .pattern = $0 { true } else { false } }
    }

    /// Whether a folder path (the parent of a file) is this template's
    /// folder: for the given year and month, or for any when they are nil.
    public func matches(folder: String, year: Int?, month: Int?) -> Bool {
        let candidate = Self.normalisedSegments(folder)
        guard candidate.count == segments.count else { return false }
        return zip(segments, candidate).allSatisfy { segment, actual in
            switch segment {
            case .literal(let text): return text == actual
            case .pattern(let pieces): return Self.matches(pieces[...], actual[...], year: year, month: month)
            }
        }
    }

    /// The path for a given year and month, in the case it was written in.
    public func expanded(year: Int, month: Int) -> String {
        let (yearText, monthText) = Self.texts(year: year, month: month)
        return Self.splitSegments(text).map { part in
            Self.replacingVariables(in: part, year: yearText, month: monthText)
        }.joined(separator: "/")
    }

    /// `{millésime}` and `{mois}` as paths write them: "2026", "03".
    static func texts(year: Int, month: Int) -> (year: String, month: String) {
        func padded(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return (padded(year, 4), padded(month, 2))
    }

    /// A folder path as compared: NFC, lower case, no empty segments.
    public static func normalisedSegments(_ path: String) -> [String] {
        splitSegments(path.precomposedStringWithCanonicalMapping.lowercased())
    }

    private static func splitSegments(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    private static func parseSegment(_ part: String) throws(Problem) -> Segment {
        guard part.contains("{") || part.contains("}") else { return .literal(part) }
        var pieces: [Piece] = []
        var rest = part[...]
        while let open = rest.firstIndex(of: "{") {
            if open > rest.startIndex { pieces.append(.text(String(rest[..<open]))) }
            guard let close = rest[open...].firstIndex(of: "}") else { throw .unknownVariable }
            switch rest[rest.index(after: open)..<close] {
            case "millésime", "millesime": pieces.append(.year)
            case "mois": pieces.append(.month)
            default: throw .unknownVariable
            }
            rest = rest[rest.index(after: close)...]
        }
        guard !rest.contains("}") else { throw .unknownVariable }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        return .pattern(pieces)
    }

    private static func matches(_ pieces: ArraySlice<Piece>, _ actual: Substring, year: Int?, month: Int?) -> Bool {
        guard let first = pieces.first else { return actual.isEmpty }
        let rest = pieces.dropFirst()
        switch first {
        case .text(let text):
            return actual.hasPrefix(text) && matches(rest, actual.dropFirst(text.count), year: year, month: month)
        case .year, .month:
            let width = first == .year ? 4 : 2
            let digits = actual.prefix(width)
            guard digits.count == width, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(digits)
            else { return false }
            let fits: Bool
            if first == .year {
                fits = year.map { $0 == value } ?? true
            } else {
                fits = month.map { $0 == value } ?? (1...12).contains(value)
            }
            return fits && matches(rest, actual.dropFirst(width), year: year, month: month)
        }
    }

    static func replacingVariables(in text: String, year: String, month: String) -> String {
        text.replacingOccurrences(of: "{millésime}", with: year, options: .caseInsensitive)
            .replacingOccurrences(of: "{millesime}", with: year, options: .caseInsensitive)
            .replacingOccurrences(of: "{mois}", with: month, options: .caseInsensitive)
    }
}
