import Engine
import Foundation
import Glibc
import Logging
import StderrLog

/// A bad option value: reported in one line on stderr, exit code 2.
struct SettingError: Error, CustomStringConvertible {
    let description: String
}

/// The validated settings of `pushdoc serve`: each option, else its
/// `PUSHDOC_*` variable, else its default.
struct ServeSettings {
    let engine: EngineConfiguration
    let stdio: Bool
    let socketPath: String?
    let maxMessageBytes: Int
    let maxConnections: Int
    let allowedUIDs: Set<uid_t>
    let logLevel: Logger.Level
    let logFormat: StderrLogHandler.Format
    let environment: [String: String]

    init(_ command: Serve, environment: [String: String]) throws(SettingError) {
        let source = OptionSource(environment: environment)
        self.environment = environment
        let stdioFromEnvironment = try source.value(nil, "stdio", default: false, expected: "true or false", Self.boolean)
        stdio = command.stdio || stdioFromEnvironment
        socketPath = try source.value(command.socket, "socket", default: nil, expected: "a path") {
            $0.isEmpty ? nil : Self.absolute($0)
        }
        maxMessageBytes = try source.value(
            command.maxMessageBytes, "max-message-bytes", default: 16 << 20,
            expected: "a size from 1K to 1G (bytes, or with a K, M or G suffix)"
        ) { Self.size($0).flatMap { (1 << 10...1 << 30).contains($0) ? Int($0) : nil } }
        maxConnections = try source.value(
            command.maxConnections, "max-connections", default: 256, expected: "a whole number from 1 to 65536"
        ) { Int($0).flatMap { (1...65_536).contains($0) ? $0 : nil } }
        let uidTexts = command.allowUid.isEmpty
            ? (environment["PUSHDOC_ALLOW_UID"]?.split(separator: ",").map(String.init) ?? [])
            : command.allowUid
        allowedUIDs = Set(
            try uidTexts.map { text throws(SettingError) in
                guard let uid = uid_t(text.trimmingCharacters(in: .whitespaces)) else {
                    let origin = command.allowUid.isEmpty ? "PUSHDOC_ALLOW_UID" : "--allow-uid"
                    throw SettingError(description: "invalid value '\(text)' for \(origin): expected a numeric uid")
                }
                return uid
            })
        logLevel = try source.value(
            command.logLevel, "log-level", default: .info, expected: "trace, debug, info, warning or error"
        ) { ["trace", "debug", "info", "warning", "error"].contains($0) ? Logger.Level(rawValue: $0) : nil }
        logFormat = try source.value(command.logFormat, "log-format", default: .text, expected: "text or json") {
            StderrLogHandler.Format(rawValue: $0)
        }
        // Checked with the other settings (exit 2); its value is a secret, never repeated.
        if let key = environment["PUSHDOC_MASTER_KEY"], Data(base64Encoded: key)?.count != 32 {
            throw SettingError(description: "invalid value for PUSHDOC_MASTER_KEY: expected 32 bytes in base64")
        }
        engine = try Self.engineConfiguration(command, source: source, environment: environment)
        if case .postgres = engine.store, environment["PUSHDOC_MASTER_KEY"] == nil, engine.masterKeyFile == nil {
            throw SettingError(
                description: "with --store postgres://…, every engine needs the same master key: set PUSHDOC_MASTER_KEY or --master-key-file")
        }
        // Whoever connects may make the engine read files with its rights: other
        // users only within a root that the operator chose.
        guard allowedUIDs.isEmpty || engine.filesRoot != nil else {
            throw SettingError(description: "--allow-uid requires --files-root: other users could otherwise make the engine read any of its files")
        }
        guard stdio || socketPath != nil else {
            throw SettingError(description: "nothing to serve: give --stdio, --socket PATH, or both")
        }
    }

    private static func engineConfiguration(
        _ command: Serve, source: OptionSource, environment: [String: String]
    ) throws(SettingError) -> EngineConfiguration {
        let seconds = "a number of seconds"
        let inqomURL = "an https URL (http only for a loopback host)"
        let smtpURL = try source.value(
            command.smtpUrl, "smtp-url", default: nil, expected: "smtp://host[:port] or smtps://host[:port]"
        ) { url($0, schemes: ["smtp", "smtps"]) }
        let smtpFrom = try source.value(
            command.smtpFrom, "smtp-from", default: "pushdoc@localhost", expected: "an email address"
        ) { $0.contains("@") && !$0.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" }) ? $0 : nil }
        var configuration = EngineConfiguration(
            dataDirectory: try source.value(command.dataDir, "data-dir", default: defaultDataDirectory(environment),
                expected: "a directory") { $0.isEmpty ? nil : absolute($0) },
            timeZone: try source.value(command.timezone, "timezone", default: TimeZone(identifier: "Europe/Paris")!,
                expected: "an IANA time zone such as Europe/Paris") { TimeZone(identifier: $0) },
            inqomAuthURL: try source.value(command.inqomAuthUrl, "inqom-auth-url",
                default: URL(string: "https://auth.inqom.com")!, expected: inqomURL, secureURL),
            inqomAPIURL: try source.value(command.inqomApiUrl, "inqom-api-url",
                default: URL(string: "https://api.inqom.com")!, expected: inqomURL, secureURL),
            inqomClientID: try source.value(command.inqomClientId, "inqom-client-id", default: "mcf-pushdoc",
                expected: "a client id") { $0.isEmpty ? nil : $0 },
            workers: try source.value(command.workers, "workers", default: 8, expected: "a whole number from 1 to 64") {
                Int($0).flatMap { (1...64).contains($0) ? $0 : nil } },
            maxAttempts: try source.value(command.maxAttempts, "max-attempts", default: 6,
                expected: "a whole number from 1 to 100") { Int($0).flatMap { (1...100).contains($0) ? $0 : nil } },
            retryDelays: try source.value(command.retryDelays, "retry-delays",
                default: [60, 300, 1800, 7200, 21600].map { Duration.seconds($0) },
                expected: "a comma-separated list of positive seconds") { text in
                    let delays = text.split(separator: ",", omittingEmptySubsequences: false).map { duration(String($0), allowZero: false) }
                    return delays.isEmpty || delays.contains(nil) ? nil : delays.compactMap { $0 } },
            inqomMaxRequestsPerSecond: try source.value(command.inqomMaxRps, "inqom-max-rps", default: 15,
                expected: "a number of requests per second, 0 for no limit") {
                    Double($0).flatMap { $0 >= 0 && $0.isFinite ? $0 : nil } },
            circuitProbeInterval: try source.value(command.circuitProbeSeconds, "circuit-probe-seconds",
                default: .seconds(30), expected: seconds) { duration($0, allowZero: false) },
            maxFileBytes: try source.value(command.maxFileBytes, "max-file-bytes", default: 100 << 20,
                expected: "a positive size (bytes, or with a K, M or G suffix)") { size($0).flatMap { $0 > 0 ? $0 : nil } },
            filesRoot: try source.value(command.filesRoot, "files-root", default: nil,
                expected: "an existing directory") { existingDirectory($0) },
            shutdownGrace: try source.value(command.shutdownGrace, "shutdown-grace", default: .seconds(10),
                expected: seconds) { duration($0, allowZero: true) },
            smtp: try smtpURL.map { url throws(SettingError) in
                try smtp(url, from: smtpFrom, command: command, source: source, environment: environment) },
            digestAtMinutes: try source.value(command.digestAt, "digest-at", default: 7 * 60,
                expected: "a time of day as HH:MM") { clockTime($0) }
        )
        configuration.inqomStallTimeout = try source.value(
            command.inqomStallSeconds, "inqom-stall-seconds", default: .seconds(60), expected: seconds
        ) { duration($0, allowZero: false) }
        configuration.store = try stateStore(command.store ?? environment["PUSHDOC_STORE"], given: command.store != nil)
        configuration.nodeID = try source.value(
            command.nodeId, "node-id", default: nil, expected: "1 to 64 letters, digits, '.', '_' or '-'"
        ) { text -> String?? in
            let valid = (1...64).contains(text.utf8.count) && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-_".contains($0)) }
            return valid ? text : .none
        }
        configuration.masterKeyFile = try source.value(command.masterKeyFile, "master-key-file", default: nil, expected: "a path") {
            $0.isEmpty ? nil : absolute($0)
        }
        configuration.leaseSeconds = try source.value(
            command.leaseSeconds, "lease-seconds", default: 30, expected: "a number of seconds from 5 to 3600"
        ) { Double($0).flatMap { (5...3600).contains($0) ? $0 : nil } }
        configuration.connectorWorkers = try source.value(
            command.connectorWorkers, "connector-workers", default: 4, expected: "a whole number from 1 to 64"
        ) { Int($0).flatMap { (1...64).contains($0) ? $0 : nil } }
        return configuration
    }

    /// `--store`: `sqlite`, or a libpq URI. A refused value is not repeated:
    /// a URI may hold a password.
    private static func stateStore(_ text: String?, given: Bool) throws(SettingError) -> EngineConfiguration.StateStore {
        guard let text, text != "sqlite" else { return .sqlite }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") else {
            throw SettingError(description: "invalid value for \(given ? "--store" : "PUSHDOC_STORE"): expected sqlite or a postgres:// URI")
        }
        return .postgres(uri: text)
    }

    /// The digest's SMTP settings. Credentials never travel in clear: with a
    /// user, STARTTLS must succeed, unless the host is on the loopback and
    /// `--smtp-allow-plain-auth` says so; a distant host always needs TLS.
    private static func smtp(
        _ url: URL, from: String, command: Serve, source: OptionSource, environment: [String: String]
    ) throws(SettingError) -> EngineConfiguration.SMTP {
        let loopback = isLoopback(url.host ?? "")
        let allowPlainAuth = try source.value(
            command.smtpAllowPlainAuth ? "true" : nil, "smtp-allow-plain-auth", default: false, expected: "true or false",
            boolean)
        guard !allowPlainAuth || loopback else {
            throw SettingError(description: "--smtp-allow-plain-auth is accepted only for a loopback SMTP host, not \(url.host ?? "")")
        }
        let user = environment["PUSHDOC_SMTP_USER"]
        let caFile = try source.value(command.smtpCaFile, "smtp-ca-file", default: nil, expected: "a readable file") {
            readableFile($0)
        }
        return EngineConfiguration.SMTP(
            url: url, from: from, user: user, password: environment["PUSHDOC_SMTP_PASSWORD"],
            requireTLS: !loopback || (user != nil && !allowPlainAuth), caFile: caFile)
    }

    /// https, or http for a loopback host (a stand-in): never credentials in
    /// clear across a network.
    static func secureURL(_ text: String) -> URL? {
        guard let url = url(text, schemes: ["http", "https"]) else { return nil }
        return url.scheme?.lowercased() == "https" || isLoopback(url.host ?? "") ? url : nil
    }

    static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if bare == "localhost" || bare == "::1" { return true }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    static func defaultDataDirectory(_ environment: [String: String]) -> String {
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") { return xdg + "/pushdoc" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/share/pushdoc"
    }

    static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "1", "true", "yes", "on": true
        case "0", "false", "no", "off", "": false
        default: nil
        }
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    static func url(_ text: String, schemes: Set<String>) -> URL? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), schemes.contains(scheme),
            let host = url.host, !host.isEmpty
        else { return nil }
        return url
    }

    static func duration(_ text: String, allowZero: Bool) -> Duration? {
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite,
            allowZero ? value >= 0 : value > 0, value <= 7 * 86_400
        else { return nil }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    /// Bytes, with an optional binary K, M or G suffix.
    static func size(_ text: String) -> Int64? {
        let multipliers: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        let trimmed = text.uppercased().replacingOccurrences(of: "IB", with: "").replacingOccurrences(of: "B", with: "")
        if let last = trimmed.last, let multiplier = multipliers[last] {
            return Int64(trimmed.dropLast()).flatMap { $0.multipliedReportingOverflow(by: multiplier).overflow ? nil : $0 * multiplier }
        }
        return Int64(trimmed)
    }

    static func existingDirectory(_ text: String) -> String? {
        guard let resolved = realpath(absolute(text), nil) else { return nil }
        defer { free(resolved) }
        var info = stat()
        guard stat(resolved, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return nil }
        return String(cString: resolved)
    }

    static func readableFile(_ text: String) -> String? {
        let path = absolute(text)
        return access(path, R_OK) == 0 ? path : nil
    }

    static func clockTime(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hour = Int(parts[0]),
            let minute = Int(parts[1]), (0..<24).contains(hour), (0..<60).contains(minute)
        else { return nil }
        return hour * 60 + minute
    }
}

/// Where an option's text comes from: the command line, else the environment.
struct OptionSource {
    let environment: [String: String]

    func value<T>(
        _ given: String?, _ option: String, default fallback: T, expected: String, _ parse: (String) -> T?
    ) throws(SettingError) -> T {
        let variable = "PUSHDOC_" + option.uppercased().replacingOccurrences(of: "-", with: "_")
        let origin: String
        let text: String
        if let given {
            (origin, text) = ("--\(option)", given)
        } else if let fromEnvironment = environment[variable] {
            (origin, text) = (variable, fromEnvironment)
        } else {
            return fallback
        }
        guard let value = parse(text) else {
            throw SettingError(description: "invalid value '\(text)' for \(origin): expected \(expected)")
        }
        return value
    }
}
