import ArgumentParser
import Foundation

/// `pushdoc serve`: its options. Values stay text here; `ServeSettings`
/// resolves each against its `PUSHDOC_*` variable and validates it, so that
/// every bad value, from either place, gets the same one-line error.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the Pushdoc JSON-RPC protocol on stdio and/or a Unix socket.",
        discussion: """
            Every option can also be given as an environment variable: PUSHDOC_ and the option \
            in upper snake case (PUSHDOC_DATA_DIR, PUSHDOC_INQOM_API_URL, ...); the option wins. \
            SMTP credentials come from PUSHDOC_SMTP_USER and PUSHDOC_SMTP_PASSWORD only, the \
            master key from PUSHDOC_MASTER_KEY (base64, 32 bytes) when set.
            """)

    @Flag(help: "Serve one client on stdin/stdout (PUSHDOC_STDIO=1).")
    var stdio = false
    @Option(help: .init("Serve many clients on this Unix socket (mode 0600; keep it in a private directory).", valueName: "path"))
    var socket: String?
    @Option(help: .init("Where state lives (default $XDG_DATA_HOME/pushdoc, else ~/.local/share/pushdoc).", valueName: "dir"))
    var dataDir: String?
    @Option(help: .init("Where state is kept: sqlite (the data directory, default) or a postgres:// URI shared by engines.", valueName: "url"))
    var store: String?
    @Option(help: .init("This engine's name in leases, logs and status.engine (default: host name and a kept suffix).", valueName: "id"))
    var nodeId: String?
    @Option(help: .init("With PostgreSQL: the deployment's master key, base64, in a file only the engine's user reads.", valueName: "path"))
    var masterKeyFile: String?
    @Option(help: .init("With PostgreSQL: seconds before another engine sends a document this one claimed (default 30).", valueName: "s"))
    var leaseSeconds: String?
    @Option(help: .init("Time zone of {millésime}/{mois} and the digest (default Europe/Paris).", valueName: "tz"))
    var timezone: String?
    @Option(help: .init("Inqom's token server (default https://auth.inqom.com).", valueName: "url"))
    var inqomAuthUrl: String?
    @Option(help: .init("Inqom's API (default https://api.inqom.com).", valueName: "url"))
    var inqomApiUrl: String?
    @Option(help: .init("The integration's Inqom client id (default mcf-pushdoc).", valueName: "id"))
    var inqomClientId: String?
    @Option(help: .init("Uploads at a time, for the whole engine (default 8).", valueName: "n"))
    var workers: String?
    @Option(help: .init("Uploads at a time for one connector, within --workers (default 4).", valueName: "n"))
    var connectorWorkers: String?
    @Option(help: .init("Attempts before a document is failed (default 6).", valueName: "n"))
    var maxAttempts: String?
    @Option(help: .init("Seconds to wait before each retry (default 60,300,1800,7200,21600).", valueName: "list"))
    var retryDelays: String?
    @Option(help: .init("Requests per second to Inqom at most, 0 for no limit (default 15).", valueName: "n"))
    var inqomMaxRps: String?
    @Option(help: .init("Seconds between probes while the circuit is open (default 30).", valueName: "s"))
    var circuitProbeSeconds: String?
    @Option(help: .init("Seconds without a byte moving before a request to Inqom is given up (default 60).", valueName: "s"))
    var inqomStallSeconds: String?
    @Option(help: .init("Largest document accepted, in bytes; K, M, G suffixes (default 100M).", valueName: "n"))
    var maxFileBytes: String?
    @Option(help: .init("push.submit reads `file` only inside this directory.", valueName: "dir"))
    var filesRoot: String?
    @Option(help: .init("Seconds in-flight work gets at shutdown (default 10).", valueName: "s"))
    var shutdownGrace: String?
    @Option(help: .init("Longest protocol line, in bytes; K, M, G suffixes (default 16M).", valueName: "n"))
    var maxMessageBytes: String?
    @Option(help: .init("Also let this uid use the socket; repeatable (PUSHDOC_ALLOW_UID: comma-separated).", valueName: "uid"))
    var allowUid: [String] = []
    @Option(help: .init("Socket connections served at once; more are refused (default 256).", valueName: "n"))
    var maxConnections: String?
    @Option(help: .init("SMTP server of the digest: smtp://host:port or smtps://host:port.", valueName: "url"))
    var smtpUrl: String?
    @Option(help: .init("CA certificates the SMTP server's certificate must chain to.", valueName: "path"))
    var smtpCaFile: String?
    @Flag(help: "Send SMTP credentials without TLS; loopback hosts only (tests).")
    var smtpAllowPlainAuth = false
    @Option(help: .init("Sender address of the digest (default pushdoc@localhost).", valueName: "addr"))
    var smtpFrom: String?
    @Option(help: .init("Time of the daily digest, engine time zone (default 07:00).", valueName: "HH:MM"))
    var digestAt: String?
    @Option(help: .init("trace, debug, info, warning or error (default info).", valueName: "level"))
    var logLevel: String?
    @Option(help: .init("text (key=value) or json (default text).", valueName: "format"))
    var logFormat: String?

    func run() throws {
        let settings = try ServeSettings(self, environment: ProcessInfo.processInfo.environment)
        EngineProcess(settings: settings).run()
    }
}
