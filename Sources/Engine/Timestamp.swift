import Foundation

/// Instants as the protocol spells them: ISO 8601 in UTC, with milliseconds.
enum Timestamp {
    static func text(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
