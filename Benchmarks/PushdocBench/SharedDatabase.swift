import Foundation
import Glibc
import TestSupport

/// Engines on one PostgreSQL database (a server of the run's own, on this
/// machine): durable submits against psql's one-row commits, two engines
/// against one with Inqom far away, and the time a killed engine's
/// documents take to be sent by the other.
struct SharedDatabase {
    let submits: Int
    let documents: Int
    let leaseSeconds = 5
    let latency = 0.05
    let workers = 8
    /// The size of the document streamed through the database.
    let bigDocumentBytes: Int

    func run(into table: inout ResultTable) async throws {
        let server = try await PostgresServer.start()
        defer { server.stop() }
        try await durableSubmits(server, into: &table)
        try await twoEnginesAgainstOne(server, into: &table)
        try await failover(server, database: "failover", into: &table)
        try await failover(server, database: "failover_all_places", killedHoldingEveryPlace: true, into: &table)
        try await streaming(server, into: &table)
    }

    /// Peak resident memory while one big document's bytes go into the
    /// database, in parts, and back out to Inqom.
    private func streaming(_ server: PostgresServer, into table: inout ResultTable) async throws {
        try createDatabase(server, "big")
        let standIn = try await InqomStandIn()
        let engine = try engine(server, database: "big", node: "engine-a", standIn, ["--max-file-bytes", "2G"])
        let mebibytes = bigDocumentBytes >> 20
        table.rows.append(try await StoredDocuments.streamingPeak(
            through: engine, standIn, bytes: bigDocumentBytes,
            measure: "resident memory, streaming a \(mebibytes) MiB document through PostgreSQL (peak)"))
        engine.call("shutdown")
    }

    /// An engine on a new database of `server`, walked through the wizard against `standIn`.
    private func engine(
        _ server: PostgresServer, database: String, node: String, _ standIn: InqomStandIn, _ extra: [String] = [], configure: Bool = true
    ) throws -> LinePeer {
        let arguments = [
            "--store", server.uri(database: database), "--node-id", node, "--master-key-file", Self.masterKeyFile,
            "--inqom-auth-url", standIn.url.absoluteString, "--inqom-api-url", standIn.url.absoluteString,
        ]
        let engine = try LinePeer.engine(arguments + extra)
        if configure { PushThroughput.configure(engine) }
        return engine
    }

    /// The deployment's master key, in a file only this user reads.
    private static let masterKeyFile: String = {
        let path = TemporaryDirectory.make(prefix: "bench-key") + "/master.key"
        _ = FileManager.default.createFile(
            atPath: path, contents: Data(Data((0..<32).map { UInt8($0) }).base64EncodedString().utf8), attributes: [.posixPermissions: 0o600])
        return path
    }()

    private func createDatabase(_ server: PostgresServer, _ name: String) throws {
        try psql(server, database: "postgres", script: "CREATE DATABASE \(name);")
    }

    /// 10 KB submits, pipelined, while sending is paused (on a new database,
    /// then on the same once analyzed), against the same number of one-row
    /// INSERTs of 10 KB, each its own commit, from psql.
    private func durableSubmits(_ server: PostgresServer, into table: inout ResultTable) async throws {
        try createDatabase(server, "floor")
        try psql(server, database: "floor", script: "CREATE TABLE rows (id integer, payload bytea);")
        var generator = SplitMix64(seed: 11)
        let payloads = (0..<submits).map { _ in (0..<1280).map { _ in generator.next() }.withUnsafeBytes { Data($0) } }
        let inserts = payloads.enumerated().map { index, payload in
            "INSERT INTO rows VALUES (\(index), '\\x\(payload.map { String(format: "%02x", $0) }.joined())');"
        }
        let floor = Double(submits) / (try time { try psql(server, database: "floor", script: inserts.joined(separator: "\n")) }).seconds

        try createDatabase(server, "submits")
        let standIn = try await InqomStandIn()
        let engine = try engine(server, database: "submits", node: "engine-a", standIn)
        engine.call("connector.pause")
        // First on a new database, then once PostgreSQL's statistics know its
        // tables (autovacuum's ANALYZE, here run at once): until then its
        // planner may take the wrong index for a lookup by key.
        for (round, measure, target) in [
            ("new", "push.submit of 10 KB, pipelined, durable, PostgreSQL, new database (before its first ANALYZE)", "—"),
            ("analyzed", "push.submit of 10 KB, pipelined, durable, PostgreSQL, \(submits) documents stored, analyzed",
             "≥ 1,000 docs/s and ≥ 0.8 × psql"),
        ] {
            if round == "analyzed" { try psql(server, database: "submits", script: "ANALYZE;") }
            let requests = payloads.enumerated().map { index, payload in
                #"{"jsonrpc":"2.0","id":\#(index),"method":"push.submit","params":{"dossierId":"d1","path":"Achats/\#(round)-\#(index).pdf","contentBase64":"\#(payload.base64EncodedString())"}}"#
            }
            var answers: [String] = []
            let intake = time { answers = engine.pipeline(requests) }
            guard answers.allSatisfy({ $0.contains("queued") }) else {
                throw BenchError(description: "a submit was refused: \(answers.first ?? "")")
            }
            table.rows.append(
                .init(measure: measure, figure: Double(submits) / intake.seconds,
                      baselineName: "psql, one-row INSERT of 10 KB, each committed", baseline: floor, unit: "docs/s", target: target))
        }
        engine.call("shutdown")
    }

    /// Documents per second with Inqom answering in 50 ms and no rate limit:
    /// one engine, then two on one database sending the same backlog.
    private func twoEnginesAgainstOne(_ server: PostgresServer, into table: inout ResultTable) async throws {
        let options = ["--inqom-max-rps", "0", "--workers", "\(workers)", "--connector-workers", "\(2 * workers)"]
        let submissions = (0..<documents).map(Submission.small)
        try createDatabase(server, "one")
        let alone = try await InqomStandIn()
        _ = try await alone.control("latency", ["seconds": latency])
        let single = try engine(server, database: "one", node: "engine-a", alone, options)
        let one = try DistantInqom.sendAcceptedWhilePaused(submissions, through: single)
        single.call("shutdown")

        try createDatabase(server, "two")
        let shared = try await InqomStandIn()
        _ = try await shared.control("latency", ["seconds": latency])
        let first = try engine(server, database: "two", node: "engine-a", shared, options)
        let second = try engine(server, database: "two", node: "engine-b", shared, options, configure: false)
        let two = try DistantInqom.sendAcceptedWhilePaused(submissions, through: first)
        let uploads = try await shared.stats()["upload"] ?? 0
        table.rows.append(
            .init(measure: "two engines on one database, \(documents) documents, Inqom answering in \(Int(latency * 1000)) ms, \(workers) workers each",
                  figure: two, baselineName: "one engine, the same", baseline: one, unit: "docs/s", target: "≥ 1.8 × one engine"))
        table.rows.append(
            .init(measure: "  uploads Inqom received", figure: Double(uploads), baselineName: "documents", baseline: Double(documents),
                  unit: "", target: "= documents"))
        for engine in [first, second] { engine.call("shutdown") }
    }

    /// Two engines sending; one is killed (SIGKILL) once a tenth of the
    /// documents went (or, with `killedHoldingEveryPlace`, while it sends
    /// alone and Inqom holds its first 4 uploads, taking every place of the
    /// connector's `--connector-workers`, the survivor started by then):
    /// seconds from the kill until the other has sent every document,
    /// against `--lease-seconds` + 5.
    private func failover(
        _ server: PostgresServer, database: String, killedHoldingEveryPlace: Bool = false, into table: inout ResultTable
    ) async throws {
        let options = ["--inqom-max-rps", "0", "--workers", "4", "--lease-seconds", "\(leaseSeconds)"]
        try createDatabase(server, database)
        let standIn = try await InqomStandIn()
        _ = try await standIn.control("latency", ["seconds": latency])
        let dying = try engine(server, database: database, node: "engine-a", standIn, options)
        let startSurvivor = { try engine(server, database: database, node: "engine-b", standIn, options, configure: false) }
        let startedFirst = killedHoldingEveryPlace ? nil : try startSurvivor()
        let count = documents / 4
        dying.call("connector.pause")
        let answers = dying.pipeline((0..<count).map { Submission.small($0).request(id: $0) })
        guard answers.allSatisfy({ $0.contains("queued") }) else { throw BenchError(description: "a submit was refused") }
        if killedHoldingEveryPlace { try await standIn.inject("upload", count: 4, ["hold": true]) }
        dying.call("connector.resume")
        if killedHoldingEveryPlace {
            try await standIn.waitUntilHeld(4)
        } else {
            while (try await standIn.stats()["upload"] ?? 0) < count / 10 { try await Task.sleep(for: .milliseconds(10)) }
        }
        let survivor = try startedFirst ?? startSurvivor()
        _ = survivor.call("ping")
        kill(dying.pid, SIGKILL)
        if killedHoldingEveryPlace { try await standIn.release() }
        let sent = time { survivor.call("push.drain", #"{"timeoutMs":600000}"#) }
        let summary = survivor.call("status.summary")
        guard summary.contains(#""transmitted":\#(count)"#) else { throw BenchError(description: "not all sent: \(summary)") }
        let uploads = try await standIn.stats()["upload"] ?? 0
        let killed = killedHoldingEveryPlace ? "killed holding every place of the connector (4)" : "killed mid-send"
        table.rows.append(
            .init(measure: "failover: one of two engines \(killed), \(count) documents, --lease-seconds \(leaseSeconds)",
                  figure: sent.seconds, baselineName: "lease + 5 s", baseline: Double(leaseSeconds + 5), unit: "s",
                  target: "≤ lease + 5 s"))
        table.rows.append(
            .init(measure: "  uploads received twice (the killed engine's under way)", figure: Double(uploads - count),
                  baselineName: "its workers", baseline: 4, unit: "", target: "≤ its uploads under way"))
        survivor.call("shutdown")
    }

    /// Runs `script` with psql (autocommit: each statement its own commit,
    /// `synchronous_commit` on as by default), and waits for it.
    private func psql(_ server: PostgresServer, database: String, script: String) throws {
        let file = TemporaryDirectory.make(prefix: "bench-psql") + "/script.sql"
        try Data(script.utf8).write(to: URL(fileURLWithPath: file))
        let status = try ChildProcess(
            "/usr/bin/psql", [server.uri(database: database), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", file], errors: 2
        ).waitUntilExit()
        guard status == 0 else { throw BenchError(description: "psql failed on \(database)") }
    }
}
