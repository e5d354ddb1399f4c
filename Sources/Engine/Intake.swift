import Foundation
import Glibc
import Logging
import Store

/// A document handed over by MCF.
public struct Submission: Sendable {
    public enum Content: Sendable {
        case file(String)
        case base64(String)
    }

    public var dossierID: String
    public var path: String
    public var content: Content
    public var documentID: String?
    public var depositedAt: Date?
    public var force: Bool
    public var expectedSize: Int64?
    public var expectedSHA256: String?
    public var dryRun: Bool

    public init(
        dossierID: String, path: String, content: Content, documentID: String?, depositedAt: Date?, force: Bool,
        expectedSize: Int64?, expectedSHA256: String?, dryRun: Bool
    ) {
        self.dossierID = dossierID
        self.path = path
        self.content = content
        self.documentID = documentID
        self.depositedAt = depositedAt
        self.force = force
        self.expectedSize = expectedSize
        self.expectedSHA256 = expectedSHA256
        self.dryRun = dryRun
    }
}

/// What became of a submission.
public struct SubmissionResult: Codable, Sendable {
    public let documentId: String
    public let state: DocumentState
    public let ruleId: String?
    public let reason: DocumentReason?
    // Dry runs only.
    public var inqomFolderId: Int64?
    public var typeScan: String?
    public var endpoint: String?
}

/// `push.submit`: a document's bytes made durable in the spool, then judged
/// and recorded in one transaction.
public struct Intake: Sendable {
    let store: any IntakeStore
    let spool: Spool
    let readableFiles: ReadableFiles
    let blocking: BlockingWork
    let maxFileBytes: Int64
    let calendar: Calendar
    let clock: any EngineClock
    let changes: ChangeSignal
    let logger: Logger

    public func submit(_ submission: Submission) async throws -> SubmissionResult {
        let segments = DossierPath.clean(submission.path).split(separator: "/")
        guard !segments.isEmpty else {
            throw EngineError.invalidParameter(field: "path", message: "must name a file in the dossier tree")
        }
        // The file's name comes back in its archive path, where MCF moves it.
        try TextLimits.checkRelativePath(submission.path, field: "path")
        if let id = submission.documentID, !TextLimits.documentIDBytes.contains(id.utf8.count) {
            throw EngineError.invalidParameter(field: "documentId", message: "must be 1 to 256 bytes of UTF-8")
        }
        if let sha = submission.expectedSHA256, sha.count != 64 || !sha.allSatisfy(\.isHexDigit) {
            throw EngineError.invalidParameter(field: "sha256", message: "must be 64 hexadecimal digits")
        }
        if let size = submission.expectedSize, size < 0 {
            throw EngineError.invalidParameter(field: "size", message: "must be 0 or more")
        }
        let entry = try await spoolIn(submission.content)
        // Inqom refuses empty files: refused here, not failed there.
        guard entry.size > 0 else {
            _ = await logger.failureLogged("removing an empty spooled file") { try await discard(entry) }
            throw EngineError.fileUnreadable(detail: "the file is empty")
        }
        do {
            let (result, spooled) = try await record(submission, entry: entry)
            if !spooled { try await discard(entry) }
            return result
        } catch {
            _ = await logger.failureLogged("removing a refused document's spooled file") { try await discard(entry) }
            throw error
        }
    }

    private func discard(_ entry: Spool.Entry) async throws {
        let spool = spool
        await blocking.run { spool.release(entry.name) }
    }

    /// Checks and commits one spooled submission; says whether the row
    /// keeps the spool file.
    private func record(_ submission: Submission, entry: Spool.Entry) async throws -> (SubmissionResult, Bool) {
        let path = DossierPath.clean(submission.path)
        let fileName = path.split(separator: "/").last.map(String.init) ?? path
        if let size = submission.expectedSize, size != entry.size {
            throw EngineError.contentMismatch(detail: "read \(entry.size) bytes, expected \(size)")
        }
        if let sha = submission.expectedSHA256?.lowercased(), sha != entry.sha256 {
            throw EngineError.contentMismatch(detail: "SHA-256 of the bytes read differs from the one given")
        }
        let documentID = submission.documentID
            ?? "doc_" + SHA256.hex(Array("\(submission.dossierID)\n\(path)\n\(entry.sha256)".utf8)).prefix(32)
        let depositedAt = submission.depositedAt ?? clock.now
        let (year, month) = calendar.yearAndMonth(of: depositedAt)
        let document = NewDocument(
            id: documentID, dossierID: submission.dossierID, path: path,
            folder: path.split(separator: "/").dropLast().joined(separator: "/"), fileName: fileName, size: entry.size,
            sha256: entry.sha256, spoolName: entry.name, depositedAt: depositedAt, submittedAt: clock.now)
        let (force, dryRun) = (submission.force, submission.dryRun)
        let verdict = try await store.admit(document) { facts in
            try Self.judge(document, on: facts, year: year, month: month, force: force, dryRun: dryRun)
        }
        if verdict.isQueued { changes.notify() }
        return (verdict.result, verdict.isQueued && store.keepsSpoolFile)
    }

    /// What becomes of a new document: the rules of intake, in one place.
    static func judge(
        _ document: NewDocument, on facts: IntakeFacts, year: Int, month: Int, force: Bool, dryRun: Bool
    ) throws -> IntakeVerdict {
        // An ignored document kept nothing to send: it is judged afresh, and never conflicts.
        if let existing = facts.existing, existing.result.state != .ignored {
            let differs = [("dossierId", existing.dossierID != document.dossierID), ("path", existing.path != document.path),
                           ("content", existing.sha256 != document.sha256)].filter(\.1).map(\.0)
            guard differs.isEmpty else { throw EngineError.documentConflict(id: document.id, differs: differs) }
            return .answer(existing.result)
        }
        guard let isSelected = facts.dossierSelected else { throw EngineError.unknownDossiers(ids: [document.dossierID]) }
        let rule = matchingRule(facts.rules, folder: document.folder, year: year, month: month)
        let outcome: (state: DocumentState, reason: DocumentReason?, history: HistoryEvent)
        if !isSelected {
            outcome = (.ignored, .dossierNotSelected, .ignored)
        } else if facts.connectorState == .unconfigured || facts.connectorState == .configuring {
            outcome = (.ignored, .connectorNotActive, .ignored)
        } else if rule == nil {
            outcome = (.ignored, .noMatchingRule, .ignored)
        } else if !force, facts.alreadyTransmitted {
            outcome = (.duplicate, .alreadyTransmitted, .duplicate)
        } else {
            outcome = (.queued, nil, .queued)
        }
        var result = SubmissionResult(documentId: document.id, state: outcome.state, ruleId: rule?.id, reason: outcome.reason)
        guard !dryRun else {
            result.inqomFolderId = facts.inqomFolderID
            if let type = rule?.documentType {
                result.typeScan = type.typeScan?.rawValue
                result.endpoint = type.typeScan == nil ? "expense-bills" : "Documents"
            }
            return .answer(result)
        }
        return .store(result, history: outcome.history, rule: rule)
    }

    /// The bytes, durably in the spool: copied from a `file` the engine may
    /// read, or decoded from base64.
    private func spoolIn(_ content: Submission.Content) async throws -> Spool.Entry {
        let (maxBytes, readableFiles, logger, spool) = (maxFileBytes, readableFiles, logger, spool)
        return try await blocking.run {
            do {
                switch content {
                case .base64(let encoded):
                    guard Int64(encoded.utf8.count) / 4 * 3 <= maxBytes + 3 else { throw EngineError.fileTooLarge(limit: maxBytes) }
                    guard let bytes = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
                        throw EngineError.fileUnreadable(detail: "contentBase64 is not valid base64")
                    }
                    guard Int64(bytes.count) <= maxBytes else { throw EngineError.fileTooLarge(limit: maxBytes) }
                    return try spool.store(bytes: bytes)
                case .file(let path):
                    let fd = try readableFiles.open(path, logger: logger)
                    defer { close(fd) }
                    var info = stat()
                    guard fstat(fd, &info) == 0 else { throw ReadableFiles.refusal }
                    guard Int64(info.st_size) <= maxBytes else { throw EngineError.fileTooLarge(limit: maxBytes) }
                    return try spool.store(copying: fd, maxBytes: maxBytes)
                }
            } catch is Spool.TooLarge {
                throw EngineError.fileTooLarge(limit: maxBytes)
            } catch let failure as Spool.Failure {
                if failure.isStorageFailure { throw EngineError.storageUnavailable(detail: failure.description) }
                throw EngineError.fileUnreadable(detail: failure.description)
            }
        }
    }

    /// The rule whose deposit folder this is, for the deposit's year and month.
    static func matchingRule(_ rules: [Rule], folder: String, year: Int, month: Int) -> Rule? {
        rules.first { rule in
            guard let template = try? PathTemplate(rule.depositPath) else { return false }
            return rule.period == .any
                ? template.matches(folder: folder, year: nil, month: nil)
                : template.matches(folder: folder, year: year, month: month)
        }
    }
}
