import Engine
import JSONRPC

/// Every application error (protocol/README.md, "Errors"), defined once with its code and
/// `data.reason`.
enum ApplicationError {
    static func describe(_ error: any Error) -> ResponseError? {
        guard let error = error as? EngineError else { return nil }
        switch error {
        case .wizardIncomplete(let missing):
            return ResponseError(
                code: ErrorCode(rawValue: 1001), message: "The wizard is not complete: \(missing.joined(separator: ", "))",
                data: try? RawJSON(encoding: MissingSteps(reason: "wizard_incomplete", missing: missing)))
        case .notConnected:
            return ResponseError(
                code: ErrorCode(rawValue: 1002), reason: "not_connected",
                message: "Connect to Inqom first (wizard.connect)")
        case .authFailed(let failure):
            let message = failure == .invalidCredentials
                ? "Inqom refused the login or password" : "Inqom refused the client secret"
            return ResponseError(code: ErrorCode(rawValue: 1101), reason: failure.rawValue, message: message)
        case .inqomUnreachable(let detail):
            return ResponseError(
                code: ErrorCode(rawValue: 1102), reason: "inqom_unreachable", message: "Inqom did not answer usefully",
                details: ["detail": detail])
        case .invalidRule(let field, let problem, let message):
            return ResponseError(
                code: ErrorCode(rawValue: 1201), reason: "invalid_rule", message: "Invalid rule: \(message)",
                details: ["field": field, "detail": problem])
        case .unknownRule(let id):
            return ResponseError(
                code: ErrorCode(rawValue: 1202), reason: "unknown_rule", message: "No rule has the id \(id)",
                details: ["id": id])
        case .unknownDossiers(let ids):
            return ResponseError(
                code: ErrorCode(rawValue: 1301), message: "Unknown dossier: \(ids.joined(separator: ", "))",
                data: try? RawJSON(encoding: UnknownIDs(reason: "unknown_dossier", ids: ids)))
        case .unknownDocument(let id):
            return ResponseError(
                code: ErrorCode(rawValue: 1302), reason: "unknown_document", message: "No document has the id \(id)",
                details: ["id": id])
        case .unknownConnector(let name):
            return ResponseError(
                code: ErrorCode(rawValue: 1304), reason: "unknown_connector", message: "No connector is named \(name)",
                details: ["connector": name])
        case .unknownCollaborator(let id):
            return ResponseError(
                code: ErrorCode(rawValue: 1303), reason: "unknown_collaborator", message: "No collaborator has the id \(id)",
                details: ["id": id])
        case .smtpNotConfigured:
            return ResponseError(
                code: ErrorCode(rawValue: 1501), reason: "smtp_not_configured",
                message: "No SMTP server is configured (--smtp-url): digests can be previewed, not mailed")
        case .smtpFailed(let detail):
            return ResponseError(
                code: ErrorCode(rawValue: 1502), reason: "smtp_failed", message: "The SMTP server refused or did not answer",
                details: ["detail": detail])
        case .fileUnreadable(let detail):
            return ResponseError(
                code: ErrorCode(rawValue: 1401), reason: "file_unreadable", message: "The file cannot be read",
                details: ["detail": detail])
        case .fileTooLarge(let limit):
            struct LimitData: Encodable {
                let reason = "file_too_large"
                let limit: Int64
            }
            return ResponseError(
                code: ErrorCode(rawValue: 1402), message: "The file is larger than the engine accepts (\(limit) bytes)",
                data: try? RawJSON(encoding: LimitData(limit: limit)))
        case .documentConflict(let id, let differs):
            struct ConflictData: Encodable {
                let reason = "document_conflict"
                let id: String
                let differs: [String]
            }
            return ResponseError(
                code: ErrorCode(rawValue: 1305),
                message: "documentId \(id) is already another document (its \(differs.joined(separator: ", ")) differs)",
                data: try? RawJSON(encoding: ConflictData(id: id, differs: differs)))
        case .contentMismatch(let detail):
            return ResponseError(
                code: ErrorCode(rawValue: 1403), reason: "content_mismatch",
                message: "The bytes read differ from the size or SHA-256 given", details: ["detail": detail])
        case .invalidParameter(let field, let message):
            return .invalidParams(field: field, message)
        case .storageUnavailable(let detail):
            return ResponseError(
                code: ErrorCode(rawValue: 1601), reason: "storage_unavailable",
                message: "The data directory cannot store right now", details: ["detail": detail])
        }
    }

    private struct MissingSteps: Encodable {
        let reason: String
        let missing: [String]
    }

    private struct UnknownIDs: Encodable {
        let reason: String
        let ids: [String]
    }
}
