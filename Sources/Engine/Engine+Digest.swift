import Foundation
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

extension Engine {
    /// The digest a collaborator would receive for `day` (default: today).
    public func previewDigest(collaboratorID: String, day: String?) async throws -> DigestPreview {
        let day = try digestDay(day)
        guard let collaborator = try await digestStore.collaborators(id: collaboratorID).first else {
            throw EngineError.unknownCollaborator(id: collaboratorID)
        }
        return try await preview(collaborator, day: day)
    }

    /// Mails the digests of `day`: to one collaborator or every one who opted
    /// in; at most one per collaborator and day unless `force`; none without
    /// failures.
    public func sendDigests(day: String?, collaboratorID: String?, force: Bool) async throws -> DigestOutcome {
        guard let smtp = configuration.smtp else { throw EngineError.smtpNotConfigured }
        let day = try digestDay(day)
        let everyone = try await digestStore.collaborators(id: collaboratorID)
        if let collaboratorID, everyone.isEmpty { throw EngineError.unknownCollaborator(id: collaboratorID) }
        let sender = SMTPSender(
            url: smtp.url, user: smtp.user, password: smtp.password, requireTLS: smtp.requireTLS, caFile: smtp.caFile)
        var (sent, skipped) = (0, 0)
        for collaborator in everyone {
            let alreadySent = force ? false : try await digestStore.wasSent(to: collaborator.id, day: day)
            let preview = try await preview(collaborator, day: day)
            guard collaborator.dailyDigest, !alreadySent, !preview.failures.isEmpty else {
                skipped += 1
                continue
            }
            let message = MailMessage(
                fromAddress: smtp.from, toName: collaborator.name, toAddress: collaborator.email, subject: preview.subject,
                text: preview.text, html: preview.html, date: now())
            do {
                try await blocking.run { try sender.send(message) }
            } catch {
                logger.error("digest not sent", metadata: ["collaboratorId": "\(collaborator.id)", "error": "\(error)"])
                throw EngineError.smtpFailed(detail: "\(error)")
            }
            try await digestStore.recordSent(to: collaborator.id, day: day, failures: preview.failures.count, at: now())
            changes.notify()
            sent += 1
            logger.info("digest sent", metadata: ["collaboratorId": "\(collaborator.id)", "failures": "\(preview.failures.count)"])
        }
        return DigestOutcome(sent: sent, skipped: skipped)
    }

    private func preview(_ collaborator: Collaborator, day: String) async throws -> DigestPreview {
        let window = digestWindow(day)
        let failures = try await digestStore.failures(of: collaborator.dossierIds, failedIn: window).map { failed in
            DigestFailure(
                documentId: failed.documentID, dossierId: failed.dossierID, dossierName: failed.dossierName, path: failed.path,
                reason: failed.reason,
                explanation: failed.reason.explanation(httpStatus: failed.httpStatus, attempts: failed.attempts),
                attempts: failed.attempts, lastAttemptAt: localTime(failed.failedAt))
        }
        let span = (from: DigestContent.frenchDateTime(localTime(window.start)), to: DigestContent.frenchDateTime(localTime(window.end)))
        return DigestPreview(
            to: collaborator.email, subject: DigestContent.subject(count: failures.count, day: day),
            text: DigestContent.text(name: collaborator.name, failures: failures, window: span),
            html: DigestContent.html(name: collaborator.name, failures: failures, window: span), failures: failures)
    }

    /// `YYYY-MM-DD`, checked; today in the engine's time zone by default.
    func digestDay(_ day: String?) throws -> String {
        guard let day else { return localDay(now()) }
        guard Self.isCalendarDay(day) else {
            throw EngineError.invalidParameter(field: "date", message: "must be a day as YYYY-MM-DD")
        }
        return day
    }

    /// Exactly four, two and two ASCII digits, naming a day that exists
    /// (no sign, no `2026-1-1`, no 30 February).
    static func isCalendarDay(_ day: String) -> Bool {
        let bytes = Array(day.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes.indices.allSatisfy({ $0 == 4 || $0 == 7 || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[$0]) }),
            let year = Int(day.prefix(4)), let month = Int(day.dropFirst(5).prefix(2)), let dayOfMonth = Int(day.suffix(2))
        else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: DateComponents(year: year, month: month, day: dayOfMonth)) else { return false }
        let back = calendar.dateComponents([.year, .month, .day], from: date)
        return back.year == year && back.month == month && back.day == dayOfMonth
    }

    /// The 24 hours ending at `day`'s digest time.
    func digestWindow(_ day: String) -> DateInterval {
        let end = digestInstant(day) ?? now()
        return DateInterval(start: end.addingTimeInterval(-86_400), end: end)
    }

    /// `day` at `--digest-at`, in the engine's time zone (through a change of
    /// hour, the calendar's nearest valid time).
    func digestInstant(_ day: String) -> Date? {
        let parts = day.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        var components = DateComponents()
        (components.year, components.month, components.day) = (parts[0], parts[1], parts[2])
        (components.hour, components.minute) = (configuration.digestAtMinutes / 60, configuration.digestAtMinutes % 60)
        guard let date = calendar.date(from: components),
            calendar.dateComponents([.year, .month, .day], from: date) == DateComponents(year: parts[0], month: parts[1], day: parts[2])
        else { return nil }
        return date
    }

    /// The next digest time after `date`.
    func nextDigestInstant(after date: Date) -> Date {
        let today = localDay(date)
        if let instant = digestInstant(today), instant > date { return instant }
        let tomorrow = calendar.date(byAdding: .day, value: 1, to: date) ?? date.addingTimeInterval(86_400)
        return digestInstant(localDay(tomorrow)) ?? tomorrow
    }

    var calendar: Calendar { configuration.calendar }

    func localDay(_ date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    func localTime(_ date: Date) -> String {
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return localDay(date) + String(format: " %02d:%02d", parts.hour ?? 0, parts.minute ?? 0)
    }

    /// The daily run: every day at `--digest-at`, and once at start if the
    /// engine was down at that time. The day of the last run is stored, so a
    /// restart never sends the same day twice.
    func runDigestSchedule() async {
        while !Task.isCancelled {
            let now = now()
            let today = localDay(now)
            let due = (digestInstant(today) ?? now) <= now
            let lastRun = await logger.failureLogged("reading the last digest day") { try await digestStore.lastScheduledRun() }
            // Nothing is sent when the last run cannot be read: never twice a day.
            if due, let lastRun, lastRun?.day != today {
                if configuration.smtp != nil {
                    do {
                        _ = try await sendDigests(day: today, collaboratorID: nil, force: false)
                    } catch {
                        logger.error("daily digest failed; tried again in a minute", metadata: ["error": "\(error)"])
                        try? await clock.sleep(for: .seconds(60))
                        continue
                    }
                }
                let at = Self.timestamp(now)
                _ = await logger.failureLogged("recording the digest day") {
                    try await digestStore.recordScheduledRun(day: today, at: at)
                }
            }
            // Wake at the next digest time, or within the hour (clock changes).
            let wait = min(nextDigestInstant(after: self.now()).timeIntervalSince(self.now()), 3600)
            try? await clock.sleep(for: .milliseconds(Int64(max(0.05, wait) * 1000)))
        }
    }

    /// `status.summary`'s digest part.
    func digestStatus() async throws -> StatusSummary.Digest {
        StatusSummary.Digest(
            lastRunAt: try await digestStore.lastScheduledRun()?.at, nextRunAt: Self.timestamp(nextDigestInstant(after: now())))
    }
}
