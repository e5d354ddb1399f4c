/// What the engine refuses, in its own words; the protocol layer gives each
/// its JSON-RPC code.
public enum EngineError: Error, Sendable, Equatable {
    public enum AuthFailure: String, Sendable {
        case invalidCredentials = "invalid_credentials"
        case invalidClientSecret = "invalid_client_secret"
    }

    case wizardIncomplete(missing: [String])
    case notConnected
    case authFailed(AuthFailure)
    case inqomUnreachable(detail: String)
    /// `field` is the offending parameter, `problem` a stable snake_case word.
    case invalidRule(field: String, problem: String, message: String)
    case unknownRule(id: String)
    case unknownDossiers(ids: [String])
    /// A parameter out of range, caught after decoding.
    case invalidParameter(field: String, message: String)
    case unknownDocument(id: String)
    case unknownCollaborator(id: String)
    case unknownConnector(name: String)
    case smtpNotConfigured
    case smtpFailed(detail: String)
    case fileUnreadable(detail: String)
    case fileTooLarge(limit: Int64)
    case contentMismatch(detail: String)
    /// A `documentId` already used for another dossier, path or content.
    case documentConflict(id: String, differs: [String])
    /// The state cannot be stored or read now (a full or read-only disk, PostgreSQL out of reach).
    case storageUnavailable(detail: String)
}

extension EngineError {
    /// Why the state cannot be stored or read now; nil for any other refusal.
    var storageDetail: String? {
        if case .storageUnavailable(let detail) = self { return detail }
        return nil
    }
}
