import CCurl
import Foundation
import Synchronization

/// One HTTP exchange as the Inqom client needs it.
struct HTTPRequest: Sendable {
    enum Body: Sendable {
        case none
        case form([(String, String)])
        case multipart([MultipartPart])
    }

    var method: String
    var url: URL
    var headers: [String] = []
    var body: Body = .none
    /// Values to blank out of anything that could reach a log or an error.
    var secrets: [String] = []
}

enum MultipartPart: Sendable {
    case field(name: String, value: String)
    /// Streamed from disk by libcurl, never loaded whole.
    case file(name: String, path: String, fileName: String, contentType: String)
}

struct HTTPResponse: Sendable {
    let status: Int
    /// Lower-cased header names.
    let headers: [String: String]
    let body: [UInt8]
}

/// libcurl failed before any HTTP answer: refused, reset, timed out, TLS.
struct TransferFailure: Error, Sendable {
    let code: Int
    let message: String
    let cancelled: Bool
}

/// Where libcurl's callbacks put what they receive. Shared with the task's
/// cancellation handler, hence the atomic flag.
final class TransferContext: Sendable {
    private struct Received {
        var body: [UInt8] = []
        var headers: [String: String] = [:]
    }

    let maxBodyBytes: Int
    let cancelled = Atomic<Bool>(false)
    private let received = Mutex(Received())

    init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    var body: [UInt8] { received.withLock { $0.body } }
    var headers: [String: String] { received.withLock { $0.headers } }

    /// Keeps up to `maxBodyBytes`; the rest is read and dropped.
    func appendBody(_ bytes: UnsafeRawBufferPointer) {
        received.withLock { received in
            let room = max(0, maxBodyBytes - received.body.count)
            received.body.append(contentsOf: bytes.prefix(room))
        }
    }

    func headerLine(_ line: String) {
        received.withLock { received in
            // A new status line (after 100 Continue or a redirect) starts afresh.
            if line.hasPrefix("HTTP/") {
                received.headers = [:]
                return
            }
            guard let colon = line.firstIndex(of: ":") else { return }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            received.headers[name] = value
        }
    }
}
