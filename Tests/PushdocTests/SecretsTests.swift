import Foundation
import Glibc
import TestSupport
import Testing

/// Canary secrets sent through every flow; then the data directory, every
/// log line (trace level), every answer and event, and the mail are
/// searched byte by byte for them.
struct SecretsTests {
    static let password = "CANARY-pw-7f3a9c1e"
    static let newPassword = "CANARY-pw2-b81d04aa"
    static let clientSecret = "CANARY-cs-51be0d77"
    static let wrongPassword = "CANARY-wrong-3c9e"
    static let wrongSecret = "CANARY-wrongcs-0d1f"
    static let smtpPassword = "CANARY-smtp-93d1f2"

    /// The SMTP server's certificate, which the engine is told to trust.
    let smtpCertificate: (certificate: String, key: String)

    init() throws {
        smtpCertificate = try DigestTests.selfSignedCertificate()
    }

    private func start(_ standIn: InqomStandIn, _ sink: SMTPSink, dataDir: String? = nil) throws -> PushdocProcess {
        try PushdocProcess(
            PushHarness.serveArguments(standIn) + PushHarness.engineOptions
                + ["--log-level", "trace", "--smtp-url", sink.url, "--smtp-ca-file", smtpCertificate.certificate, "--digest-at", "23:59"],
            dataDir: dataDir, environment: ["PUSHDOC_SMTP_USER": "digest@cabinet.fr", "PUSHDOC_SMTP_PASSWORD": Self.smtpPassword])
    }

    @Test func noSecretIsEverWrittenLoggedOrAnswered() async throws {
        let standIn = try await InqomStandIn(password: Self.password, clientSecret: Self.clientSecret)
        let sink = try await SMTPSink(auth: "digest@cabinet.fr:" + Self.smtpPassword, startTLS: smtpCertificate)
        var engine = try start(standIn, sink)
        var seen: [String] = []
        func call(_ method: String, _ params: String? = nil) async throws -> JSONLine {
            let answer = try await engine.stdio.call(method, params, timeout: .seconds(60))
            seen.append(answer.text)
            return answer
        }
        func connect(_ password: String, _ secret: String) -> String {
            #"{"login":"\#(InqomStandIn.login)","password":"\#(password)","clientSecret":"\#(secret)"}"#
        }
        let files = TemporaryDirectory.make(prefix: "pushdoc-secrets")
        func submit(_ name: String) async throws -> JSONLine {
            let file = files + "/" + name
            try Data("bytes of \(name)".utf8).write(to: URL(fileURLWithPath: file))
            return try await call("push.submit", #"{"dossierId":"d1","path":"Achats/\#(name)","file":"\#(file)"}"#)
        }

        _ = try await call("catalog.upsertDossiers", #"{"dossiers":[{"id":"d1","name":"Boulangerie","attributes":{"SIRET":"73282932000074"}}]}"#)
        _ = try await call("wizard.selectDossiers", #"{"ids":["d1"],"selected":true}"#)
        // Refused credentials, both ways, then the right ones.
        #expect(try await call("wizard.connect", connect(Self.wrongPassword, Self.clientSecret)).errorCode == 1101)
        #expect(try await call("wizard.connect", connect(Self.password, Self.wrongSecret)).errorCode == 1101)
        #expect(try await call("wizard.connect", connect(Self.password, Self.clientSecret))["result"] != nil)
        _ = try await call("wizard.mapDossiers", #"{"siretAttribute":"SIRET"}"#)
        _ = try await call("rules.add", #"{"depositPath":"Achats","documentType":"facture_achat","period":"any"}"#)
        _ = try await call("wizard.finish")
        _ = try await call("collaborators.upsert", #"{"collaborators":[{"id":"alice","name":"Alice","email":"alice@cabinet.fr","dailyDigest":true}]}"#)

        // Sending: a success, a refusal, tokens expired and renewed.
        _ = try await submit("sent.pdf")
        _ = try await call("push.drain", #"{"timeoutMs":20000}"#)
        try await standIn.control("expire-tokens", [:])
        try await standIn.inject("upload", ["status": 422, "body": ["error": "illisible"]])
        _ = try await submit("refused.pdf")
        _ = try await call("push.drain", #"{"timeoutMs":20000}"#)
        _ = try await call("digest.preview", #"{"collaboratorId":"alice","date":"\#(DigestTests.today)"}"#)
        #expect(try await call("digest.send", #"{"collaboratorId":"alice","date":"\#(DigestTests.today)"}"#).int("result", "sent") == 1)

        // Inqom changes the password: refused while sending, then reconnected.
        try await standIn.control("password", ["username": InqomStandIn.login, "password": Self.newPassword])
        try await standIn.control("expire-tokens", [:])
        _ = try await submit("after-change.pdf")
        var state = ""
        for _ in 0..<200 where state != "disconnected" {
            state = try await call("status.summary").string("result", "connector", "state") ?? ""
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(state == "disconnected")
        #expect(try await call("wizard.connect", connect(Self.newPassword, Self.clientSecret))["result"] != nil)
        _ = try await call("push.drain", #"{"timeoutMs":20000}"#)

        // A restart reopens the sealed credentials; everything is read back.
        _ = try await call("shutdown")
        _ = try await engine.waitForExit()
        let logs = engine.stderr.pending
        seen += engine.stdio.lines.pending
        engine = try start(standIn, sink, dataDir: engine.dataDir)
        _ = try await submit("after-restart.pdf")
        #expect(try await call("push.drain", #"{"timeoutMs":20000}"#).int("result", "documents", "transmitted") == 3)
        _ = try await call("wizard.state")
        _ = try await call("status.documents", #"{"limit":1000}"#)
        _ = try await call("events.list", #"{"after":0,"limit":1000}"#)
        _ = try await call("shutdown")
        _ = try await engine.waitForExit()
        try await engine.stderr.waitForEnd()
        let allLogs = logs + engine.stderr.pending
        seen += engine.stdio.lines.pending

        let tokens = try await standIn.tokens()
        #expect(tokens.count >= 3, "tokens issued: \(tokens.count)")
        let canaries = [Self.password, Self.newPassword, Self.clientSecret, Self.wrongPassword, Self.wrongSecret, Self.smtpPassword] + tokens
        let mail = try sink.messages().map(\.text)
        #expect(!mail.isEmpty)
        var places = [("answers and events", Array(seen.joined(separator: "\n").utf8)),
                      ("logs", Array(allLogs.joined(separator: "\n").utf8)), ("mail", Array(mail.joined().utf8))]
        for file in try filesUnder(engine.dataDir) {
            places.append((file, Array(try Data(contentsOf: URL(fileURLWithPath: file)))))
        }
        #expect(places.count > 4 && allLogs.count > 50, "\(places.count) places, \(allLogs.count) log lines")
        // The search itself finds what is there: the login (no secret) is stored in clear.
        #expect(places.contains { contains($0.1, InqomStandIn.login) })
        var leaks: [String] = []
        for (place, bytes) in places {
            for canary in canaries where contains(bytes, canary) { leaks.append("\(canary.prefix(12))… in \(place)") }
        }
        #expect(leaks.isEmpty, "\(leaks)")
        print("secrets: \(canaries.count) canaries (\(tokens.count) tokens), \(places.count) places searched "
            + "(\(allLogs.count) trace log lines, \(seen.count) answers and notifications), \(leaks.count) leaks")
    }

    private func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let needle = Array(needle.utf8)
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in
            haystack[start] == needle[0] && Array(haystack[start..<(start + needle.count)]) == needle
        }
    }

    private func filesUnder(_ directory: String) throws -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: directory)
        var files: [String] = []
        while let name = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let path = directory + "/" + name
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue { files.append(path) }
        }
        return files
    }

    @Test func theDataDirectoryKeyAndSocketAreForTheOwnerOnly() async throws {
        let directory = TemporaryDirectory.make(prefix: "pushdoc-modes")
        let engine = try PushdocProcess(["serve", "--socket", directory + "/engine.sock"], dataDir: directory + "/data")
        let peer = try await connectWhenReady(directory + "/engine.sock")
        #expect(try await peer.call("ping").string("result") == "pong")
        for (path, mode) in [(directory + "/data", 0o700), (directory + "/data/master.key", 0o600), (directory + "/engine.sock", 0o600),
                             (directory + "/data/spool", 0o700)] {
            var info = stat()
            #expect(stat(path, &info) == 0, "\(path) missing")
            #expect(Int(info.st_mode) & 0o777 == mode, "\(path): \(String(Int(info.st_mode) & 0o777, radix: 8))")
        }
        engine.signal(SIGTERM)
        #expect(try await engine.waitForExit() == 0)
    }

    private func connectWhenReady(_ path: String) async throws -> RPCPeer {
        for _ in 0..<200 {
            if let peer = try? RPCPeer(socketPath: path) { return peer }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw PeerError(description: "no socket at \(path)")
    }

    @Test(arguments: ["wrong master key", "altered ciphertext"])
    func credentialsThatDoNotOpenLeaveTheConnectorDisconnectedWithAClearReason(_ damage: String) async throws {
        var harness = try await PushHarness()
        if damage == "wrong master key" {
            try await harness.restart(environment: ["PUSHDOC_MASTER_KEY": Data((0..<32).map { UInt8($0) }).base64EncodedString()])
        } else {
            try await harness.restart { dataDir in try await alterCredentials(dataDir + "/pushdoc.sqlite") }
        }
        let summary = try await harness.call("status.summary")
        #expect(summary.string("result", "connector", "state") == "disconnected")
        #expect(summary.string("result", "connector", "reason") == "credentials_unreadable")
        #expect(try await harness.call("wizard.state").string("result", "reason") == "credentials_unreadable")
        let line = try await harness.engine.waitForLog("do not open with this master key")
        #expect(line.contains("wizard.connect"))
        let events = try await harness.events()
        #expect(events.contains { $0["type"] as? String == "connector.state" && ($0["data"] as? [String: Any])?["reason"] as? String == "credentials_unreadable" })
        // The document waits (that a disconnected connector sends nothing is
        // `ConnectorStateSendingTests`, on a test clock); a new connect resumes.
        let waiting = try await harness.submit("d1", "Achats/waits.pdf", content: "waits")
        #expect(waiting.string("result", "state") == "queued")
        _ = try await harness.expectResult("wizard.connect", #"{"login":"\#(InqomStandIn.login)","password":"\#(InqomStandIn.password)","clientSecret":"\#(InqomStandIn.clientSecret)"}"#)
        #expect(try await harness.drain().int("result", "documents", "transmitted") == 1)
        #expect(try await harness.call("status.summary").at("result", "connector", "reason") == nil)
    }

    @Test func theRightKeyAgainReopensTheKeptCredentials() async throws {
        var harness = try await PushHarness()
        try await harness.restart(environment: ["PUSHDOC_MASTER_KEY": Data(repeating: 7, count: 32).base64EncodedString()])
        #expect(try await harness.call("status.summary").string("result", "connector", "reason") == "credentials_unreadable")
        try await harness.restart()
        #expect(try await harness.call("status.summary").string("result", "connector", "state") == "active")
    }

    /// Flips one byte of the sealed credentials in the database.
    private func alterCredentials(_ path: String) async throws {
        let script = """
            import base64, sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            sealed = bytearray(base64.b64decode(db.execute("SELECT value FROM settings WHERE key = 'inqom.credentials'").fetchone()[0]))
            sealed[20] ^= 0x01
            db.execute("UPDATE settings SET value = ? WHERE key = 'inqom.credentials'", (base64.b64encode(bytes(sealed)).decode(),))
            db.commit()
            """
        #expect(try await runPython(script, [path]) == 0)
    }
}

/// No core dump or same-user memory read can hold the master key: the
/// engine makes itself non-dumpable (its /proc files then belong to root)
/// and its core limit 0. Run as uid 65534, beside a plain process started
/// the same way, whose /proc files stay its own.
struct DumpabilityTests {
    @Test func theEngineCannotBeDumpedNorReadThroughProc() async throws {
        let parent = TemporaryDirectory.make(prefix: "pushdoc-nobody")
        let engine = try Self.startAsNobody([PushdocProcess.binaryPath, "serve", "--stdio", "--data-dir", parent + "/data"])
        let control = try Self.startAsNobody(["/usr/bin/python3", "-c", "import sys; print('up', flush=True); sys.stdin.read()"])
        defer {
            for started in [engine, control] {
                started.process.signal(SIGKILL)
                close(started.input)
            }
        }
        _ = try await engine.errors.take { $0.contains("engine started") }
        _ = try await control.output.take { $0 == "up" }
        #expect(Self.owner("/proc/\(control.process.pid)/environ") == 65534)
        #expect(Self.owner("/proc/\(engine.process.pid)/environ") == 0)
        let limits = try String(contentsOfFile: "/proc/\(engine.process.pid)/limits", encoding: .utf8)
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }
        #expect(core?.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2) == ["0", "0"], "\(core ?? "")")
    }

    /// Runs `command` as uid 65534, kept able to reach root's temporary
    /// directories through CAP_DAC_OVERRIDE; its stdin stays open until
    /// the caller closes `input`.
    static func startAsNobody(_ command: [String]) throws
        -> (process: ChildProcess, input: Int32, output: LineStream, errors: LineStream)
    {
        let input = try makePipe(), output = try makePipe(), errors = try makePipe()
        defer { for end in [input.read, output.write, errors.write] { close(end) } }
        let process = try ChildProcess(
            "/usr/bin/setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=+dac_override", "--ambient-caps=+dac_override"] + command,
            input: input.read, output: output.write, errors: errors.write)
        return (process, input.write, LineStream(fd: output.read), LineStream(fd: errors.read))
    }

    static func owner(_ path: String) -> uid_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_uid : nil
    }
}
