import Foundation

/// Every way a call to Inqom can fail, as protocol/inqom.md classifies answers.
/// Messages never hold a secret, a token, or a file's content.
public enum InqomError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 401 on an API call: get a new token once, then retry at once.
    case tokenExpired
    /// The token server refused the login or password.
    case invalidGrant
    /// The token server refused the client id or the client secret.
    case invalidClient
    /// Worth retrying later: 408, 425, 429, 5xx, or an answer that could not
    /// be read. `retryAfter` is Inqom's `Retry-After`, when it sent one.
    case transient(status: Int, retryAfter: Duration?, detail: String)
    /// No HTTP answer at all: refused, reset, timed out, TLS failure.
    case unreachable(detail: String)
    /// Inqom will not take it as it is: retrying cannot help.
    case permanent(status: Int, bodyStart: String)
    /// The file to upload cannot be read: nothing was sent.
    case fileUnreadable(path: String)
    /// The call was cancelled (shutdown).
    case cancelled

    public var description: String {
        switch self {
        case .tokenExpired: "Inqom refused the token (401)"
        case .invalidGrant: "Inqom refused the login or password (invalid_grant)"
        case .invalidClient: "Inqom refused the client id or client secret (invalid_client)"
        case .transient(let status, let retryAfter, let detail):
            "Inqom answered \(status), try again later"
                + (retryAfter.map { " (Retry-After \($0))" } ?? "") + (detail.isEmpty ? "" : ": \(detail)")
        case .unreachable(let detail): "Inqom could not be reached: \(detail)"
        case .permanent(let status, let bodyStart): "Inqom refused the request (\(status)): \(bodyStart)"
        case .fileUnreadable(let path): "cannot read \(path)"
        case .cancelled: "cancelled"
        }
    }

    /// Whether a later attempt may succeed.
    public var isTransient: Bool {
        switch self {
        case .transient, .unreachable: true
        default: false
        }
    }
}
