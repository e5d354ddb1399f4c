import Foundation
import Logging
import Mail

public struct DigestPreview: Codable, Sendable {
    public let to: String
    public let subject: String
    public let text: String
    public let html: String
    public let failures: [DigestFailure]
}

public struct DigestOutcome: Codable, Sendable {
    public let sent: Int
    public let skipped: Int
}

/// The collaborators who opted in, and their daily email of the documents
/// that failed: previewed, sent on demand, and sent every day at
/// `--digest-at` by `runSchedule`.
public struct Digest: Sendable {
    let store: any DigestStore
    let smtp: EngineConfiguration.SMTP?
    let days: DigestCalendar
    let blocking: BlockingWork
    let clock: any EngineClock
    let changes: ChangeSignal
    let logger: Logger

    public func upsertCollaborators(_ collaborators: [Collaborator]) async throws -> Int {
        for (index, collaborator) in collaborators.enumerated() {
            guard !collaborator.id.isEmpty else {
                throw EngineError.invalidParameter(field: "collaborators.\(index).id", message: "must not be empty")
            }
            try TextLimits.check(collaborator.id, field: "collaborators.\(index).id")
            try TextLimits.check(collaborator.name, field: "collaborators.\(index).name")
            try TextLimits.check(collaborator.email, field: "collaborators.\(index).email")
            // A line break in a header field would let it write other headers.
            guard !collaborator.name.contains(where: \.isNewline) else {
                throw EngineError.invalidParameter(field: "collaborators.\(index).name", message: "must be one line")
            }
            let email = collaborator.email
            let parts = email.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
                !email.contains(where: { $0.isWhitespace || "<>\",;".contains($0) })
            else {
                throw EngineError.invalidParameter(field: "collaborators.\(index).email", message: "must be an email address")
            }
        }
        try await store.upsert(collaborators)
        return collaborators.count
    }

    public func removeCollaborators(_ ids: [String]) async throws -> Int {
        try await store.remove(collaboratorIDs: ids)
    }

    public func collaborators() async throws -> [Collaborator] {
        try await store.collaborators(id: nil)
    }

    /// The digest a collaborator would receive for `day` (default: today).
    public func preview(collaboratorID: String, day: String?) async throws -> DigestPreview {
        let day = try digestDay(day)
        guard let collaborator = try await store.collaborators(id: collaboratorID).first else {
            throw EngineError.unknownCollaborator(id: collaboratorID)
        }
        return try await preview(collaborator, day: day)
    }

    /// Mails the digests of `day`: to one collaborator or every one who opted
    /// in; at most one per collaborator and day unless `force`; none without
    /// failures.
    public func send(day: String?, collaboratorID: String?, force: Bool) async throws -> DigestOutcome {
        guard let smtp else { throw EngineError.smtpNotConfigured }
        let day = try digestDay(day)
        let everyone = try await store.collaborators(id: collaboratorID)
        if let collaboratorID, everyone.isEmpty { throw EngineError.unknownCollaborator(id: collaboratorID) }
        let sender = SMTPSender(
            url: smtp.url, user: smtp.user, password: smtp.password, requireTLS: smtp.requireTLS, caFile: smtp.caFile)
        var (sent, skipped) = (0, 0)
        for collaborator in everyone {
            let alreadySent = force ? false : try await store.wasSent(to: collaborator.id, day: day)
            let preview = try await preview(collaborator, day: day)
            guard collaborator.dailyDigest, !alreadySent, !preview.failures.isEmpty else {
                skipped += 1
                continue
            }
            let message = MailMessage(
                fromAddress: smtp.from, toName: collaborator.name, toAddress: collaborator.email, subject: preview.subject,
                text: preview.text, html: preview.html, date: clock.now)
            do {
                try await blocking.run { try sender.send(message) }
            } catch {
                logger.error("digest not sent", metadata: ["collaboratorId": "\(collaborator.id)", "error": "\(error)"])
                throw EngineError.smtpFailed(detail: "\(error)")
            }
            try await store.recordSent(to: collaborator.id, day: day, failures: preview.failures.count, at: clock.now)
            changes.notify()
            sent += 1
            logger.info("digest sent", metadata: ["collaboratorId": "\(collaborator.id)", "failures": "\(preview.failures.count)"])
        }
        return DigestOutcome(sent: sent, skipped: skipped)
    }

    private func preview(_ collaborator: Collaborator, day: String) async throws -> DigestPreview {
        let window = days.window(of: day, now: clock.now)
        let failures = try await store.failures(of: collaborator.dossierIds, failedIn: window).map { failed in
            DigestFailure(
                documentId: failed.documentID, dossierId: failed.dossierID, dossierName: failed.dossierName, path: failed.path,
                reason: failed.reason,
                explanation: failed.reason.explanation(httpStatus: failed.httpStatus, attempts: failed.attempts),
                attempts: failed.attempts, lastAttemptAt: days.localTime(failed.failedAt))
        }
        let span = (
            from: DigestContent.frenchDateTime(days.localTime(window.start)), to: DigestContent.frenchDateTime(days.localTime(window.end))
        )
        return DigestPreview(
            to: collaborator.email, subject: DigestContent.subject(count: failures.count, day: day),
            text: DigestContent.text(name: collaborator.name, failures: failures, window: span),
            html: DigestContent.html(name: collaborator.name, failures: failures, window: span), failures: failures)
    }

    /// `YYYY-MM-DD`, checked; today in the engine's time zone by default.
    private func digestDay(_ day: String?) throws -> String {
        guard let day else { return days.day(of: clock.now) }
        guard DigestCalendar.isCalendarDay(day) else {
            throw EngineError.invalidParameter(field: "date", message: "must be a day as YYYY-MM-DD")
        }
        return day
    }

    /// The daily run, for every connector `everyDigest` gives: every day at
    /// `--digest-at`, and once at start if the engine was down at that time.
    /// The day of the last run is stored, so a restart never sends the same
    /// day twice; a run that failed half-way sends only what is left.
    func runSchedule(for everyDigest: @escaping @Sendable () async throws -> [Digest]) async {
        while !Task.isCancelled {
            // Elapsed time read first, and the wait reckoned from these readings: a clock
            // that moves while the turn runs shortens the wait, never lets a digest time pass unseen.
            let turn = clock.elapsed
            let now = clock.now
            let today = days.day(of: now)
            let due = (days.instant(on: today) ?? now) <= now
            // Nothing is sent when the day cannot be taken: never twice a day.
            let claim = due ? await logger.failureLogged("taking the digest day") {
                try await store.claimScheduledRun(day: today, at: Timestamp.text(now))
            } : nil
            if case .alreadyTaken = claim {
                logger.debug("daily digest already run", metadata: ["day": "\(today)"])
            }
            if case .taken(let previousDay, let previousAt) = claim, smtp != nil {
                do {
                    for digest in try await everyDigest() { _ = try await digest.send(day: today, collaboratorID: nil, force: false) }
                } catch {
                    logger.error("daily digest failed; tried again in a minute", metadata: ["error": "\(error)"])
                    // Given back, so that the retry takes it again; who had their digest is not sent it twice.
                    _ = await logger.failureLogged("giving the digest day back") {
                        try await store.recordScheduledRun(day: previousDay, at: previousAt)
                    }
                    try? await clock.sleep(for: .seconds(60))
                    continue
                }
            }
            // Wake at the next digest time, or within the hour (clock changes).
            let wait = min(days.nextInstant(after: now).timeIntervalSince(now), 3600)
            try? await clock.sleep(until: turn + .milliseconds(Int64(max(0.05, wait) * 1000)))
        }
    }

    /// `status.summary`'s digest part.
    func status() async throws -> StatusSummary.Digest {
        StatusSummary.Digest(
            lastRunAt: try await store.lastScheduledRun()?.at, nextRunAt: Timestamp.text(days.nextInstant(after: clock.now)))
    }
}
