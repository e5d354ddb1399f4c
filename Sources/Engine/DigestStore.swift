import Foundation

/// What collaborators and the daily digest need from storage, each call one
/// transaction. `SQLDigestStore`, on SQLite or PostgreSQL, is the implementation;
/// `DigestStoreTests` says what any must do.
protocol DigestStore: Sendable {
    /// Inserts or replaces collaborators.
    func upsert(_ collaborators: [Collaborator]) async throws
    /// Removes collaborators; says how many existed.
    func remove(collaboratorIDs: [String]) async throws -> Int
    /// Every collaborator by id, or the one with `id` (none when unknown).
    func collaborators(id: String?) async throws -> [Collaborator]
    /// Documents of `dossierIDs` (nil: every selected dossier) that became
    /// failed within `window` and are still failed, by dossier name then path.
    func failures(of dossierIDs: [String]?, failedIn window: DateInterval) async throws -> [FailedDocument]
    /// Whether the collaborator's digest of `day` was sent.
    func wasSent(to collaboratorID: String, day: String) async throws -> Bool
    /// Records a sent digest, with its `digest.sent` event.
    func recordSent(to collaboratorID: String, day: String, failures: Int, at now: Date) async throws
    /// The day and time of the last scheduled run; nil before the first.
    func lastScheduledRun() async throws -> (day: String, at: String)?
    /// Records the last scheduled run (nil: none).
    func recordScheduledRun(day: String?, at: String?) async throws
    /// Takes `day`'s scheduled run, unless it is taken already (by this
    /// engine or another sharing the database): one run a day, whichever
    /// engines are up. Says the run it replaced, to put back if this one fails.
    func claimScheduledRun(day: String, at: String) async throws -> ScheduledRunClaim
}

enum ScheduledRunClaim: Sendable, Equatable {
    case taken(previousDay: String?, previousAt: String?)
    case alreadyTaken
}

/// A failed document as a digest lists it.
struct FailedDocument: Sendable, Equatable {
    let documentID: String
    let dossierID: String
    let dossierName: String
    let path: String
    let reason: DocumentReason
    let attempts: Int
    let failedAt: Date
    let httpStatus: Int?
}

/// A firm's collaborator, who may receive the daily digest of failures.
public struct Collaborator: Codable, Sendable, Equatable {
    public let id: String
    public let name: String
    public let email: String
    public let dailyDigest: Bool
    /// nil: every selected dossier.
    public let dossierIds: [String]?

    public init(id: String, name: String, email: String, dailyDigest: Bool, dossierIds: [String]?) {
        self.id = id
        self.name = name
        self.email = email
        self.dailyDigest = dailyDigest
        self.dossierIds = dossierIds
    }
}
