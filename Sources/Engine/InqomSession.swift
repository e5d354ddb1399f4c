import Foundation
import InqomClient

/// One connector's Inqom login: its credentials (in memory, opened from
/// their sealed copy) and its current token. A single token request serves
/// every caller waiting for one.
actor InqomSession {
    let client: InqomClient
    /// This login's share of `--inqom-max-rps`: Inqom counts per user.
    nonisolated let pacer: RequestPacer
    private var credentials: InqomCredentials?
    private var token: AccessToken?
    private var pendingToken: Task<AccessToken, any Error>?
    /// The last token Inqom refused: another engine may still hold it as the shared one.
    private var refused: String?
    private let now: @Sendable () -> Date
    /// Engines sharing a database: the credentials as stored now, read
    /// before each new token (another engine may have connected the
    /// connector again, or disconnected it). nil: this engine's own are the truth.
    private let storedCredentials: (@Sendable () async throws -> InqomCredentials?)?
    /// Engines sharing a database: the token they share; nil: this engine's own.
    private let shared: SharedToken?

    init(
        client: InqomClient, slots: (any SlotLedger)?, storedCredentials: (@Sendable () async throws -> InqomCredentials?)?,
        shared: SharedToken?, now: @escaping @Sendable () -> Date
    ) {
        self.client = client
        self.pacer = client.makePacer(sharedThrough: slots)
        self.storedCredentials = storedCredentials
        self.shared = shared
        self.now = now
    }

    var isConnected: Bool { credentials != nil }

    func connect(_ credentials: InqomCredentials, token: AccessToken) async throws {
        self.credentials = credentials
        self.token = token
        pendingToken = nil
        try await shared?.publish(token)
    }

    /// Credentials known from an earlier start: a token is asked when needed.
    func restore(_ credentials: InqomCredentials) {
        self.credentials = credentials
        token = nil
    }

    func forget() {
        credentials = nil
        token = nil
        pendingToken?.cancel()
        pendingToken = nil
    }

    /// Runs `call` with a valid token; a token refused with 401 is replaced
    /// once and the call retried at once.
    func withToken<T: Sendable>(_ call: @Sendable (AccessToken) async throws(InqomError) -> T) async throws -> T {
        let first = try await validToken()
        do {
            return try await call(first)
        } catch .tokenExpired {
            discard(first)
            return try await call(try await validToken())
        }
    }

    /// A token that stays valid for `renewalMargin` at least.
    func validToken() async throws -> AccessToken {
        if let token, Self.isUsable(token, at: now()) { return token }
        if let pendingToken { return try await pendingToken.value }
        if let storedCredentials {
            let stored = try await storedCredentials()
            if let pendingToken { return try await pendingToken.value }
            if stored != credentials { (credentials, token) = (stored, nil) }
        }
        guard let credentials else { throw EngineError.notConnected }
        let fetch: @Sendable () async throws -> AccessToken = { [client, pacer] in try await client.requestToken(credentials, pacedBy: pacer) }
        let replacing = token?.value ?? refused
        let request = Task { [shared, now] in
            guard let shared else { return try await fetch() }
            return try await shared.renew(replacing: replacing, usable: { Self.isUsable($0, at: now()) }, fetch: fetch)
        }
        pendingToken = request
        defer { pendingToken = nil }
        let fresh = try await request.value
        token = fresh
        return fresh
    }

    /// Inqom refused `refused` (401): the next caller gets a new token,
    /// unless another caller already replaced it.
    func discard(_ refused: AccessToken) {
        if token?.value == refused.value { token = nil }
        self.refused = refused.value
    }

    /// A token is renewed this long before it expires, so that no call
    /// starts with one about to lapse.
    static let renewalMargin: TimeInterval = 30

    nonisolated static func isUsable(_ token: AccessToken, at date: Date) -> Bool {
        token.expiresAt > date.addingTimeInterval(renewalMargin)
    }
}
