import Foundation

/// `pushdoc serve`: its options, read by hand. Values stay text
/// here; `ServeSettings` resolves each against its `PUSHDOC_*` variable and
/// validates it, so that every bad value gets the same one-line error.
/// (ArgumentParser did this before; without it `pushdoc version` peaks at
/// 17.3 MB instead of 19.9, an idle engine holds 0.7 MB less, and a clean
/// build has one package less to compile.)
struct Serve {
    var stdio = false
    var socket: String?
    var dataDir: String?
    var timezone: String?
    var inqomAuthUrl: String?
    var inqomApiUrl: String?
    var inqomClientId: String?
    var workers: String?
    var maxAttempts: String?
    var retryDelays: String?
    var inqomMaxRps: String?
    var circuitProbeSeconds: String?
    var inqomStallSeconds: String?
    var maxFileBytes: String?
    var filesRoot: String?
    var shutdownGrace: String?
    var maxMessageBytes: String?
    var allowUid: [String] = []
    var maxConnections: String?
    var smtpUrl: String?
    var smtpCaFile: String?
    var smtpAllowPlainAuth = false
    var smtpFrom: String?
    var digestAt: String?
    var logLevel: String?
    var logFormat: String?

    /// One option: `--name value` or `--name=value`; `valueName` nil for a flag.
    struct Option: Sendable {
        let name: String
        let valueName: String?
        let help: String
        let set: @Sendable (inout Serve, String) -> Void

        init(_ name: String, _ valueName: String?, _ help: String, set: @escaping @Sendable (inout Serve, String) -> Void) {
            self.name = name
            self.valueName = valueName
            self.help = help
            self.set = set
        }
    }

    static let options: [Option] = [
        Option("stdio", nil, "Serve one client on stdin/stdout (PUSHDOC_STDIO=1).") { serve, _ in serve.stdio = true },
        Option("socket", "path", "Serve many clients on this Unix socket (mode 0600; keep it in a private directory).") { $0.socket = $1 },
        Option("data-dir", "dir", "Where state lives (default $XDG_DATA_HOME/pushdoc, else ~/.local/share/pushdoc).") { $0.dataDir = $1 },
        Option("timezone", "tz", "Time zone of {millésime}/{mois} and the digest (default Europe/Paris).") { $0.timezone = $1 },
        Option("inqom-auth-url", "url", "Inqom's token server (default https://auth.inqom.com).") { $0.inqomAuthUrl = $1 },
        Option("inqom-api-url", "url", "Inqom's API (default https://api.inqom.com).") { $0.inqomApiUrl = $1 },
        Option("inqom-client-id", "id", "The integration's Inqom client id (default mcf-pushdoc).") { $0.inqomClientId = $1 },
        Option("workers", "n", "Uploads at a time (default 4).") { $0.workers = $1 },
        Option("max-attempts", "n", "Attempts before a document is failed (default 6).") { $0.maxAttempts = $1 },
        Option("retry-delays", "list", "Seconds to wait before each retry (default 60,300,1800,7200,21600).") { $0.retryDelays = $1 },
        Option("inqom-max-rps", "n", "Requests per second to Inqom at most, 0 for no limit (default 15).") { $0.inqomMaxRps = $1 },
        Option("circuit-probe-seconds", "s", "Seconds between probes while the circuit is open (default 30).") { $0.circuitProbeSeconds = $1 },
        Option("inqom-stall-seconds", "s", "Seconds without a byte moving before a request to Inqom is given up (default 60).") { $0.inqomStallSeconds = $1 },
        Option("max-file-bytes", "n", "Largest document accepted, in bytes; K, M, G suffixes (default 100M).") { $0.maxFileBytes = $1 },
        Option("files-root", "dir", "push.submit reads `file` only inside this directory.") { $0.filesRoot = $1 },
        Option("shutdown-grace", "s", "Seconds in-flight work gets at shutdown (default 10).") { $0.shutdownGrace = $1 },
        Option("max-message-bytes", "n", "Longest protocol line, in bytes; K, M, G suffixes (default 16M).") { $0.maxMessageBytes = $1 },
        Option("allow-uid", "uid", "Also let this uid use the socket; repeatable (PUSHDOC_ALLOW_UID: comma-separated).") { $0.allowUid.append($1) },
        Option("max-connections", "n", "Socket connections served at once; more are refused (default 256).") { $0.maxConnections = $1 },
        Option("smtp-url", "url", "SMTP server of the digest: smtp://host:port or smtps://host:port.") { $0.smtpUrl = $1 },
        Option("smtp-ca-file", "path", "CA certificates the SMTP server's certificate must chain to.") { $0.smtpCaFile = $1 },
        Option("smtp-allow-plain-auth", nil, "Send SMTP credentials without TLS; loopback hosts only (tests).") { serve, _ in
            serve.smtpAllowPlainAuth = true },
        Option("smtp-from", "addr", "Sender address of the digest (default pushdoc@localhost).") { $0.smtpFrom = $1 },
        Option("digest-at", "HH:MM", "Time of the daily digest, engine time zone (default 07:00).") { $0.digestAt = $1 },
        Option("log-level", "level", "trace, debug, info, warning or error (default info).") { $0.logLevel = $1 },
        Option("log-format", "format", "text (key=value) or json (default text).") { $0.logFormat = $1 },
    ]

    static let abstract = "Serve the Pushdoc JSON-RPC protocol on stdio and/or a Unix socket."

    static let help = """
        OVERVIEW: \(abstract)

        Every option can also be given as an environment variable: PUSHDOC_ and the option
        in upper snake case (PUSHDOC_DATA_DIR, PUSHDOC_INQOM_API_URL, ...); the option wins.
        SMTP credentials come from PUSHDOC_SMTP_USER and PUSHDOC_SMTP_PASSWORD only, the
        master key from PUSHDOC_MASTER_KEY (base64, 32 bytes) when set.

        USAGE: pushdoc serve [--stdio] [--socket <path>] [<option> <value> ...]

        OPTIONS:
        \(options.map(\.usage).joined(separator: "\n"))
          -h, --help              Show help information.
        """

    /// The options after `serve`; nil when help was asked for.
    static func parse(_ arguments: ArraySlice<String>) throws(SettingError) -> Serve? {
        var serve = Serve()
        var remaining = arguments
        while let argument = remaining.popFirst() {
            if argument == "--help" || argument == "-h" { return nil }
            guard argument.hasPrefix("--") else { throw SettingError(description: "Unexpected argument '\(argument)'") }
            let body = argument.dropFirst(2)
            let equals = body.firstIndex(of: "=")
            let name = String(body[..<(equals ?? body.endIndex)])
            let inline = equals.map { String(body[body.index(after: $0)...]) }
            guard let option = options.first(where: { $0.name == name }) else {
                throw SettingError(description: "Unknown option '--\(name)'")
            }
            guard let valueName = option.valueName else {
                guard inline == nil else { throw SettingError(description: "--\(name) takes no value") }
                option.set(&serve, "")
                continue
            }
            guard let value = inline ?? remaining.popFirst() else {
                throw SettingError(description: "Missing value for '--\(name) <\(valueName)>'")
            }
            option.set(&serve, value)
        }
        return serve
    }
}

extension Serve.Option {
    /// Its line in the help: name and value, then the help text in a column.
    var usage: String {
        let left = "  --" + name + (valueName.map { " <\($0)>" } ?? "")
        return left.padding(toLength: max(left.count + 2, 26), withPad: " ", startingAt: 0) + help
    }
}
