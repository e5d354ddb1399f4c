/// A JSON-RPC error code: the reserved ones of JSON-RPC 2.0 and any that an
/// application defines (`ErrorCode(rawValue: 1101)`).
public struct ErrorCode: RawRepresentable, Hashable, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let parseError = ErrorCode(rawValue: -32700)
    public static let invalidRequest = ErrorCode(rawValue: -32600)
    public static let methodNotFound = ErrorCode(rawValue: -32601)
    public static let invalidParams = ErrorCode(rawValue: -32602)
    public static let internalError = ErrorCode(rawValue: -32603)
    /// The server is shutting down and takes no new work.
    public static let shuttingDown = ErrorCode(rawValue: -32001)
    /// The peer's uid is not allowed on the socket.
    public static let peerNotAllowed = ErrorCode(rawValue: -32002)
    /// `--max-connections` connections are open already.
    public static let tooManyConnections = ErrorCode(rawValue: -32003)
    public static let cancelled = ErrorCode(rawValue: -32800)
}

/// An error answered to a request: code, English message, and `data` whose
/// `reason` is a stable snake_case word that clients can switch on.
public struct ResponseError: Error, Sendable, Equatable {
    public let code: ErrorCode
    public let message: String
    public let data: RawJSON?

    public init(code: ErrorCode, message: String, data: RawJSON?) {
        self.code = code
        self.message = message
        self.data = data
    }

    /// An error whose `data` holds `reason` and the given string details.
    public init(code: ErrorCode, reason: String, message: String, details: [String: String] = [:]) {
        var fields = details
        fields["reason"] = reason
        self.init(code: code, message: message, data: try? RawJSON(encoding: fields))
    }

    public static func parseError(_ detail: String) -> ResponseError {
        ResponseError(code: .parseError, reason: "parse_error", message: "Parse error: \(detail)")
    }

    public static func invalidRequest(_ detail: String) -> ResponseError {
        ResponseError(code: .invalidRequest, reason: "invalid_request", message: "Invalid request: \(detail)")
    }

    public static func methodNotFound(_ method: String) -> ResponseError {
        ResponseError(
            code: .methodNotFound, reason: "method_not_found", message: "Method not found: \(method)",
            details: ["method": method])
    }

    /// `field` names the offending parameter as a dotted path (`dossiers.3.id`).
    public static func invalidParams(field: String, _ detail: String) -> ResponseError {
        ResponseError(
            code: .invalidParams, reason: "invalid_params", message: "Invalid params: \(field): \(detail)",
            details: ["field": field])
    }

    public static func internalError(_ detail: String) -> ResponseError {
        ResponseError(code: .internalError, reason: "internal_error", message: "Internal error: \(detail)")
    }

    public static let cancelled = ResponseError(
        code: .cancelled, reason: "cancelled", message: "Request cancelled by the client")

    public static let shuttingDown = ResponseError(
        code: .shuttingDown, reason: "shutting_down", message: "The engine is shutting down and accepts no new work")
}
