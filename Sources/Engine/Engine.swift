import Foundation
import Glibc
import InqomClient
import Logging
import Postgres
import Store
import Synchronization

/// The Pushdoc engine: the state of one data directory and what can be done
/// with it. It knows nothing of JSON-RPC; the protocol layer calls its
/// components, which it wires to one another and to storage, and it owns
/// what runs in the background: the sender, the digest schedule, the event
/// log's retention.
public final class Engine: Sendable {
    public static let version = "0.1.0"
    public static let connectorName = "Inqom - Pushdoc API"

    public let configuration: EngineConfiguration
    public let startedAt: ContinuousClock.Instant
    public let events: EventFeed
    let connectors: Connectors

    /// Holds the data directory's lock for as long as the engine lives.
    let dataDirectory: DataDirectory
    /// The data directory's database; nil when the state is in PostgreSQL.
    let database: Database?
    /// Wakes this engine when another commits a change (PostgreSQL only).
    private let listener: PostgresListener?
    let sessions: InqomSessions
    let spool: Spool
    /// Where uploads read documents' bytes: the spool, or the database.
    let bytes: any DocumentBytes
    let blocking: BlockingWork
    let sendingStore: any SendingStore
    let directory: any ConnectorDirectory
    /// How this engine is named in `status.engine`, logs and leases.
    public let node: String
    let clock: any EngineClock
    let random: RandomSource
    let logger: Logger
    /// Signalled after each commit that queued, settled or logged something.
    let changes = ChangeSignal()
    private let senderBox = Mutex<Sender?>(nil)
    /// The digest schedule and the event log's retention: cancelled, then awaited, when sending stops.
    private let schedules = Mutex<[Task<Void, Never>]>([])
    /// Work started at start-up that nobody waits for (tidying the spool,
    /// loading the search index): awaited when sending stops.
    private let backgroundTasks = Mutex<[Task<Void, Never>]>([])
    private let stopping = Atomic<Bool>(false)

    /// Connectors kept in memory (components, search index, Inqom session) at most.
    static let connectorsInMemory = 256

    /// Opens the data directory (lock, master key, database check and
    /// migrations) on threads that may block. Call it once at start.
    public init(
        configuration: EngineConfiguration, environment: [String: String], logger: Logger,
        clock: any EngineClock = SystemClock(), random: RandomSource = .system()
    ) async throws {
        self.startedAt = .now
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        self.random = random
        let blocking = BlockingWork(threads: 8)
        self.blocking = blocking
        let opened = try await blocking.run { try Self.openStorage(configuration, environment: environment) }
        self.dataDirectory = opened.directory
        self.spool = opened.spool
        self.node = opened.node
        let storage: any StoreAccess
        let bytes: any DocumentBytes
        switch opened.kept {
        case .sqlite(let database):
            self.database = database
            let sqlite = StorageAccess(database: database, logger: logger, now: { clock.now })
            (storage, bytes, sendingStore) = (sqlite, SpooledBytes(spool: opened.spool), SQLiteSendingStore(storage: sqlite))
        case .postgres(let database, let copies):
            self.database = nil
            let shared = PostgresAccess(database: database, logger: logger, now: { clock.now })
            (storage, bytes) = (shared, DatabaseBytes(spool: opened.spool, copies: copies, storage: shared))
            sendingStore = PostgresSendingStore(
                storage: shared, node: opened.node, leaseSeconds: configuration.leaseSeconds,
                connectorWorkers: configuration.connectorWorkers)
        }
        self.bytes = bytes
        self.directory = SQLConnectorDirectory(storage: storage)
        // Token and folder calls run beside the uploads, never behind them.
        let client = InqomClient(
            configuration: .init(
                authURL: configuration.inqomAuthURL, apiURL: configuration.inqomAPIURL,
                clientID: configuration.inqomClientID, concurrency: configuration.workers + 1,
                stallTimeout: configuration.inqomStallTimeout, maxRequestsPerSecond: configuration.inqomMaxRequestsPerSecond),
            logger: logger, now: { clock.now })
        let shared = storage as? PostgresAccess
        let secretBox = opened.secretBox
        let sessions = InqomSessions(
            client: client, slots: { name in shared.map { SharedRequestSlots(storage: $0, connector: name) } },
            storedCredentials: { name in shared.map { Self.storedCredentials(of: name, in: $0, box: secretBox) } },
            sharedToken: { name in shared.map { SharedToken(storage: $0, connector: name, box: secretBox) } },
            now: { clock.now })
        self.sessions = sessions
        self.events = EventFeed(store: SQLEventStore(storage: storage), clock: clock, changes: changes, logger: logger)
        let (changes, spool) = (changes, opened.spool)
        let readableFiles = ReadableFiles(root: configuration.filesRoot, dataDirectory: configuration.dataDirectory)
        let days = DigestCalendar(calendar: configuration.calendar, digestAtMinutes: configuration.digestAtMinutes)
        self.connectors = Connectors(capacity: Self.connectorsInMemory, dropped: { sessions.drop($0) }) { name in
            let search = DossierSearch(of: name)
            let connectorStore = SQLConnectorStore(storage: storage, connector: name, search: search)
            let catalogStore = SQLCatalogStore(storage: storage, search: search)
            return Connector(
                name: name,
                catalog: Catalog(store: catalogStore, connectorStore: connectorStore),
                setup: ConnectorSetup(
                    store: connectorStore, catalogStore: catalogStore, inqom: sessions.session(for: name), secretBox: secretBox,
                    clock: clock, changes: changes, logger: logger),
                rules: SendingRules(
                    store: SQLRuleStore(storage: storage, connector: name), catalogStore: catalogStore,
                    calendar: configuration.calendar, clock: clock, random: random),
                intake: Intake(
                    store: SQLIntakeStore(storage: storage, connector: name, bytes: bytes), spool: spool, readableFiles: readableFiles,
                    blocking: blocking, maxFileBytes: configuration.maxFileBytes, calendar: configuration.calendar, clock: clock,
                    changes: changes, logger: logger),
                documents: Documents(store: SQLDocumentStore(storage: storage, connector: name), clock: clock, changes: changes),
                digest: Digest(
                    store: SQLDigestStore(storage: storage, connector: name), smtp: configuration.smtp, days: days,
                    blocking: blocking, clock: clock, changes: changes, logger: logger))
        }
        // Before this engine takes its leases back from a crash: no other engine may be running under its name.
        let node = opened.node
        if let uri = configuration.store.uri {
            listener = try await blocking.run { try PostgresListener(uri: uri, node: node) { changes.notify() } }
        } else {
            listener = nil
        }
        try await directory.settleUnknownStates()
        _ = try await connectors.ready(.default)
        try await recoverInterruptedWork()
        var started: Logger.Metadata = [
            "dataDir": "\(configuration.dataDirectory)", "version": "\(Self.version)", "node": "\(node)",
            "store": "\(database == nil ? "postgres" : "sqlite")",
        ]
        if let database { started["databaseCheck"] = "\(database.integrityCheck.rawValue)" }
        logger.info("engine started", metadata: started)
    }

    /// A connector's credentials as another engine may have stored them.
    private static func storedCredentials(
        of connector: ConnectorName, in storage: PostgresAccess, box: SecretBox
    ) -> @Sendable () async throws -> InqomCredentials? {
        {
            let sealed = try await storage.read { try $0.setting(.inqomCredentials, of: connector) }
            return try sealed.map { try StoredCredentials.open($0, with: box) }
        }
    }

    /// Where the state is kept, opened (checked and migrated).
    private enum KeptState {
        case sqlite(Database)
        /// With where copies of other engines' documents are written.
        case postgres(PostgresDatabase, copies: String)
    }

    /// The data directory locked, the master key, the spool and the
    /// database (checked and migrated). Blocking.
    private static func openStorage(_ configuration: EngineConfiguration, environment: [String: String]) throws
        -> (directory: DataDirectory, secretBox: SecretBox, spool: Spool, kept: KeptState, node: String)
    {
        let directory = try DataDirectory(path: configuration.dataDirectory)
        let node = try configuration.nodeID ?? directory.nodeID(host: hostName())
        // With PostgreSQL the database keeps the bytes: the spool only stages them, unsynced.
        let spool = try Spool(directory: configuration.dataDirectory + "/spool", syncs: configuration.store == .sqlite)
        switch configuration.store {
        case .sqlite:
            let secretBox = SecretBox(key: try directory.masterKey(environment: environment))
            do {
                let database = try Database(path: directory.databasePath, migrations: Schema.migrations)
                return (directory, secretBox, spool, .sqlite(database), node)
            } catch let error as SQLiteError where error.isCorruption {
                throw StartupFailure(
                    description: "database \(directory.databasePath) is corrupted (\(error.message)); "
                        + "the engine will not start on it: restore it from a backup or move it away")
            }
        case .postgres(let uri):
            let secretBox = SecretBox(
                key: try DataDirectory.sharedMasterKey(environment: environment, file: configuration.masterKeyFile))
            // A start before the database is reachable fails: the supervisor starts the engine again.
            let database = try PostgresDatabase(
                uri: uri, connections: 4, migrations: PostgresSchema.migrations, masterKey: secretBox)
            return (directory, secretBox, spool, .postgres(database, copies: try directory.scratch("copies")), node)
        }
    }

    /// After a crash: uploads that were under way go again (Inqom flags a
    /// resend as Duplicate); the spool is tidied once the engine serves.
    private func recoverInterruptedWork() async throws {
        let resent = try await sendingStore.requeueInterrupted(at: clock.now)
        inBackground { await self.recoverSpool() }
        try await events.prune()
        if resent > 0 { logger.warning("uploads interrupted by a stop are sent again", metadata: ["documents": "\(resent)"]) }
    }

    /// Spool files no document needs, left by earlier runs, are removed in
    /// the background: listing a large spool is work a start should not
    /// wait for.
    private func recoverSpool() async {
        do {
            let spooled = try await connectors(.default).documents.store.spoolNamesInUse()
            let spool = spool
            await blocking.run { spool.recover(keeping: spooled) }
        } catch {
            logger.warning("spool left untidied until the next start", metadata: ["error": "\(error)"])
        }
    }

    /// Starts sending documents (once the wizard is finished), and loads the
    /// search index meanwhile so that the first search does not wait for it.
    public func startSending() {
        inBackground {
            _ = await self.logger.failureLogged("loading the search index") {
                try await self.connectors(.default).catalog.search(query: nil, paging: Paging(page: 1, pageSize: 1), selectedOnly: false)
            }
        }
        let sender = Sender(
            .init(
                store: sendingStore, sessions: sessions, spool: spool, bytes: bytes, blocking: blocking, clock: clock,
                random: random, configuration: configuration, logger: logger, changes: changes,
                prepare: { [connectors] name in _ = try await connectors.ready(name) },
                tokenRefused: { [connectors] name, why in try await connectors(name).setup.markTokenRefused(why) }))
        senderBox.withLock { $0 = sender }
        sender.start()
        schedules.withLock {
            $0 = [Task { await self.runDigestSchedule() }, Task { [events] in await events.runRetention() }]
            if let shared = sendingStore as? PostgresSendingStore { $0.append(Task { await self.keepLeases(shared) }) }
        }
    }

    /// Renews this engine's leases three times a lease, so that an upload
    /// longer than a lease is not taken for a dead engine's.
    private func keepLeases(_ store: PostgresSendingStore) async {
        let every = Duration.seconds(configuration.leaseSeconds / 3)
        while (try? await clock.sleep(for: every)) != nil {
            _ = await logger.failureLogged("renewing leases") { try await store.renewLeases(at: clock.now) }
        }
    }

    /// The daily digests of every connector whose collaborators opted in.
    func runDigestSchedule() async {
        await connectors(.default).digest.runSchedule { [directory, connectors] in
            try await directory.withDailyDigests().map { connectors($0).digest }
        }
    }

    /// The engine is stopping: waits (`push.drain`) end now, each answered.
    public func stopWaiting() {
        stopping.store(true, ordering: .relaxed)
        changes.notify()
    }

    var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// Stops sending: uploads under way may finish until `deadline`.
    public func stopSending(by deadline: ContinuousClock.Instant) async {
        let schedules = schedules.withLock { $0 }
        for task in schedules { task.cancel() }
        await senderBox.withLock { $0 }?.stop(by: deadline)
        for task in schedules { await task.value }
        for task in backgroundTasks.withLock({ $0 }) { await task.value }
    }

    private func inBackground(_ work: @escaping @Sendable () async -> Void) {
        backgroundTasks.withLock { $0.append(Task { await work() }) }
    }

    /// Last of all, once sending has stopped and requests are answered:
    /// ends the engine's threads (transfers, file work); says whether they
    /// ended by `deadline`. Blocks.
    public func stopThreads(waitingUntil deadline: DispatchTime) -> Bool {
        listener?.stop()
        let transfers = sessions.client.stop(waitingUntil: deadline)
        return blocking.stop(waitingUntil: deadline) && transfers
    }

    var sender: Sender? { senderBox.withLock { $0 } }

    /// Last of a clean stop, once sending has stopped and requests are
    /// answered: the database checked and sealed, so that the next start on
    /// an unchanged file need not check it again.
    public func sealDatabase() async {
        guard let database else { return }
        let started = ContinuousClock.now
        do {
            let check = try await database.seal()
            logger.info(
                "database sealed", metadata: ["check": "\(check.rawValue)", "duration": "\(ContinuousClock.now - started)"])
        } catch let error as SQLiteError where error.isCorruption {
            logger.error(
                "database \(database.path) is corrupted (\(error.message)): the next start will refuse it",
                metadata: ["error": "\(error.message)"])
        } catch {
            logger.warning("database not sealed: the next start checks it", metadata: ["error": "\(error)"])
        }
    }

    public var uptime: Duration { ContinuousClock.now - startedAt }

    /// A firm's connector: its catalog, setup, rules, intake, documents and
    /// digest; its stored Inqom credentials opened at its first use.
    public func connector(_ name: ConnectorName) async throws -> Connector {
        try await connectors.ready(name)
    }

    /// The connector a call names: `"default"` when it names none.
    public func connector(named text: String?) async throws -> Connector {
        try await connector(try connectorName(text) ?? .default)
    }

    /// A name given by a client, checked; nil when none was given.
    public func connectorName(_ text: String?) throws -> ConnectorName? {
        guard let text else { return nil }
        guard let name = ConnectorName(text) else {
            throw EngineError.invalidParameter(
                field: "connector", message: "must be 1 to 128 characters among A-Z a-z 0-9 . _ : -")
        }
        return name
    }

    private static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The database as the engine's parts use it, whichever keeps the state:
/// each call one transaction, its statements written once for both
/// (`SQLConnection`). A failure to store (a full or read-only disk, a
/// database out of reach) is `EngineError.storageUnavailable`, and logged.
protocol StoreAccess: Sendable {
    var dialect: SQLDialect { get }
    var logger: Logger { get }
    /// The engine's wall clock, for rows that note when they were created.
    var now: @Sendable () -> Date { get }
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T
    /// The same, from a thread that may block (a transfer thread recording what Inqom answered).
    @discardableResult
    func writeBlocking<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) throws -> T
    /// A consistent view, for calls that only read.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T
    /// The same for long streams (event replays to subscribers), apart from the clients' calls.
    func readForStream<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T
}

/// The engine's SQLite database as a `StoreAccess`.
struct StorageAccess: StoreAccess {
    let database: Database
    let logger: Logger
    let now: @Sendable () -> Date

    var dialect: SQLDialect { .sqlite }

    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        do {
            return try await database.write(body)
        } catch let error as SQLiteError where error.isStorageFailure {
            throw unavailable(error)
        }
    }

    @discardableResult
    func writeBlocking<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) throws -> T {
        do {
            return try database.writeBlocking(body)
        } catch let error as SQLiteError where error.isStorageFailure {
            throw unavailable(error)
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await database.read(body)
    }

    func readForStream<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await database.readForStream(body)
    }

    private func unavailable(_ error: SQLiteError) -> EngineError {
        logger.error("storage unavailable", metadata: ["error": "\(error.message)"])
        return .storageUnavailable(detail: error.message)
    }
}

extension Logger {
    /// Runs `body` for a background loop: a failure is logged with what was
    /// being done, and the loop goes on (nil).
    func failureLogged<T>(_ doing: String, _ body: () async throws -> T) async -> T? {
        do {
            return try await body()
        } catch {
            self.error("\(doing) failed", metadata: ["error": "\(error)"])
            return nil
        }
    }
}

public struct StartupFailure: Error, CustomStringConvertible {
    public let description: String
}
