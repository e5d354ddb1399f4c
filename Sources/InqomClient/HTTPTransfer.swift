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

/// libcurl failed before any HTTP answer: refused, reset, timed out, TLS;
/// or a file to send could not be read, and nothing was sent.
struct TransferFailure: Error, Sendable {
    let code: Int
    let message: String
    let cancelled: Bool
    var unreadableFile: String?
}

/// Where libcurl's callbacks put what they receive, and the flag its
/// progress callback polls (set by the task's cancellation handler).
final class TransferContext: Sendable {
    private struct Received {
        var body: [UInt8] = []
        var headers: [String: String] = [:]
    }

    let maxBodyBytes: Int
    let cancellation: CancellationFlag
    private let received = Mutex(Received())

    init(maxBodyBytes: Int, cancellation: CancellationFlag) {
        self.maxBodyBytes = maxBodyBytes
        self.cancellation = cancellation
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

    /// One header line as libcurl gives it, CRLF included. Read as bytes:
    /// Foundation's trimming cost more than the rest of an upload's answer.
    func headerLine(_ line: UnsafeRawBufferPointer) {
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        func trimmed(_ part: Slice<UnsafeRawBufferPointer>) -> String {
            let start = part.firstIndex { !isSpace($0) } ?? part.endIndex
            let end = part.lastIndex { !isSpace($0) }.map { $0 + 1 } ?? start
            return String(decoding: part[start..<max(start, end)], as: UTF8.self)
        }
        received.withLock { received in
            // A new status line (after 100 Continue or a redirect) starts afresh.
            if line.starts(with: "HTTP/".utf8) {
                received.headers = [:]
                return
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
            received.headers[trimmed(line[..<colon]).lowercased()] = trimmed(line[(colon + 1)...])
        }
    }
}
