/// A page of a list as a client asked for it, range-checked before any
/// arithmetic: a page number near `Int.max` would otherwise overflow the
/// offset and trap, killing the engine for every client.
public struct Paging: Sendable, Equatable {
    public static let pages = 1...1_000_000_000
    public static let sizes = 1...500

    public let page: Int
    public let pageSize: Int

    public init(page: Int?, pageSize: Int?) throws {
        let page = page ?? 1
        let pageSize = pageSize ?? 50
        guard Self.pages.contains(page) else {
            throw EngineError.invalidParameter(field: "page", message: "must be from 1 to \(Self.pages.upperBound)")
        }
        guard Self.sizes.contains(pageSize) else {
            throw EngineError.invalidParameter(field: "pageSize", message: "must be from 1 to \(Self.sizes.upperBound)")
        }
        self.page = page
        self.pageSize = pageSize
    }

    /// How many items come before this page; at most 5 × 10¹¹, far from any overflow.
    public var offset: Int { (page - 1) * pageSize }
}

/// The checks of a list's `limit` and of a word a client filters by.
enum ListParameters {
    static let limits = 1...1000

    static func checkLimit(_ limit: Int) throws {
        guard limits.contains(limit) else {
            throw EngineError.invalidParameter(field: "limit", message: "must be from 1 to \(limits.upperBound)")
        }
    }

    /// `text` as one of `Word`'s spellings, or nil when none was given.
    static func word<Word: CaseIterable & RawRepresentable<String>>(_ text: String?, field: String) throws -> Word? {
        guard let text else { return nil }
        guard let word = Word(rawValue: text) else {
            throw EngineError.invalidParameter(
                field: field, message: "one of " + Word.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return word
    }
}
