import Foundation

/// A parsed protocol line, read through Foundation's JSONSerialization: an
/// implementation independent of the engine's own reader.
public struct JSONLine: @unchecked Sendable, CustomStringConvertible {
    // @unchecked: `value` is an immutable tree of Foundation values.
    public let value: Any
    public let text: String

    public init(_ text: String) throws {
        self.text = text
        self.value = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    public var description: String { text }

    public var object: [String: Any]? { value as? [String: Any] }
    public var array: [Any]? { value as? [Any] }

    public subscript(key: String) -> Any? { object?[key] }

    /// Follows a path of keys and array indexes: `line.at("error", "data", "reason")`.
    public func at(_ path: Any...) -> Any? { resolve(path) }
    public func string(_ path: Any...) -> String? { resolve(path) as? String }
    public func int(_ path: Any...) -> Int? { (resolve(path) as? NSNumber)?.intValue }
    public func bool(_ path: Any...) -> Bool? { (resolve(path) as? NSNumber)?.boolValue }

    public var id: Any? { self["id"] }
    public var errorCode: Int? { int("error", "code") }
    public var errorReason: String? { string("error", "data", "reason") }

    private func resolve(_ path: [Any]) -> Any? {
        var current: Any? = value
        for step in path {
            if let key = step as? String {
                current = (current as? [String: Any])?[key]
            } else if let index = step as? Int, let items = current as? [Any], items.indices.contains(index) {
                current = items[index]
            } else {
                return nil
            }
        }
        return current
    }
}
