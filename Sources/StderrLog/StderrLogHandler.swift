import Dispatch
import Foundation
import Glibc
import Logging

/// A swift-log backend writing one line per record to stderr, as `key=value`
/// text or as JSON. Lines are written from a serial queue of their own so a
/// slow reader of stderr never blocks the caller.
public struct StderrLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    private static let queue = DispatchQueue(label: "pushdoc.log")

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let format: Format

    public init(label: String, level: Logger.Level, format: Format) {
        self.label = label
        self.logLevel = level
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { $1 } }
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        let line = Self.render(
            time: Date(), level: event.level, message: event.message.description, label: label,
            metadata: fields, format: format)
        Self.queue.async { Self.writeToStderr(line) }
    }

    private static func writeToStderr(_ line: String) {
        var bytes = Array(line.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Waits until every record logged so far is written.
    public static func flush() {
        queue.sync {}
    }

    static func render(
        time: Date, level: Logger.Level, message: String, label: String, metadata: Logger.Metadata, format: Format
    ) -> String {
        let timestamp = time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let sorted = metadata.sorted { $0.key < $1.key }
        switch format {
        case .text:
            var line = "ts=\(timestamp) level=\(level) logger=\(label) msg=\(quoted(message))"
            for (key, value) in sorted { line += " \(key)=\(quoted(value.description))" }
            return line + "\n"
        case .json:
            var object: [String: String] = ["ts": timestamp, "level": level.rawValue, "logger": label, "msg": message]
            for (key, value) in sorted { object[key] = value.description }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let data = (try? encoder.encode(object)) ?? Data()
            return String(decoding: data, as: UTF8.self) + "\n"
        }
    }

    private static func quoted(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0 != "\\" }
        guard !plain else { return value }
        var escaped = "\""
        for character in value.unicodeScalars {
            switch character {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped + "\""
    }
}
