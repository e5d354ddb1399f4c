import CCurl
import Foundation

/// Sends one prepared message through SMTP with libcurl: `smtps://` is TLS
/// from the start; `smtp://` upgrades with STARTTLS, which must succeed when
/// `requireTLS` (else only when the server offers it); AUTH when a user is
/// given. Blocking: call it from a thread of its own.
public struct SMTPSender: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let url: URL
    public let user: String?
    public let password: String?
    public let requireTLS: Bool
    public let caFile: String?

    public init(url: URL, user: String?, password: String?, requireTLS: Bool, caFile: String?) {
        self.url = url
        self.user = user
        self.password = password
        self.requireTLS = requireTLS
        self.caFile = caFile
    }

    public func send(_ message: MailMessage) throws(Failure) {
        guard let handle = pushdoc_curl_easy_init() else {
            throw Failure(description: pushdoc_curl_load_error().map { String(cString: $0) } ?? "libcurl cannot start")
        }
        defer { pushdoc_curl_easy_cleanup(handle) }
        let source = MessageSource(bytes: Array(message.rendered().utf8))
        let recipients = pushdoc_curl_slist_append(nil, "<\(message.toAddress)>")
        defer { pushdoc_curl_slist_free_all(recipients) }
        pushdoc_setopt_string(handle, CURLOPT_URL, url.absoluteString)
        pushdoc_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        pushdoc_setopt_long(handle, CURLOPT_USE_SSL, Int((requireTLS ? CURLUSESSL_ALL : CURLUSESSL_TRY).rawValue))
        if let caFile { pushdoc_setopt_string(handle, CURLOPT_CAINFO, caFile) }
        pushdoc_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, 10)
        pushdoc_setopt_long(handle, CURLOPT_TIMEOUT, 60)
        if let user {
            pushdoc_setopt_string(handle, CURLOPT_USERNAME, user)
            pushdoc_setopt_string(handle, CURLOPT_PASSWORD, password ?? "")
        }
        pushdoc_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(message.fromAddress)>")
        pushdoc_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipients)
        pushdoc_setopt_long(handle, CURLOPT_UPLOAD, 1)
        let context = Unmanaged.passRetained(source)
        defer { context.release() }
        pushdoc_setopt_pointer(handle, CURLOPT_READDATA, context.toOpaque())
        pushdoc_setopt_data_callback(handle, CURLOPT_READFUNCTION) { buffer, size, count, userData in
            guard let buffer, let userData else { return 0 }
            let source = Unmanaged<MessageSource>.fromOpaque(userData).takeUnretainedValue()
            return source.read(into: UnsafeMutableRawPointer(buffer), capacity: size * count)
        }
        let code = pushdoc_curl_easy_perform(handle)
        guard code == CURLE_OK else {
            var status = 0
            pushdoc_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
            let detail = String(cString: pushdoc_curl_easy_strerror(code))
            throw Failure(description: status > 0 ? "SMTP server answered \(status): \(detail)" : detail)
        }
    }
}

/// The message's bytes, handed to libcurl piece by piece. Not Sendable: one
/// transfer reads it, on one thread.
private final class MessageSource {
    private let bytes: [UInt8]
    private var offset = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    func read(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int {
        let count = min(capacity, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
        offset += count
        return count
    }
}
