import Foundation
import Synchronization

/// A JSON-RPC method: its wire name and the types of its params and result.
/// A handler registered for it cannot answer with the wrong shape, and the
/// set of registered names can be checked against the OpenRPC document.
public protocol RPCMethod {
    associatedtype Params: Decodable & Sendable
    associatedtype Result: Encodable & Sendable
    static var name: String { get }
}

/// Params of a method that takes none (any object, even `{}`, is accepted).
public struct NoParams: Codable, Sendable, Equatable {
    public init() {}
}

/// An empty object result (`{}`).
public struct EmptyResult: Codable, Sendable, Equatable {
    public init() {}
}

/// What a handler knows of the request it serves.
public struct RequestContext: Sendable {
    public let id: RequestID?
    public let connection: Connection
    let followUps = FollowUps()

    /// Runs `action` once the reply to this request has been queued for
    /// writing: what it sends on the connection comes after the reply.
    public func afterReply(_ action: @escaping @Sendable () -> Void) {
        followUps.add(action)
    }
}

/// Actions to run after a reply.
final class FollowUps: Sendable {
    private let actions = Mutex<[@Sendable () -> Void]>([])

    func add(_ action: @escaping @Sendable () -> Void) {
        actions.withLock { $0.append(action) }
    }

    /// Runs the actions once; taken, not copied: an action holds its request's
    /// context, and with it this list and the connection.
    func run() {
        for action in actions.withLock({ $0.drain() }) { action() }
    }
}

/// The methods a server answers. Built once at start, then read-only.
public struct MethodTable: Sendable {
    /// `immediate` handlers run on the connection's reader thread: they must
    /// be quick and never block (ping, discovery). The others run as tasks,
    /// so a long request never delays the next one.
    enum Handler: Sendable {
        case immediate(@Sendable (RawJSON?, RequestContext) throws -> RawJSON)
        case concurrent(@Sendable (RawJSON?, RequestContext) async throws -> RawJSON)
    }

    private(set) var handlers: [String: Handler] = [:]
    /// Turns errors that are not `ResponseError`s (an application's own) into
    /// wire errors; whatever it does not know becomes `-32603`.
    let describeError: @Sendable (any Error) -> ResponseError?

    public init(describeError: @escaping @Sendable (any Error) -> ResponseError? = { _ in nil }) {
        self.describeError = describeError
        registerImmediate(CancelRequest.self) { params, context in
            context.connection.cancel(params.id)
            return EmptyResult()
        }
    }

    public var methodNames: Set<String> { Set(handlers.keys) }

    public mutating func register<M: RPCMethod>(
        _ method: M.Type, _ body: @escaping @Sendable (M.Params, RequestContext) async throws -> M.Result
    ) {
        precondition(handlers[M.name] == nil, "\(M.name) registered twice")
        handlers[M.name] = .concurrent { raw, context in
            try RawJSON(encoding: try await body(try Self.decodeParams(M.Params.self, raw), context))
        }
    }

    public mutating func registerImmediate<M: RPCMethod>(
        _ method: M.Type, _ body: @escaping @Sendable (M.Params, RequestContext) throws -> M.Result
    ) {
        precondition(handlers[M.name] == nil, "\(M.name) registered twice")
        handlers[M.name] = .immediate { raw, context in
            try RawJSON(encoding: try body(try Self.decodeParams(M.Params.self, raw), context))
        }
    }

    func handler(for method: String) -> Handler? { handlers[method] }

    /// Maps whatever a handler threw to the error the client receives.
    func responseError(for error: any Error) -> ResponseError {
        switch error {
        case let error as ResponseError: return error
        case is CancellationError: return .cancelled
        case let error as DecodingError: return Self.invalidParams(error)
        default: return describeError(error) ?? .internalError(String(describing: type(of: error)))
        }
    }

    static func decodeParams<P: Decodable>(_ type: P.Type, _ raw: RawJSON?) throws -> P {
        switch raw {
        case let raw? where raw.kind == .object:
            if let field = raw.firstControlCharacterPath() {
                throw ResponseError.invalidParams(field: field, "must not contain NUL or other control characters")
            }
            do {
                return try raw.decode(type)
            } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
                // Foundation says only "not valid JSON" for a number that does not fit an integer field.
                guard let field = raw.firstNonIntegerPath() else { throw DecodingError.dataCorrupted(context) }
                throw ResponseError.invalidParams(field: field, "expected an integer")
            }
        case let raw? where !raw.elements().isEmpty:
            throw ResponseError.invalidParams(field: "params", "this method takes named params (an object)")
        default:
            // Absent params and `[]` both mean "no params".
            return try RawJSON.emptyObject.decode(type)
        }
    }

    static func invalidParams(_ error: DecodingError) -> ResponseError {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return .invalidParams(field: path(context.codingPath + [key]), "is required")
        case .typeMismatch(let type, let context):
            return .invalidParams(field: path(context.codingPath), "expected \(Self.jsonTypeName(type))")
        case .valueNotFound(let type, let context):
            return .invalidParams(field: path(context.codingPath), "expected \(Self.jsonTypeName(type)), got null")
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            return .invalidParams(field: field.isEmpty ? "params" : field, context.debugDescription)
        @unknown default:
            return .invalidParams(field: "params", "could not be read")
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        default:
            String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }
}

/// `$/cancelRequest {id}`: ends the request with that id, if still running.
public enum CancelRequest: RPCMethod {
    public static let name = "$/cancelRequest"
    public struct Params: Decodable, Sendable {
        public let id: RequestID
    }
    public typealias Result = EmptyResult
}

extension RequestID: Decodable {
    /// Only strings and numbers name a request; the raw bytes are rebuilt in
    /// the canonical form that `matches` compares.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            self.init(raw: try RawJSON(encoding: text))
        } else if let number = try? container.decode(Int64.self) {
            self.init(raw: try RawJSON(encoding: number))
        } else {
            let number = try container.decode(Double.self)
            self.init(raw: try RawJSON(encoding: number))
        }
    }

    /// Whether two ids name the same request: strings by their text, numbers
    /// by their value.
    func matches(_ other: RequestID) -> Bool {
        switch (raw.kind, other.raw.kind) {
        case (.string, .string): return raw.stringValue == other.raw.stringValue
        case (.number, .number):
            return raw == other.raw || Double(raw.description) == Double(other.raw.description)
        default: return raw == other.raw
        }
    }
}
