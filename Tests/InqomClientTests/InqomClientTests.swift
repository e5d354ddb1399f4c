import Foundation
import Glibc
import Logging
import Synchronization
import TestSupport
import Testing

@testable import InqomClient

/// The client against the stand-in, over real loopback HTTP.
struct InqomClientTests {
    let standIn: InqomStandIn
    let credentials = InqomCredentials(
        login: InqomStandIn.login, password: InqomStandIn.password, clientSecret: InqomStandIn.clientSecret)

    init() async throws {
        standIn = try await InqomStandIn()
    }

    private static let defaultStall = Duration.seconds(10)

    private func client(
        concurrency: Int = 2, stall: Duration = Self.defaultStall, apiURL: URL? = nil, maxRequestsPerSecond: Double = 0
    ) -> InqomClient {
        InqomClient(
            configuration: .init(
                authURL: standIn.url, apiURL: apiURL ?? standIn.url, clientID: InqomStandIn.clientID,
                concurrency: concurrency, connectTimeout: .seconds(5), stallTimeout: stall,
                maxRequestsPerSecond: maxRequestsPerSecond),
            logger: Logger(label: "test"))
    }

    private func file(_ name: String, _ content: String) throws -> UploadFile {
        let path = TemporaryDirectory.make(prefix: "inqom-file") + "/" + name
        try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        return UploadFile(path: path, fileName: name)
    }

    @Test func tokenThenFoldersThenEachUploadKind() async throws {
        let client = client()
        let before = Date()
        let token = try await client.requestToken(credentials)
        #expect(token.expiresAt.timeIntervalSince(before) > 3500)
        let folders = try await client.accountingFolders(token: token)
        #expect(folders.map(\.id) == [11287, 11288])
        #expect(folders.first?.siret == "73282932000074")

        let invoice = try file("Facture 2026-11 Café.pdf", "%PDF-1.4 achat")
        let receipt = try await client.uploadDocument(
            token: token, folderID: 11287, file: invoice, typeScan: .supplier, sourceID: "doc-1")
        #expect(!receipt.duplicate)
        let expense = try file("ticket.jpg", "JPEG bytes")
        let expenseReceipt = try await client.uploadExpenseBill(
            token: token, folderID: 11288, file: expense, reference: "doc-2")
        #expect(expenseReceipt.inqomDocumentID > 0)

        let uploads = try await standIn.uploads()
        #expect(uploads.count == 2)
        let document = try #require(uploads.first)
        #expect(document["kind"] as? String == "upload")
        #expect(document["folderId"] as? Int == 11287)
        #expect(document["fileName"] as? String == "Facture 2026-11 Café.pdf")
        #expect(document["contentType"] as? String == "application/pdf")
        #expect(document["sha256"] as? String == (try sha256sum(invoice.path)))
        #expect(document["id"] as? Int == Int(receipt.inqomDocumentID))
        let fields = try #require(document["fields"] as? [String: String])
        #expect(fields == ["DocumentName": "Facture 2026-11 Café.pdf", "TypeScan": "Supplier", "FileSource": "Api", "SourceId": "doc-1"])
        let bill = try #require(uploads.last)
        #expect(bill["kind"] as? String == "expense")
        #expect(bill["fields"] as? [String: String] == ["FileNameWithExtension": "ticket.jpg", "DocumentReference": "doc-2"])
        #expect(bill["contentType"] as? String == "image/jpeg")
    }

    /// A quote in a file name cannot close the part's filename parameter and
    /// add others, whichever libcurl escapes or not.
    @Test func aQuoteInAFileNameStaysInsideTheFileName() async throws {
        let client = client()
        let token = try await client.requestToken(credentials)
        let invoice = try file(#"Facture "A"; name=x.pdf"#, "%PDF-1.4")
        _ = try await client.uploadDocument(token: token, folderID: 11287, file: invoice, typeScan: .supplier, sourceID: "q")
        let upload = try #require(try await standIn.uploads().first)
        #expect(upload["fileName"] as? String == "Facture %22A%22; name=x.pdf")
        #expect((upload["fields"] as? [String: String])?["DocumentName"] == #"Facture "A"; name=x.pdf"#)
    }

    @Test func theSameBytesAgainAreADuplicateAndStillASuccess() async throws {
        let client = client()
        let token = try await client.requestToken(credentials)
        let invoice = try file("a.pdf", "%PDF same bytes")
        let first = try await client.uploadDocument(token: token, folderID: 11287, file: invoice, typeScan: .client, sourceID: "x")
        let second = try await client.uploadDocument(token: token, folderID: 11287, file: invoice, typeScan: .client, sourceID: "y")
        #expect(!first.duplicate)
        #expect(second.duplicate)
        #expect(second.inqomDocumentID == first.inqomDocumentID)
    }

    @Test func wrongPasswordAndWrongSecretAreTold() async throws {
        let client = client()
        await #expect(throws: InqomError.invalidGrant) {
            try await client.requestToken(.init(login: InqomStandIn.login, password: "wrong", clientSecret: InqomStandIn.clientSecret))
        }
        await #expect(throws: InqomError.invalidClient) {
            try await client.requestToken(.init(login: InqomStandIn.login, password: InqomStandIn.password, clientSecret: "wrong"))
        }
        // A password changed on Inqom's side is refused from then on.
        try await standIn.control("password", ["username": InqomStandIn.login, "password": "new one"])
        await #expect(throws: InqomError.invalidGrant) { try await client.requestToken(credentials) }
    }

    /// Found with a two-letter password: about one token in a hundred
    /// contained it, and came back with "[redacted]" in its middle.
    @Test func aNewTokenThatHappensToContainThePasswordIsKeptWhole() async throws {
        let issued = "tok-" + InqomStandIn.password + "-" + InqomStandIn.clientSecret + "-en"
        try await standIn.inject("token", ["status": 200, "body": ["access_token": issued, "expires_in": 3600, "token_type": "Bearer"]])
        #expect(try await client().requestToken(credentials).value == issued)
    }

    @Test func anAnswerThatEchoesASecretDoesNotCarryItIntoTheError() async throws {
        let echo = ["error": "server_error", "error_description": "cannot log in with " + InqomStandIn.password + " / " + InqomStandIn.clientSecret]
        try await standIn.inject("token", ["status": 422, "body": echo])
        do {
            _ = try await client().requestToken(credentials)
            Issue.record("a 422 was taken for a token")
        } catch {
            let told = "\(error)"
            #expect(told.contains("[redacted]"), "\(told)")
            #expect(!told.contains(InqomStandIn.password) && !told.contains(InqomStandIn.clientSecret), "\(told)")
        }
    }

    @Test func anExpiredTokenIsTokenExpired() async throws {
        let client = client()
        let token = try await client.requestToken(credentials)
        try await standIn.control("expire-tokens", [:])
        await #expect(throws: InqomError.tokenExpired) { try await client.accountingFolders(token: token) }
        let missing = AccessToken(value: "not-a-token", expiresAt: .distantFuture)
        await #expect(throws: InqomError.tokenExpired) {
            try await client.uploadDocument(token: missing, folderID: 11287, file: try file("b.pdf", "%PDF"), typeScan: .others, sourceID: "z")
        }
    }

    @Test(arguments: [408, 425, 429, 500, 502, 503, 504])
    func transientAnswersCarryRetryAfter(status: Int) async throws {
        let client = client()
        let token = try await client.requestToken(credentials)
        try await standIn.inject("upload", ["status": status, "retryAfter": 42])
        await #expect(throws: InqomError.transient(status: status, retryAfter: .seconds(42), detail: #"{"error": "injected"}"#)) {
            try await client.uploadDocument(token: token, folderID: 11287, file: try file("t.pdf", "%PDF t"), typeScan: .supplier, sourceID: "t")
        }
    }

    @Test(arguments: [400, 403, 404, 409, 413, 415, 422])
    func permanentAnswersCarryStatusAndBody(status: Int) async throws {
        let client = client()
        let token = try await client.requestToken(credentials)
        try await standIn.inject("expense", ["status": status, "body": ["error": "refused \(status)"]])
        await #expect(throws: InqomError.permanent(status: status, bodyStart: #"{"error": "refused \#(status)"}"#)) {
            try await client.uploadExpenseBill(token: token, folderID: 11287, file: try file("p.pdf", "%PDF p"), reference: "p")
        }
    }

    /// The error a call ends with (nil if it succeeded).
    private func failure<T>(_ call: () async throws -> T) async -> InqomError? {
        do {
            _ = try await call()
            return nil
        } catch {
            return error as? InqomError
        }
    }

    @Test func realRefusalsOfTheStandIn() async throws {
        let client = client()
        let token = try await client.requestToken(credentials)
        // An accounting folder Inqom does not know.
        let unknown = try file("u.pdf", "%PDF u")
        let unknownFolder = await failure {
            try await client.uploadDocument(token: token, folderID: 424242, file: unknown, typeScan: .supplier, sourceID: "u")
        }
        guard case .permanent(404, _)? = unknownFolder else {
            Issue.record("unknown folder: \(String(describing: unknownFolder))")
            return
        }
        // A type Inqom does not take.
        let program = try file("setup.exe", "MZ")
        let refused = await failure {
            try await client.uploadDocument(token: token, folderID: 11287, file: program, typeScan: .others, sourceID: "e")
        }
        guard case .permanent(415, let body)? = refused else {
            Issue.record("an .exe: \(String(describing: refused))")
            return
        }
        #expect(body.contains("application/octet-stream"))
    }

    @Test func noAnswerAtAllIsUnreachable() async throws {
        // Nobody listens on this port (bound, never listening).
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        defer { close(fd) }
        let port = UInt16(bigEndian: address.sin_port)
        let client = client(apiURL: URL(string: "http://127.0.0.1:\(port)")!)
        let token = try await self.client().requestToken(credentials)
        let error = await failure { try await client.accountingFolders(token: token) }
        guard case .unreachable? = error else {
            Issue.record("nobody listening: \(String(describing: error))")
            return
        }
    }

    @Test func aFileThatCannotBeReadIsSaidSoAndNothingIsSent() async throws {
        let client = client()
        let token = try await client.requestToken(credentials)
        let missing = UploadFile(path: TemporaryDirectory.make(prefix: "inqom-file") + "/gone.pdf", fileName: "gone.pdf")
        let error = await failure {
            try await client.uploadDocument(token: token, folderID: 11287, file: missing, typeScan: .supplier, sourceID: "g")
        }
        #expect(error == .fileUnreadable(path: missing.path))
        #expect(try await standIn.stats()["upload"] == nil)
    }

    @Test func aResetMidUploadIsUnreachable() async throws {
        let client = client()
        let token = try await client.requestToken(credentials)
        // A reset on a kept-alive connection before any answer byte is retried by libcurl
        // itself, at once, on a new one: the second reset then reaches the client.
        try await standIn.inject("upload", count: 2, ["reset": true])
        let big = try file("big.pdf", String(repeating: "%PDF big ", count: 200_000))
        let error = await failure {
            try await client.uploadDocument(token: token, folderID: 11287, file: big, typeScan: .supplier, sourceID: "r")
        }
        guard case .unreachable? = error else {
            Issue.record("a reset upload: \(String(describing: error))")
            return
        }
        // The next one goes through on a fresh connection (the stand-in forgets the second
        // reset if libcurl did not use it, and its tokens with it).
        try await standIn.control("reset", [:])
        let fresh = try await client.requestToken(credentials)
        _ = try await client.uploadDocument(token: fresh, folderID: 11287, file: big, typeScan: .supplier, sourceID: "r")
    }

    @Test func aServerThatNeverAnswersIsGivenUpOnWithinTheBound() async throws {
        let client = client(stall: .seconds(1))
        let token = try await client.requestToken(credentials)
        try await standIn.inject("folders", ["hang": 30])
        let started = ContinuousClock.now
        let error = await failure { try await client.accountingFolders(token: token) }
        guard case .unreachable? = error else {
            Issue.record("a hanging server: \(String(describing: error))")
            return
        }
        // Its own 1 s stall ended it: neither the server's answer (30 s on) nor a stall of another
        // client's (the default) could have. How much sooner depends on the machine's load.
        #expect(ContinuousClock.now - started < Self.defaultStall)
        // A slow answer inside the bound is fine.
        try await standIn.inject("folders", ["delay": 0.3])
        #expect(try await client.accountingFolders(token: token).count == 2)
    }

    @Test func connectionsAreReusedAndTransfersRunSideBySide() async throws {
        let client = client(concurrency: 1)
        let token = try await client.requestToken(credentials)
        for _ in 0..<10 { _ = try await client.accountingFolders(token: token) }
        #expect(try await standIn.stats()["apiConnections"] == 1)

        let parallel = self.client(concurrency: 4)
        try await standIn.inject("upload", count: 4, ["hold": true])
        try await withThrowingTaskGroup(of: UploadReceipt.self) { group in
            for index in 0..<4 {
                let upload = try file("p\(index).pdf", "%PDF parallel \(index)")
                group.addTask {
                    try await parallel.uploadDocument(token: token, folderID: 11287, file: upload, typeScan: .supplier, sourceID: "p\(index)")
                }
            }
            // Held at Inqom until all four have arrived: one at a time, the first would be held alone.
            try await standIn.waitUntilHeld(4)
            try await standIn.release()
            for try await receipt in group { #expect(!receipt.duplicate) }
        }
        #expect(try await standIn.stats()["peakConcurrentUpload"] == 4, "the four uploads did not run side by side")
    }

    /// Inqom counts per user: each login's pacer has its own slots. At one
    /// request per 1,000 s, a second request on the same pacer would wait
    /// 1,000 s; one on another pacer goes at once.
    @Test(.timeLimit(.minutes(1)))
    func eachLoginsPacerHasItsOwnSlots() async throws {
        let client = client(concurrency: 2, maxRequestsPerSecond: 0.001)
        let (first, second) = (client.makePacer(), client.makePacer())
        _ = try await client.requestToken(credentials, pacedBy: first)
        _ = try await client.requestToken(credentials, pacedBy: second)
        let waiting = Task { try await client.requestToken(credentials, pacedBy: first) }
        try await Task.sleep(for: .milliseconds(200))
        waiting.cancel()
        await #expect(throws: InqomError.cancelled) { try await waiting.value }
    }

    /// A slot taken ahead is the next request's: at one request per 1,000 s,
    /// a request that took a second slot would wait 1,000 s.
    @Test(.timeLimit(.minutes(1)))
    func aSlotTakenAheadIsTheNextRequests() async throws {
        let client = client(concurrency: 2, maxRequestsPerSecond: 0.001)
        let seen = await client.onTransferThread(pacedBy: client.makePacer()) { calls in
            let before = calls.waitsForSlot
            let taken = calls.takeSlot()
            let whileHeld = calls.waitsForSlot
            let token = try? calls.requestToken(self.credentials)
            return [before, taken, whileHeld, token != nil, calls.waitsForSlot]
        }
        #expect(seen == [false, true, false, true, true])
    }

    @Test func requestsStayUnderTheRateAndA429SlowsFurther() async throws {
        let client = client(concurrency: 4, maxRequestsPerSecond: 20)
        let token = try await client.requestToken(credentials)
        // 41 requests at 20 a second: at least two seconds, however many run at once.
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 { group.addTask { _ = try await client.accountingFolders(token: token) } }
            try await group.waitForAll()
        }
        #expect(ContinuousClock.now - started >= .seconds(2))
        // After a 429 the same 10 requests take twice as long.
        try await standIn.inject("folders", ["status": 429])
        _ = try? await client.accountingFolders(token: token)
        let slowed = ContinuousClock.now
        for _ in 0..<10 { _ = try await client.accountingFolders(token: token) }
        #expect(ContinuousClock.now - slowed >= .milliseconds(900))
    }

    @Test(.timeLimit(.minutes(2)))
    func aCancelledCallDoesNotWaitOutTheRate() async throws {
        let client = client(concurrency: 2, maxRequestsPerSecond: 0.001)
        let token = try await client.requestToken(credentials)
        // The token took the first slot: this call waits 1,000 seconds for its own, on a transfer thread.
        let started = ContinuousClock.now
        let task = Task { try await client.accountingFolders(token: token) }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let result = await task.result
        #expect(throws: InqomError.cancelled) { try result.get() }
        #expect(ContinuousClock.now - started < .seconds(100))
    }

    @Test func cancellingATaskAbortsItsTransfer() async throws {
        let client = client()
        let token = try await client.requestToken(credentials)
        try await standIn.inject("folders", ["hold": true])
        let task = Task { try await client.accountingFolders(token: token) }
        // Cancelled while Inqom holds the request: only aborting the transfer ends it.
        try await standIn.waitUntilHeld(1)
        task.cancel()
        let result = await task.result
        #expect(throws: InqomError.cancelled) { try result.get() }
        try await standIn.release()
    }

    @Test func aOneGibibyteFileStreamsWithFlatMemory() async throws {
        let path = TemporaryDirectory.make(prefix: "inqom-big") + "/archive.pdf"
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        #expect(truncate(path, 1 << 30) == 0)  // sparse: reads as zeros, costs no disk
        defer { unlink(path) }
        let client = client()
        let token = try await client.requestToken(credentials)
        let before = ProcessStatus.kilobytes("VmRSS")
        let peak = PeakSampler()
        let sampler = Task { while !Task.isCancelled { peak.record(ProcessStatus.kilobytes("VmRSS")); try? await Task.sleep(for: .milliseconds(20)) } }
        _ = try await client.uploadDocument(token: token, folderID: 11287, file: UploadFile(path: path, fileName: "archive.pdf"), typeScan: .others, sourceID: "big")
        sampler.cancel()
        let upload = try #require(try await standIn.uploads().last)
        #expect(upload["size"] as? Int == 1 << 30)
        #expect(upload["sha256"] as? String == "49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14")
        // Loading the file would cost 1 GiB; other tests run beside this one, so the bound is loose.
        #expect(peak.value - before < 200_000, "resident memory grew by \(peak.value - before) kB")
    }
}

/// The largest value recorded, from any task.
final class PeakSampler: Sendable {
    private let peak = Mutex(0)
    func record(_ value: Int) { peak.withLock { $0 = max($0, value) } }
    var value: Int { peak.withLock { $0 } }
}
