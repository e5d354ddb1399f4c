import Foundation

/// An email with a plain-text and an HTML part (multipart/alternative),
/// in UTF-8, with the headers a mail client expects.
public struct MailMessage: Sendable {
    public let fromAddress: String
    public let toName: String
    public let toAddress: String
    public let subject: String
    public let text: String
    public let html: String
    public let date: Date
    public let messageID: String

    public init(fromAddress: String, toName: String, toAddress: String, subject: String, text: String, html: String, date: Date) {
        self.fromAddress = fromAddress
        self.toName = toName
        self.toAddress = toAddress
        self.subject = subject
        self.text = text
        self.html = html
        self.date = date
        let domain = fromAddress.split(separator: "@").last.map(String.init) ?? "pushdoc"
        self.messageID = "<\(UUID().uuidString.lowercased())@\(domain)>"
    }

    /// The message as sent, CRLF line endings, bodies in base64.
    public func rendered() -> String {
        let boundary = "pushdoc-" + UUID().uuidString.lowercased()
        var lines = [
            "Date: " + Self.rfc5322Date(date),
            "From: Pushdoc <\(fromAddress)>",
            "To: " + Self.displayName(toName) + " <\(toAddress)>",
            "Subject: " + Self.headerText(subject),
            "Message-ID: " + messageID,
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative; boundary=\"\(boundary)\"",
            "",
        ]
        for (type, body) in [("text/plain", text), ("text/html", html)] {
            lines += ["--" + boundary, "Content-Type: \(type); charset=UTF-8", "Content-Transfer-Encoding: base64", ""]
            lines += Self.base64Lines(body)
        }
        lines += ["--" + boundary + "--", ""]
        return lines.joined(separator: "\r\n")
    }

    /// A name before an address (RFC 5322): quoted when plain ASCII, so that
    /// `Evil <attacker@evil.com>, Bob` stays one name, else encoded words.
    static func displayName(_ name: String) -> String {
        guard isPlainASCII(name) else { return encodedWords(name) }
        return "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Unstructured header text (the subject): as is when plain ASCII.
    static func headerText(_ text: String) -> String {
        isPlainASCII(text) ? text : encodedWords(text)
    }

    private static func isPlainASCII(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 0x20 && $0.value != 0x7F }
    }

    /// RFC 2047: `=?UTF-8?B?…?=` words (39 bytes of text each, whole
    /// characters: 64 characters, within the 75 allowed, and a line holding
    /// one within 76 after `Subject: `), folded onto continuation lines.
    static func encodedWords(_ text: String) -> String {
        var words: [String] = []
        var chunk: [UInt8] = []
        for scalar in text.unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if chunk.count + bytes.count > 39 {
                words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=") }
        return words.joined(separator: "\r\n ")
    }

    static func base64Lines(_ text: String) -> [String] {
        let encoded = Data(text.utf8).base64EncodedString()
        return stride(from: 0, to: encoded.count, by: 76).map { start in
            let from = encoded.index(encoded.startIndex, offsetBy: start)
            return String(encoded[from..<(encoded.index(from, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex)])
        }
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
