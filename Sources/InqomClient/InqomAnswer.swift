import JSONSafety
import Foundation

/// Reads Inqom's HTTP answers as protocol/inqom.md's table says. Pure: tested
/// without a network.
enum InqomAnswer {
    static let transientStatuses: Set<Int> = [408, 425, 429, 500, 502, 503, 504]

    /// The error an API call's answer means, or nil for 200/201.
    static func apiError(_ response: HTTPResponse, now: Date) -> InqomError? {
        switch response.status {
        case 200, 201: return nil
        case 401: return .tokenExpired
        case let status where transientStatuses.contains(status) || status >= 500:
            return .transient(
                status: status, retryAfter: retryAfter(response.headers["retry-after"], now: now),
                detail: bodyStart(response.body))
        default:
            // 400, 403, 404, 409, 413, 415, 422 and any other refusal.
            return .permanent(status: response.status, bodyStart: bodyStart(response.body))
        }
    }

    /// The error a token answer means, or nil for 200.
    static func tokenError(_ response: HTTPResponse, now: Date) -> InqomError? {
        switch response.status {
        case 200:
            return nil
        case 400, 401:
            switch (try? SafeJSON.decode(OAuthError.self, from: Array(response.body)))?.error {
            case "invalid_grant": return .invalidGrant
            case "invalid_client": return .invalidClient
            default:
                // A bare 401 from the token server can only mean the client.
                return response.status == 401
                    ? .invalidClient : .permanent(status: 400, bodyStart: bodyStart(response.body))
            }
        default:
            return apiError(response, now: now)
        }
    }

    private struct OAuthError: Decodable {
        let error: String
    }

    /// `Retry-After` as seconds or as an HTTP date; nil when absent or unreadable.
    static func retryAfter(_ value: String?, now: Date) -> Duration? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int(value) { return seconds >= 0 ? .seconds(seconds) : nil }
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: value) {
                return .milliseconds(max(0, Int64(date.timeIntervalSince(now) * 1000)))
            }
        }
        return nil
    }

    /// The first 200 characters of a body, on one line, for messages.
    static func bodyStart(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(800), as: UTF8.self)
        let oneLine = String(text.unicodeScalars.map { $0.value < 0x20 ? " " : Character($0) })
        return String(oneLine.prefix(200))
    }
}
