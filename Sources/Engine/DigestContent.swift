import Foundation

/// One document of a digest: a failure a collaborator should know of.
public struct DigestFailure: Codable, Sendable, Equatable {
    public let documentId: String
    public let dossierId: String
    public let dossierName: String
    public let path: String
    public let reason: DocumentReason
    /// The reason in words a firm's collaborator understands, in French.
    public let explanation: String
    public let attempts: Int
    public let lastAttemptAt: String
}

/// The digest email, in French: subject, plain text and HTML (user data
/// escaped). Pure: the tests read it without a mail server.
enum DigestContent {
    static func subject(count: Int, day: String) -> String {
        "Pushdoc Inqom : \(count) document\(count > 1 ? "s" : "") non transmis le \(frenchDate(day))"
    }

    static let advice = [
        "Le document est marqué « Non transmis » dans son dossier de dépôt de MyCompanyFiles.",
        "Document refusé : ouvrez le fichier pour vérifier qu'il est lisible, puis déposez-le à nouveau.",
        "Dossier non associé : vérifiez l'attribut SIRET du dossier puis relancez le mapping (étape 3 du connecteur).",
        "Inqom indisponible : aucune action n'est nécessaire si l'envoi réussit au prochain essai ; sinon, demandez un nouvel envoi.",
    ]

    static func text(name: String, failures: [DigestFailure], window: (from: String, to: String)) -> String {
        var lines = [
            "Bonjour \(name),", "",
            "\(failures.count) document\(failures.count > 1 ? "s n'ont" : " n'a") pas pu être transmis à Inqom entre le \(window.from) et le \(window.to).",
        ]
        for (dossier, documents) in grouped(failures) {
            lines += ["", dossier]
            for failure in documents {
                lines += [
                    "  - \(failure.path)", "    \(failure.explanation)",
                    "    \(failure.attempts) tentative\(failure.attempts > 1 ? "s" : ""), la dernière le \(frenchDateTime(failure.lastAttemptAt)).",
                ]
            }
        }
        lines += ["", "Que faire ?"] + advice.map { "- " + $0 }
        lines += ["", "Ce message est envoyé chaque jour par le connecteur « Inqom - Pushdoc API » de MyCompanyFiles."]
        return lines.joined(separator: "\n") + "\n"
    }

    static func html(name: String, failures: [DigestFailure], window: (from: String, to: String)) -> String {
        var body = "<p>Bonjour \(escape(name)),</p>\n"
        body += "<p>\(failures.count) document\(failures.count > 1 ? "s n'ont" : " n'a") pas pu être transmis à Inqom entre le \(escape(window.from)) et le \(escape(window.to)).</p>\n"
        for (dossier, documents) in grouped(failures) {
            body += "<h3>\(escape(dossier))</h3>\n<ul>\n"
            for failure in documents {
                body += "<li><strong>\(escape(failure.path))</strong><br>\(escape(failure.explanation))<br>"
                body += "\(failure.attempts) tentative\(failure.attempts > 1 ? "s" : ""), la dernière le \(escape(frenchDateTime(failure.lastAttemptAt))).</li>\n"
            }
            body += "</ul>\n"
        }
        body += "<p><strong>Que faire ?</strong></p>\n<ul>\n" + advice.map { "<li>\(escape($0))</li>\n" }.joined() + "</ul>\n"
        body += "<p>Ce message est envoyé chaque jour par le connecteur « Inqom - Pushdoc API » de MyCompanyFiles.</p>\n"
        return "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"></head><body>\n" + body + "</body></html>\n"
    }

    private static func grouped(_ failures: [DigestFailure]) -> [(String, [DigestFailure])] {
        var order: [String] = []
        var byDossier: [String: [DigestFailure]] = [:]
        for failure in failures {
            if byDossier[failure.dossierName] == nil { order.append(failure.dossierName) }
            byDossier[failure.dossierName, default: []].append(failure)
        }
        return order.map { ($0, byDossier[$0] ?? []) }
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }

    /// `2026-11-28` → `28/11/2026`.
    static func frenchDate(_ day: String) -> String {
        day.split(separator: "-").reversed().joined(separator: "/")
    }

    /// `2026-11-28 06:12` (engine time zone) → `28/11/2026 à 06:12`.
    static func frenchDateTime(_ local: String) -> String {
        let parts = local.split(separator: " ")
        guard parts.count == 2 else { return local }
        return frenchDate(String(parts[0])) + " à " + parts[1]
    }
}
