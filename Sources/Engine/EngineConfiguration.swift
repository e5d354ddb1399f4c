import Foundation

/// Everything the engine is told at start, already validated.
public struct EngineConfiguration: Sendable {
    public struct SMTP: Sendable {
        public var url: URL
        public var from: String
        public var user: String?
        public var password: String?
        /// STARTTLS must succeed on `smtp://`: never a password in clear.
        public var requireTLS: Bool
        public var caFile: String?

        public init(url: URL, from: String, user: String?, password: String?, requireTLS: Bool, caFile: String?) {
            self.url = url
            self.from = from
            self.user = user
            self.password = password
            self.requireTLS = requireTLS
            self.caFile = caFile
        }
    }

    /// Where the engine keeps its state.
    public enum StateStore: Sendable, Equatable {
        /// The data directory's SQLite database.
        case sqlite
        /// A PostgreSQL database (a libpq URI, which may hold a password),
        /// shared by every engine of a deployment.
        case postgres(uri: String)
    }

    public var dataDirectory: String
    public var store = StateStore.sqlite
    /// `--node-id`: how this engine is named in leases, logs and
    /// `status.engine`; nil: the host name and a suffix kept in the data directory.
    public var nodeID: String?
    /// `--lease-seconds`: how long another engine waits before sending a
    /// document this one claimed (PostgreSQL only); renewed while it uploads.
    public var leaseSeconds: Double = 30
    /// `--master-key-file`: the deployment's master key, base64 (PostgreSQL
    /// only; else `PUSHDOC_MASTER_KEY`).
    public var masterKeyFile: String?
    public var timeZone: TimeZone
    public var inqomAuthURL: URL
    public var inqomAPIURL: URL
    public var inqomClientID: String
    public var workers: Int
    public var maxAttempts: Int
    /// Entry k is the wait before attempt k+1; past the end the last repeats.
    public var retryDelays: [Duration]
    /// 0 means no limit.
    public var inqomMaxRequestsPerSecond: Double
    public var circuitProbeInterval: Duration
    /// A request to Inqom during which no byte moves for this long is given
    /// up (a transient failure): a hanging server never holds a worker.
    public var inqomStallTimeout: Duration = .seconds(60)
    /// `--connector-workers`: uploads at a time for one connector, within `workers`.
    public var connectorWorkers = 4
    public var maxFileBytes: Int64
    public var filesRoot: String?
    public var shutdownGrace: Duration
    public var smtp: SMTP?
    /// Minutes after midnight, engine time zone.
    public var digestAtMinutes: Int

    public init(
        dataDirectory: String, timeZone: TimeZone, inqomAuthURL: URL, inqomAPIURL: URL, inqomClientID: String,
        workers: Int, maxAttempts: Int, retryDelays: [Duration], inqomMaxRequestsPerSecond: Double,
        circuitProbeInterval: Duration, maxFileBytes: Int64, filesRoot: String?, shutdownGrace: Duration,
        smtp: SMTP?, digestAtMinutes: Int
    ) {
        self.dataDirectory = dataDirectory
        self.timeZone = timeZone
        self.inqomAuthURL = inqomAuthURL
        self.inqomAPIURL = inqomAPIURL
        self.inqomClientID = inqomClientID
        self.workers = workers
        self.maxAttempts = maxAttempts
        self.retryDelays = retryDelays
        self.inqomMaxRequestsPerSecond = inqomMaxRequestsPerSecond
        self.circuitProbeInterval = circuitProbeInterval
        self.maxFileBytes = maxFileBytes
        self.filesRoot = filesRoot
        self.shutdownGrace = shutdownGrace
        self.smtp = smtp
        self.digestAtMinutes = digestAtMinutes
    }
}

extension EngineConfiguration.StateStore {
    /// The PostgreSQL database's URI; nil on SQLite.
    var uri: String? {
        if case .postgres(let uri) = self { return uri }
        return nil
    }
}

extension EngineConfiguration {
    /// The Gregorian calendar in the engine's time zone.
    var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }
}

extension Calendar {
    /// The year and month of an instant in this calendar's time zone.
    func yearAndMonth(of date: Date) -> (Int, Int) {
        let parts = dateComponents([.year, .month], from: date)
        return (parts.year ?? 1970, parts.month ?? 1)
    }
}
