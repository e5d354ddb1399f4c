import Foundation
import Glibc
import TestSupport
import Testing

/// `clients/pushdoc_client.py` against a real engine on a Unix socket and
/// the stand-in, as an integrator would run it.
struct SampleClientTests {
    static func clientPath(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("clients/" + name).path
    }

    /// Starts one of the sample clients; both take the same settings, spelled
    /// as options by the Python one and as positional words by the bash one.
    /// No `mode`: it keeps following events and files until stopped.
    /// A `connector` is given as `--connector` to the Python one, as `PUSHDOC_CONNECTOR` to the bash one.
    private func startClient(
        _ client: String, root: String, config: String, socket: String, mode: String?, output: Int32? = nil,
        connector: String? = nil
    ) throws -> ChildProcess {
        try ChildProcess("/usr/bin/env", (client == "python"
            ? ["python3", Self.clientPath("pushdoc_client.py"), "--root", root, "--config", config, "--socket", socket]
                + (connector.map { ["--connector", $0] } ?? [])
            : (connector.map { ["PUSHDOC_CONNECTOR=\($0)"] } ?? []) + ["bash", Self.clientPath("pushdoc.sh"), root, config, "--socket", socket])
            + (mode.map { [$0] } ?? []), output: output, errors: output)
    }

    /// The clients' wizard settings: the stand-in's account, SIRET mapping,
    /// and one rule (Achats, archived to Achats/Envoyés).
    static func writeWizardConfig(
        beside root: String, login: String = InqomStandIn.login, password: String = InqomStandIn.password
    ) throws -> String {
        let config = root + "/../config-\(UUID().uuidString).json"
        let wizard = #"{"login":"\#(login)","password":"\#(password)","clientSecret":"\#(InqomStandIn.clientSecret)","siretAttribute":"SIRET","rules":[{"depositPath":"Achats","documentType":"facture_achat","archivePath":"Achats/Envoyés","period":"any"}]}"#
        try Data(wizard.utf8).write(to: URL(fileURLWithPath: config))
        return config
    }

    private func runClient(
        _ client: String, root: String, config: String, socket: String, mode: String, connector: String? = nil
    ) async throws -> (status: Int32, output: String) {
        let output = try makePipe()
        let process: ChildProcess
        do {
            defer { close(output.write) }
            process = try startClient(
                client, root: root, config: config, socket: socket, mode: mode, output: output.write, connector: connector)
        } catch {
            close(output.read)
            throw error
        }
        let lines = LineStream(fd: output.read)
        try await lines.waitForEnd(timeout: .seconds(60))
        return (try await process.waitForExit(), lines.pending.joined(separator: "\n"))
    }

    @Test(arguments: ["python", "bash"])
    func aRestartedClientMissesNoEvent(client: String) async throws {
        let standIn = try await InqomStandIn()
        let socket = TemporaryDirectory.make(prefix: "client-sock") + "/engine.sock"
        let engine = try PushdocProcess([
            "serve", "--socket", socket, "--inqom-auth-url", standIn.url.absoluteString,
            "--inqom-api-url", standIn.url.absoluteString,
        ])
        try await engine.waitForLog("listening")
        let root = TemporaryDirectory.make(prefix: "mcf-root")
        let dossiers = #"[{"id":"d1","name":"Boulangerie","attributes":{"SIRET":"73282932000074"}}]"#
        try Data(dossiers.utf8).write(to: URL(fileURLWithPath: root + "/dossiers.json"))
        try FileManager.default.createDirectory(atPath: root + "/d1/Achats", withIntermediateDirectories: true)
        try Data("%PDF one".utf8).write(to: URL(fileURLWithPath: root + "/d1/Achats/one.pdf"))
        try Data("%PDF two".utf8).write(to: URL(fileURLWithPath: root + "/d1/Achats/two.pdf"))
        try Data("MZ".utf8).write(to: URL(fileURLWithPath: root + "/d1/Achats/tool.exe"))
        let config = try Self.writeWizardConfig(beside: root)

        // The first run submits and leaves before any event is handled.
        let first = try await runClient(client, root: root, config: config, socket: socket, mode: "--submit-only")
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.components(separatedBy: "queued").count - 1 == 3)
        _ = try await RPCPeer(socketPath: socket).call("push.drain", #"{"timeoutMs":20000}"#, timeout: .seconds(30))
        #expect(FileManager.default.fileExists(atPath: root + "/d1/Achats/one.pdf"))

        // The second run picks up the events it missed from its saved seq.
        let second = try await runClient(client, root: root, config: config, socket: socket, mode: "--until-idle")
        #expect(second.status == 0, "\(second.output)")
        #expect(FileManager.default.fileExists(atPath: root + "/d1/Achats/Envoyés/one.pdf"))
        #expect(FileManager.default.fileExists(atPath: root + "/d1/Achats/Envoyés/two.pdf"))
        #expect(FileManager.default.fileExists(atPath: root + "/d1/Achats/tool.exe.non-transmis"))
        #expect(second.output.contains("NON TRANSMIS d1/Achats/tool.exe"))
        // Nothing is submitted twice, nothing handled twice.
        let third = try await runClient(client, root: root, config: config, socket: socket, mode: "--until-idle")
        #expect(!third.output.contains("queued"), "\(third.output)")
        #expect(!third.output.contains("transmis"), "\(third.output)")
        #expect(try await standIn.uploads().count == 2)
        let summary = try await RPCPeer(socketPath: socket).call("status.summary")
        #expect(summary.int("result", "documents", "transmitted") == 2)
        // Left running, the client notices a file deposited later.
        let follower = try startClient(client, root: root, config: config, socket: socket, mode: nil)
        try await Task.sleep(for: .milliseconds(500))
        try Data("%PDF later".utf8).write(to: URL(fileURLWithPath: root + "/d1/Achats/later.pdf"))
        let deadline = ContinuousClock.now + .seconds(20)
        while !FileManager.default.fileExists(atPath: root + "/d1/Achats/Envoyés/later.pdf"), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(FileManager.default.fileExists(atPath: root + "/d1/Achats/Envoyés/later.pdf"))
        follower.signal(SIGTERM)
        engine.signal(SIGTERM)
        #expect(try await engine.waitForExit() == 0)
    }

    /// A file the engine refuses at intake is marked "Non transmis" and the
    /// others still go; a dossier that failed for want of a mapping is sent
    /// once mapped, and its marker goes.
    @Test(arguments: ["python", "bash"])
    func refusedFilesAndRemappedDossiers(client: String) async throws {
        let standIn = try await InqomStandIn()
        let socket = TemporaryDirectory.make(prefix: "client-sock") + "/engine.sock"
        let engine = try await PushdocProcess.listening(on: socket, [
            "--inqom-auth-url", standIn.url.absoluteString, "--inqom-api-url", standIn.url.absoluteString, "--max-file-bytes", "1K",
        ])
        let root = TemporaryDirectory.make(prefix: "mcf-root")
        func writeDossiers(hotelSiret: String?) throws {
            let attributes = hotelSiret.map { #"{"SIRET":"\#($0)"}"# } ?? "{}"
            let dossiers = #"[{"id":"d1","name":"Boulangerie","attributes":{"SIRET":"73282932000074"}},{"id":"d2","name":"Hôtel","attributes":\#(attributes)}]"#
            try Data(dossiers.utf8).write(to: URL(fileURLWithPath: root + "/dossiers.json"))
        }
        try writeDossiers(hotelSiret: nil)
        for dossier in ["d1", "d2"] {
            try FileManager.default.createDirectory(atPath: root + "/\(dossier)/Achats", withIntermediateDirectories: true)
        }
        try Data(repeating: UInt8(ascii: "x"), count: 2000).write(to: URL(fileURLWithPath: root + "/d1/Achats/big.pdf"))
        try Data("%PDF ok".utf8).write(to: URL(fileURLWithPath: root + "/d1/Achats/ok.pdf"))
        try Data("%PDF hotel".utf8).write(to: URL(fileURLWithPath: root + "/d2/Achats/hotel.pdf"))
        let config = try Self.writeWizardConfig(beside: root)

        let first = try await runClient(client, root: root, config: config, socket: socket, mode: "--until-idle")
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("REFUSE    d1/Achats/big.pdf"), "\(first.output)")
        #expect(FileManager.default.fileExists(atPath: root + "/d1/Achats/big.pdf.non-transmis"))
        #expect(FileManager.default.fileExists(atPath: root + "/d1/Achats/Envoyés/ok.pdf"), "\(first.output)")
        #expect(FileManager.default.fileExists(atPath: root + "/d2/Achats/hotel.pdf.non-transmis"), "\(first.output)")

        // The hotel gets its SIRET; a new mapping sends what failed for want of one.
        try writeDossiers(hotelSiret: "552 100 554 00013")
        let admin = try RPCPeer(socketPath: socket)
        _ = try await admin.call("catalog.upsertDossiers", #"{"dossiers":[{"id":"d2","name":"Hôtel","attributes":{"SIRET":"55210055400013"}}]}"#)
        #expect(try await admin.call("wizard.mapDossiers", #"{"siretAttribute":"SIRET"}"#)["result"] != nil)
        _ = try await admin.call("push.drain", #"{"timeoutMs":20000}"#, timeout: .seconds(30))
        let second = try await runClient(client, root: root, config: config, socket: socket, mode: "--until-idle")
        #expect(second.status == 0, "\(second.output)")
        #expect(FileManager.default.fileExists(atPath: root + "/d2/Achats/Envoyés/hotel.pdf"), "\(second.output)")
        #expect(!FileManager.default.fileExists(atPath: root + "/d2/Achats/hotel.pdf.non-transmis"))
        // The refused file, unchanged, is not submitted again.
        #expect(!second.output.contains("big.pdf"), "\(second.output)")
        #expect(try await standIn.uploads().count == 2)
        engine.signal(SIGTERM)
        #expect(try await engine.waitForExit() == 0)
    }

    /// An answer with a null or unknown id (a `-32700` after a line the
    /// engine could not read) is reported and skipped: the Python client's
    /// reader goes on and later calls get their answers.
    @Test func thePythonClientSkipsAnswersToNoRequestOfItsOwn() async throws {
        let script = """
            import importlib.util, json, socket, sys, threading
            spec = importlib.util.spec_from_file_location("client", sys.argv[1])
            client = importlib.util.module_from_spec(spec); spec.loader.exec_module(client)
            ours, theirs = socket.socketpair()
            engine = client.Engine.__new__(client.Engine)
            engine.sock = ours
            engine.reader, engine.writer = ours.makefile("rb"), ours.makefile("wb")
            import queue
            engine.answers, engine.events, engine.next_id, engine.lock = {}, queue.Queue(), 0, threading.Lock()
            threading.Thread(target=engine._read, daemon=True).start()
            def peer():
                requests = theirs.makefile("rb")
                theirs.sendall(b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}\\n')
                theirs.sendall(b'{"jsonrpc":"2.0","id":999,"result":"stray"}\\n')
                request = json.loads(requests.readline())
                theirs.sendall(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "pong"}).encode() + b"\\n")
            threading.Thread(target=peer, daemon=True).start()
            sys.exit(0 if engine.call("ping") == "pong" else 1)
            """
        #expect(try await runPython(script, [Self.clientPath("pushdoc_client.py")]) == 0)
    }

    /// Two firms' backends on one engine, each naming its connector: each
    /// firm's files reach its own Inqom account and folder, and each tree
    /// gets only its own outcomes.
    @Test(arguments: ["python", "bash"])
    func twoFirmsOnOneEngine(client: String) async throws {
        let garage = InqomStandIn.Account(login: "garage@example.fr", password: "garage-pw", folders: [11289])
        let standIn = try await InqomStandIn(
            folders: InqomStandIn.defaultFolders + [.init(id: 11289, name: "GARAGE DUPRE", siren: "443061841", nic: "00047")],
            otherAccounts: [garage])
        let socket = TemporaryDirectory.make(prefix: "client-sock") + "/engine.sock"
        let engine = try await PushdocProcess.listening(on: socket, [
            "--inqom-auth-url", standIn.url.absoluteString, "--inqom-api-url", standIn.url.absoluteString,
        ])
        let firms: [(connector: String?, siret: String, login: String, password: String)] = [
            (nil, "73282932000074", InqomStandIn.login, InqomStandIn.password),
            ("garage-dupre", "44306184100047", garage.login, garage.password),
        ]
        var roots: [String] = []
        for firm in firms {
            let root = TemporaryDirectory.make(prefix: "mcf-root")
            let dossiers = #"[{"id":"d1","name":"Dossier","attributes":{"SIRET":"\#(firm.siret)"}}]"#
            try Data(dossiers.utf8).write(to: URL(fileURLWithPath: root + "/dossiers.json"))
            try FileManager.default.createDirectory(atPath: root + "/d1/Achats", withIntermediateDirectories: true)
            try Data("%PDF \(firm.login)".utf8).write(to: URL(fileURLWithPath: root + "/d1/Achats/facture.pdf"))
            let config = try Self.writeWizardConfig(beside: root, login: firm.login, password: firm.password)
            let run = try await runClient(client, root: root, config: config, socket: socket, mode: "--until-idle", connector: firm.connector)
            #expect(run.status == 0, "\(run.output)")
            roots.append(root)
        }
        for root in roots {
            #expect(FileManager.default.fileExists(atPath: root + "/d1/Achats/Envoyés/facture.pdf"))
        }
        let sent = try await standIn.uploads().map { "\($0["account"] as? String ?? "?") → \($0["folderId"] as? Int ?? 0)" }
        #expect(sent.sorted() == ["cabinet@example.fr → 11287", "garage@example.fr → 11289"])
        engine.signal(SIGTERM)
        #expect(try await engine.waitForExit() == 0)
    }
}
