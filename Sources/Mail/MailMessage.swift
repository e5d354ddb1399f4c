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
            "To: " + Self.encodedWord(toName) + " <\(toAddress)>",
            "Subject: " + Self.encodedWord(subject),
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

    /// RFC 2047: accents in headers travel as `=?UTF-8?B?…?=`.
    static func encodedWord(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { !$0.isASCII || $0.value < 0x20 }) else { return text }
        return "=?UTF-8?B?" + Data(text.utf8).base64EncodedString() + "?="
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
