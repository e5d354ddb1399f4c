import JSONSafety
/// A request id exactly as received (string, number or null), echoed byte
/// for byte in the response.
public struct RequestID: Hashable, Sendable, CustomStringConvertible {
    public let raw: RawJSON

    init(raw: RawJSON) { self.raw = raw }

    public static let null = RequestID(raw: .null)

    public var description: String { raw.description }
}

/// A well-formed request or notification.
public struct Request: Sendable {
    public let method: String
    public let params: RawJSON?
    /// nil for a notification.
    public let id: RequestID?
}

/// One element of what a line carried, as the JSON-RPC 2.0 rules classify it.
enum Incoming: Sendable {
    case request(Request)
    case invalid(RequestID, ResponseError)

    /// Classifies one decoded message object.
    init(_ value: RawJSON) {
        guard value.kind == .object else {
            self = .invalid(.null, .invalidRequest("a request must be a JSON object"))
            return
        }
        var version: RawJSON?
        var method: RawJSON?
        var params: RawJSON?
        var id: RawJSON?
        for (key, member) in value.members() {
            switch key {
            case "jsonrpc": version = member
            case "method": method = member
            case "params": params = member
            case "id": id = member
            default: break
            }
        }
        var requestID: RequestID?
        if let id {
            guard [.string, .number, .null].contains(id.kind) else {
                self = .invalid(.null, .invalidRequest("id must be a string, a number or null"))
                return
            }
            requestID = RequestID(raw: id)
        }
        let echo = requestID ?? .null
        guard version?.stringValue == "2.0" else {
            self = .invalid(echo, .invalidRequest("jsonrpc must be \"2.0\""))
            return
        }
        guard let name = method?.stringValue else {
            self = .invalid(echo, .invalidRequest("method must be a string"))
            return
        }
        if let params, params.kind != .object, params.kind != .array {
            self = .invalid(echo, .invalidRequest("params must be an object or an array"))
            return
        }
        self = .request(Request(method: name, params: params, id: requestID))
    }
}

/// Builds the bytes of outgoing messages, each ending in `\n`.
public enum OutgoingMessage {
    public static func result(id: RequestID, result: RawJSON) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(result.bytes.count + id.raw.bytes.count + 40)
        output.append(contentsOf: #"{"jsonrpc":"2.0","id":"#.utf8)
        output.append(contentsOf: id.raw.bytes)
        output.append(contentsOf: #","result":"#.utf8)
        output.append(contentsOf: result.bytes)
        output.append(contentsOf: "}\n".utf8)
        return output
    }

    public static func error(id: RequestID, error: ResponseError) -> [UInt8] {
        var output: [UInt8] = []
        output.append(contentsOf: #"{"jsonrpc":"2.0","id":"#.utf8)
        output.append(contentsOf: id.raw.bytes)
        output.append(contentsOf: #","error":{"code":"#.utf8)
        output.append(contentsOf: String(error.code.rawValue).utf8)
        output.append(contentsOf: #","message":"#.utf8)
        JSONLiteral.appendString(error.message, to: &output)
        if let data = error.data {
            output.append(contentsOf: #","data":"#.utf8)
            output.append(contentsOf: data.bytes)
        }
        output.append(contentsOf: "}}\n".utf8)
        return output
    }

    public static func notification(method: String, params: RawJSON) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(params.bytes.count + method.utf8.count + 40)
        output.append(contentsOf: #"{"jsonrpc":"2.0","method":"#.utf8)
        JSONLiteral.appendString(method, to: &output)
        output.append(contentsOf: #","params":"#.utf8)
        output.append(contentsOf: params.bytes)
        output.append(contentsOf: "}\n".utf8)
        return output
    }

    /// Joins single responses (each ending in `\n`) into one batch line.
    static func batch(_ responses: [[UInt8]]) -> [UInt8] {
        var output: [UInt8] = [UInt8(ascii: "[")]
        for (index, response) in responses.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: response.dropLast())
        }
        output.append(contentsOf: "]\n".utf8)
        return output
    }
}
