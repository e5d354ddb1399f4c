import Foundation
import Testing

@testable import Mail

/// Headers a collaborator's name or a subject cannot break: one recipient
/// stays one, and every encoded word fits RFC 2047's 75 characters.
struct MailHeaderTests {
    private func headers(_ message: MailMessage) -> [String] {
        let rendered = message.rendered()
        let head = rendered[..<rendered.range(of: "\r\n\r\n")!.lowerBound]
        return head.components(separatedBy: "\r\n")
    }

    private func message(toName: String, subject: String = "Documents non transmis") -> MailMessage {
        MailMessage(
            fromAddress: "pushdoc@cabinet.fr", toName: toName, toAddress: "bob@cabinet.fr", subject: subject, text: "t",
            html: "<p>t</p>", date: Date(timeIntervalSince1970: 0))
    }

    @Test func aNameWithAnAddressAndACommaStaysOneQuotedName() {
        let lines = headers(message(toName: #"Evil <attacker@evil.com>, Bob "the \ one""#))
        #expect(lines.contains(#"To: "Evil <attacker@evil.com>, Bob \"the \\ one\"" <bob@cabinet.fr>"#))
    }

    @Test func longAccentedTextIsFoldedIntoWordsOfAtMost75Characters() throws {
        let subject = "Pushdoc : 12 documents non transmis — Boulangerie Lefèvre & Fils, Pâtisserie Éloïse 😀 " + String(repeating: "é", count: 60)
        let name = "Amélie-Françoise de la Tour d'Auvergne " + String(repeating: "ô", count: 40)
        let lines = headers(message(toName: name, subject: subject))
        var decoded: [String: String] = [:]
        var current = ""
        for line in lines {
            if line.contains("=?UTF-8?B?") { #expect(line.count <= 76, "\(line)") }
            if line.hasPrefix(" ") { decoded[current, default: ""] += try decode(line) } else {
                current = String(line.prefix { $0 != ":" })
                if current == "Subject" || current == "To" { decoded[current] = try decode(line) }
            }
        }
        #expect(decoded["Subject"] == subject)
        #expect(decoded["To"] == name)
    }

    /// The text of the encoded words in one header line.
    private func decode(_ line: String) throws -> String {
        var text = ""
        var rest = Substring(line)
        while let start = rest.range(of: "=?UTF-8?B?") {
            let end = try #require(rest[start.upperBound...].range(of: "?="))
            let word = rest[start.lowerBound..<end.upperBound]
            #expect(word.count <= 75)
            text += String(decoding: try #require(Data(base64Encoded: String(rest[start.upperBound..<end.lowerBound]))), as: UTF8.self)
            rest = rest[end.upperBound...]
        }
        return text
    }
}
