import CCurl
import Foundation

/// One libcurl easy handle: it keeps its connections open between requests,
/// so reusing the handle reuses them. Not Sendable: a handle belongs to one
/// `CurlWorkers` thread and only that thread touches it.
final class EasyHandle {
    struct Timeouts: Sendable {
        var connect: Duration
        /// Given up when no byte moves for this long (a server that accepts
        /// and never answers, a stalled upload).
        var stall: Duration
    }

    private let handle: UnsafeMutableRawPointer
    private let timeouts: Timeouts

    /// Nil when libcurl cannot be loaded or cannot make a handle: `unavailable` says why.
    init?(timeouts: Timeouts) {
        guard let handle = pushdoc_curl_easy_init() else { return nil }
        self.handle = handle
        self.timeouts = timeouts
    }

    deinit { pushdoc_curl_easy_cleanup(handle) }

    /// What every transfer answers when no handle could be made.
    static var unavailable: TransferFailure {
        TransferFailure(
            code: 0, message: pushdoc_curl_load_error().map { String(cString: $0) } ?? "curl_easy_init failed",
            cancelled: false)
    }

    func perform(_ request: HTTPRequest, context: TransferContext) -> Result<HTTPResponse, TransferFailure> {
        // Checked here, on the transfer's own thread, rather than by the caller: no extra hand-off per upload.
        if case .multipart(let parts) = request.body {
            for case .file(_, let path, _, _) in parts where access(path, R_OK) != 0 {
                return .failure(
                    TransferFailure(code: 0, message: String(cString: strerror(errno)), cancelled: false, unreadableFile: path))
            }
        }
        pushdoc_curl_easy_reset(handle)
        var cleanups: [() -> Void] = []
        defer { cleanups.forEach { $0() } }
        setCommonOptions(context: context)
        pushdoc_setopt_string(handle, CURLOPT_URL, request.url.absoluteString)
        // An empty Expect header: no 100-continue round trip before a body.
        var headerList: UnsafeMutablePointer<curl_slist>? = pushdoc_curl_slist_append(nil, "Expect:")
        for header in request.headers { headerList = pushdoc_curl_slist_append(headerList, header) }
        pushdoc_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
        cleanups.append { pushdoc_curl_slist_free_all(headerList) }
        switch request.body {
        case .none:
            if request.method == "POST" { pushdoc_setopt_long(handle, CURLOPT_POST, 1) }
        case .form(let fields):
            let encoded = fields.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")
            pushdoc_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, encoded)
        case .multipart(let parts):
            let mime = pushdoc_curl_mime_init(handle)
            cleanups.append { pushdoc_curl_mime_free(mime) }
            for part in parts {
                let mimePart = pushdoc_curl_mime_addpart(mime)
                switch part {
                case .field(let name, let value):
                    pushdoc_curl_mime_name(mimePart, name)
                    pushdoc_mime_text(mimePart, value)
                case .file(let name, let path, let fileName, let contentType):
                    pushdoc_curl_mime_name(mimePart, name)
                    pushdoc_curl_mime_filedata(mimePart, path)
                    pushdoc_curl_mime_filename(mimePart, fileName)
                    pushdoc_curl_mime_type(mimePart, contentType)
                }
            }
            pushdoc_setopt_mime(handle, mime)
            pushdoc_setopt_long(handle, CURLOPT_UPLOAD_BUFFERSIZE, Self.uploadBufferBytes)
        }
        let code = pushdoc_curl_easy_perform(handle)
        guard code == CURLE_OK else {
            let cancelled = context.cancellation.isSet
            return .failure(
                TransferFailure(
                    code: Int(code.rawValue), message: String(cString: pushdoc_curl_easy_strerror(code)), cancelled: cancelled))
        }
        var status = 0
        pushdoc_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: context.headers, body: context.body))
    }

    /// libcurl reads a file to upload, and sends it, this much at a time
    /// (64 KB by default, which takes several polls, sends and reads per
    /// invoice). 512 KB covers most invoices in one piece, and costs each
    /// transfer thread that much memory while it uploads.
    static let uploadBufferBytes = 512 << 10

    private func setCommonOptions(context: TransferContext) {
        let contextPointer = Unmanaged.passUnretained(context).toOpaque()
        pushdoc_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        pushdoc_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
        pushdoc_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
        pushdoc_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
        pushdoc_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(timeouts.connect))
        pushdoc_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
        pushdoc_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, Self.milliseconds(timeouts.stall) / 1000))
        pushdoc_setopt_string(handle, CURLOPT_USERAGENT, "pushdoc")
        pushdoc_setopt_pointer(handle, CURLOPT_WRITEDATA, contextPointer)
        pushdoc_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, userData in
            guard let data, let userData else { return 0 }
            let context = Unmanaged<TransferContext>.fromOpaque(userData).takeUnretainedValue()
            context.appendBody(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        pushdoc_setopt_pointer(handle, CURLOPT_HEADERDATA, contextPointer)
        pushdoc_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, userData in
            guard let data, let userData else { return 0 }
            let context = Unmanaged<TransferContext>.fromOpaque(userData).takeUnretainedValue()
            context.headerLine(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        // Polled by libcurl during a transfer: a cancelled task aborts it.
        pushdoc_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
        pushdoc_setopt_pointer(handle, CURLOPT_XFERINFODATA, contextPointer)
        pushdoc_setopt_progress_callback(handle) { userData, _, _, _, _ in
            guard let userData else { return 0 }
            let context = Unmanaged<TransferContext>.fromOpaque(userData).takeUnretainedValue()
            return context.cancellation.isSet ? 1 : 0
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }

    /// A file name as it stands between quotes in a part's header, escaped
    /// as HTML's form-data encoding does (as libcurl does itself from 7.81
    /// on): whatever libcurl is loaded, a quote cannot end the parameter.
    static func quotedParameter(_ text: String) -> String {
        text.replacingOccurrences(of: "\"", with: "%22").replacingOccurrences(of: "\r", with: "%0D")
            .replacingOccurrences(of: "\n", with: "%0A")
    }

    private static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
