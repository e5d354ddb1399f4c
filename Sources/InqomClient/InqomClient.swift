import Foundation
import JSONSafety
import Logging

/// Speaks Inqom's API exactly as protocol/inqom.md says, through libcurl. Knows
/// nothing of JSON-RPC or MCF. Every failure is a typed `InqomError`.
public final class InqomClient: Sendable {
    public struct Configuration: Sendable {
        public var authURL: URL
        public var apiURL: URL
        public var clientID: String
        /// Transfers at a time (each on its own thread and connection).
        public var concurrency: Int
        public var connectTimeout: Duration
        public var stallTimeout: Duration
        /// Requests per second at most; 0 for no limit.
        public var maxRequestsPerSecond: Double

        public init(
            authURL: URL, apiURL: URL, clientID: String, concurrency: Int,
            connectTimeout: Duration = .seconds(10), stallTimeout: Duration = .seconds(60), maxRequestsPerSecond: Double = 0
        ) {
            self.maxRequestsPerSecond = maxRequestsPerSecond
            self.authURL = authURL
            self.apiURL = apiURL
            self.clientID = clientID
            self.concurrency = concurrency
            self.connectTimeout = connectTimeout
            self.stallTimeout = stallTimeout
        }
    }

    fileprivate let configuration: Configuration
    private let workers: CurlWorkers
    fileprivate let pacer: RequestPacer
    fileprivate let logger: Logger
    fileprivate let now: @Sendable () -> Date

    public init(configuration: Configuration, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.configuration = configuration
        self.workers = CurlWorkers(
            threads: configuration.concurrency,
            timeouts: .init(connect: configuration.connectTimeout, stall: configuration.stallTimeout))
        self.pacer = RequestPacer(requestsPerSecond: configuration.maxRequestsPerSecond)
        self.logger = logger
        self.now = now
    }

    /// A request budget of `maxRequestsPerSecond` for one more login,
    /// shared through `ledger` with other engines when given.
    public func makePacer(sharedThrough ledger: (any SlotLedger)? = nil) -> RequestPacer {
        RequestPacer(requestsPerSecond: configuration.maxRequestsPerSecond, ledger: ledger)
    }

    /// Runs `body` on a transfer thread, where Inqom's calls block that
    /// thread (never a cooperative one): work that makes several calls in a
    /// row, and blocking work of its own between them, with no hand-off per
    /// call. Its requests take their slots from `pacer` (by default, the
    /// client's own). Cancelling the task aborts the call under way.
    public func onTransferThread<T: Sendable>(
        pacedBy pacer: RequestPacer? = nil, _ body: @escaping @Sendable (InqomCalls) -> T
    ) async -> T {
        await workers.run { handle, cancellation in
            body(InqomCalls(client: self, handle: handle, cancellation: cancellation, pacer: pacer ?? self.pacer, slot: SlotTaken()))
        }
    }

    private func call<T: Sendable>(
        pacedBy pacer: RequestPacer?, _ call: @escaping @Sendable (InqomCalls) throws(InqomError) -> T
    ) async throws(InqomError) -> T {
        try await onTransferThread(pacedBy: pacer) { calls in Result { () throws(InqomError) -> T in try call(calls) } }.get()
    }

    /// Work is waiting for a transfer thread.
    var hasWaitingWork: Bool { workers.hasWaitingWork }

    /// Lets the calls already made finish, then ends the transfer threads;
    /// says whether they ended by `deadline`. Blocks: call it from a thread
    /// that may block, once nothing calls Inqom.
    public func stop(waitingUntil deadline: DispatchTime) -> Bool { workers.stop(waitingUntil: deadline) }

    /// OAuth2 password grant.
    public func requestToken(_ credentials: InqomCredentials, pacedBy pacer: RequestPacer? = nil) async throws(InqomError)
        -> AccessToken
    {
        try await call(pacedBy: pacer) { calls throws(InqomError) in try calls.requestToken(credentials) }
    }

    /// Every accounting folder the account sees.
    public func accountingFolders(token: AccessToken, pacedBy pacer: RequestPacer? = nil) async throws(InqomError)
        -> [AccountingFolder]
    {
        try await call(pacedBy: pacer) { calls throws(InqomError) in try calls.accountingFolders(token: token) }
    }

    /// A document for the Documents endpoint (purchase and sales invoices,
    /// administrative and other documents).
    public func uploadDocument(
        token: AccessToken, folderID: Int64, file: UploadFile, typeScan: TypeScan, sourceID: String
    ) async throws(InqomError) -> UploadReceipt {
        try await call(pacedBy: nil) { calls throws(InqomError) in
            try calls.uploadDocument(token: token, folderID: folderID, file: file, typeScan: typeScan, sourceID: sourceID)
        }
    }

    /// An expense report (Note de frais) for the expense-bills endpoint.
    public func uploadExpenseBill(
        token: AccessToken, folderID: Int64, file: UploadFile, reference: String
    ) async throws(InqomError) -> UploadReceipt {
        try await call(pacedBy: nil) { calls throws(InqomError) in
            try calls.uploadExpenseBill(token: token, folderID: folderID, file: file, reference: reference)
        }
    }
}

/// Inqom's calls, made on the transfer thread that runs them: each blocks
/// until Inqom answers. Given by `InqomClient.onTransferThread` alone.
public struct InqomCalls {
    fileprivate let client: InqomClient
    fileprivate let handle: EasyHandle?
    fileprivate let cancellation: CancellationFlag
    fileprivate let pacer: RequestPacer
    fileprivate let slot: SlotTaken

    /// The task that asked for this thread was cancelled.
    public var isCancelled: Bool { cancellation.isSet }

    /// Other work waits for a transfer thread: work that could go on should
    /// give the thread back.
    public var othersWaiting: Bool { client.hasWaitingWork }

    private var configuration: InqomClient.Configuration { client.configuration }

    /// The rate limit holds the next request back now.
    public var waitsForSlot: Bool { !slot.held && pacer.holdsBack }

    /// Waits for the next request's slot now, so that what goes in it can be
    /// chosen when it comes; false when the task is cancelled meanwhile.
    public func takeSlot() -> Bool {
        guard slot.held || pacer.acquire(unless: cancellation) else { return false }
        slot.held = true
        return true
    }

    /// OAuth2 password grant.
    public func requestToken(_ credentials: InqomCredentials) throws(InqomError) -> AccessToken {
        let request = HTTPRequest(
            method: "POST", url: configuration.authURL.appending(path: "identity/connect/token"),
            body: .form([
                ("grant_type", "password"), ("client_id", configuration.clientID),
                ("client_secret", credentials.clientSecret), ("username", credentials.login),
                ("password", credentials.password), ("scope", "openid apidata"),
            ]),
            secrets: [credentials.password, credentials.clientSecret])
        let sentAt = client.now()
        let response = try perform(request, kind: "token", maxBodyBytes: 64 << 10)
        if let error = InqomAnswer.tokenError(response, now: sentAt) { throw error }
        struct TokenAnswer: Decodable {
            let access_token: String
            let expires_in: Double?
        }
        guard let answer = try? SafeJSON.decode(TokenAnswer.self, from: response.body), !answer.access_token.isEmpty
        else { throw .transient(status: response.status, retryAfter: nil, detail: "unreadable token answer") }
        return AccessToken(value: answer.access_token, expiresAt: sentAt.addingTimeInterval(answer.expires_in ?? 3600))
    }

    /// Every accounting folder the account sees.
    public func accountingFolders(token: AccessToken) throws(InqomError) -> [AccountingFolder] {
        let request = HTTPRequest(
            method: "GET", url: configuration.apiURL.appending(path: "api/app/companies/accounting-folders"),
            headers: authorization(token), secrets: [token.value])
        let response = try perform(request, kind: "folders", maxBodyBytes: 64 << 20)
        if let error = InqomAnswer.apiError(response, now: client.now()) { throw error }
        guard let folders = try? SafeJSON.decode([AccountingFolder].self, from: response.body) else {
            throw .transient(status: response.status, retryAfter: nil, detail: "unreadable accounting folder list")
        }
        return folders
    }

    /// A document for the Documents endpoint (purchase and sales invoices,
    /// administrative and other documents).
    public func uploadDocument(
        token: AccessToken, folderID: Int64, file: UploadFile, typeScan: TypeScan, sourceID: String
    ) throws(InqomError) -> UploadReceipt {
        let request = HTTPRequest(
            method: "POST",
            url: configuration.apiURL.appending(path: "api/accounting-documents/accounting-folders/\(folderID)/Documents/"),
            headers: authorization(token),
            body: .multipart([
                .file(name: "Document", path: file.path, fileName: file.fileName, contentType: file.contentType),
                .field(name: "DocumentName", value: file.fileName),
                .field(name: "TypeScan", value: typeScan.rawValue),
                .field(name: "FileSource", value: "Api"),
                .field(name: "SourceId", value: sourceID),
            ]),
            secrets: [token.value])
        let response = try perform(request, kind: "upload", maxBodyBytes: 64 << 10)
        if let error = InqomAnswer.apiError(response, now: client.now()) { throw error }
        struct Answer: Decodable {
            let Id: Int64
            let Status: String?
        }
        guard let answer = try? SafeJSON.decode(Answer.self, from: response.body) else {
            throw .transient(status: response.status, retryAfter: nil, detail: "unreadable upload answer")
        }
        return UploadReceipt(inqomDocumentID: answer.Id, duplicate: answer.Status == "Duplicate")
    }

    /// An expense report (Note de frais) for the expense-bills endpoint.
    public func uploadExpenseBill(
        token: AccessToken, folderID: Int64, file: UploadFile, reference: String
    ) throws(InqomError) -> UploadReceipt {
        let request = HTTPRequest(
            method: "POST", url: configuration.apiURL.appending(path: "api/v1/accounting-folders/\(folderID)/expense-bills"),
            headers: authorization(token),
            body: .multipart([
                .file(name: "File", path: file.path, fileName: file.fileName, contentType: file.contentType),
                .field(name: "FileNameWithExtension", value: file.fileName),
                .field(name: "DocumentReference", value: reference),
            ]),
            secrets: [token.value])
        let response = try perform(request, kind: "expense", maxBodyBytes: 64 << 10)
        if let error = InqomAnswer.apiError(response, now: client.now()) { throw error }
        struct Answer: Decodable {
            let DocumentId: Int64
        }
        guard let answer = try? SafeJSON.decode(Answer.self, from: response.body) else {
            throw .transient(status: response.status, retryAfter: nil, detail: "unreadable expense-bill answer")
        }
        return UploadReceipt(inqomDocumentID: answer.DocumentId, duplicate: false)
    }

    private func authorization(_ token: AccessToken) -> [String] {
        ["Authorization: Bearer \(token.value)", "Accept: application/json"]
    }

    private func perform(_ request: HTTPRequest, kind: String, maxBodyBytes: Int) throws(InqomError) -> HTTPResponse {
        if slot.held {
            slot.held = false
        } else {
            guard pacer.acquire(unless: cancellation) else { throw .cancelled }
        }
        let started = ContinuousClock.now
        let outcome =
            handle?.perform(request, context: TransferContext(maxBodyBytes: maxBodyBytes, cancellation: cancellation))
            ?? .failure(EasyHandle.unavailable)
        let elapsed = ContinuousClock.now - started
        switch outcome {
        case .success(let response):
            client.logger.debug(
                "inqom answered",
                metadata: ["call": "\(kind)", "status": "\(response.status)", "elapsed": "\(elapsed)"])
            if response.status == 429 { pacer.throttled() }
            // A success is only decoded, never told; any other answer may
            // become an error's detail. Redacting a success would also cut a
            // secret out of a new token that happens to contain it.
            return [200, 201].contains(response.status) ? response : redacted(response, secrets: request.secrets)
        case .failure(let failure):
            if failure.cancelled { throw .cancelled }
            if let path = failure.unreadableFile { throw .fileUnreadable(path: path) }
            client.logger.debug(
                "inqom unreachable",
                metadata: ["call": "\(kind)", "curl": "\(failure.code)", "error": "\(failure.message)"])
            throw .unreachable(detail: failure.message)
        }
    }

    /// A body that echoes a secret back must not carry it into an error.
    private func redacted(_ response: HTTPResponse, secrets: [String]) -> HTTPResponse {
        let nonEmpty = secrets.filter { !$0.isEmpty }
        let text = String(decoding: response.body, as: UTF8.self)
        guard nonEmpty.contains(where: { text.contains($0) }) else { return response }
        let cleaned = nonEmpty.reduce(text) { $0.replacingOccurrences(of: $1, with: "[redacted]") }
        return HTTPResponse(status: response.status, headers: response.headers, body: Array(cleaned.utf8))
    }
}

/// A slot `InqomCalls.takeSlot` waited for, kept for the next request on
/// the same transfer thread.
final class SlotTaken {
    var held = false
}
