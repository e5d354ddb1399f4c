import Foundation
import Glibc
import Store
import TestSupport

/// Durable intake and sending, through a release engine whose wizard is
/// walked against the stand-in.
struct PushThroughput {
    let submits: Int
    let uploads: Int

    /// An engine with one dossier mapped and one rule, connected to `standIn`.
    static func configuredEngine(_ standIn: InqomStandIn, _ arguments: [String] = []) throws -> LinePeer {
        let engine = try LinePeer.engine([
            "--inqom-auth-url", standIn.url.absoluteString, "--inqom-api-url", standIn.url.absoluteString,
        ] + arguments)
        configure(engine)
        return engine
    }

    /// Walks a connector's wizard against the stand-in.
    static func configure(_ engine: LinePeer, connector: String? = nil) {
        for (method, params) in StandInWizard.steps(connector: connector, dossierName: "Bench") { engine.call(method, params) }
    }

    func run(into table: inout ResultTable) async throws {
        let floor = try await sqliteCommitFloor(commits: 300)
        let standIn = try await InqomStandIn()
        let engine = try Self.configuredEngine(standIn)

        // Durable submits, pipelined, while sending is paused.
        engine.call("connector.pause")
        var generator = SplitMix64(seed: 7)
        let requests = (0..<submits).map { index in
            let bytes = (0..<1280).map { _ in generator.next() }.withUnsafeBytes { Data($0) }
            return #"{"jsonrpc":"2.0","id":\#(index),"method":"push.submit","params":{"dossierId":"d1","path":"Achats/s-\#(index).pdf","contentBase64":"\#(bytes.base64EncodedString())"}}"#
        }
        let intake = time { _ = engine.pipeline(requests) }
        table.rows.append(
            .init(measure: "push.submit of 10 KB, pipelined, durable", figure: Double(submits) / intake.seconds,
                  baselineName: "SQLite commits/s, 1 fsync each", baseline: floor, unit: "docs/s", target: "≥ 2,000 docs/s"))
        engine.call("connector.resume")
        engine.call("push.drain", #"{"timeoutMs":600000}"#)

        let paths = try RandomFiles.write(uploads, kilobytes: 200, seed: 8)
        func submissions(_ prefix: String) -> [String] {
            paths.enumerated().map { index, path in
                #"{"jsonrpc":"2.0","id":"\#(prefix)\#(index)","method":"push.submit","params":{"dossierId":"d1","path":"Achats/\#(prefix)-\#(index).pdf","file":"\#(path)","force":true}}"#
            }
        }
        let curlRun = try await UploadThroughput(files: uploads, kilobytes: 200, concurrency: 4).measureCurl(paths)
        let curl = curlRun.filesPerSecond
        let requiredWork = try await requiredWorkCPU(paths)

        // End to end: submit the files and wait for the last transmission.
        // Twice: the first burst writes new spool files, the second reuses
        // the files the first one freed, as an engine in service does.
        let perFile = { (spent: Double) in 1000 * spent / Double(self.uploads) }
        let cores = Double(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        var engineCPU: [(round: String, perFile: Double)] = []
        for (prefix, round) in [("e", "first burst, new spool files"), ("r", "again, spool files reused")] {
            let cpuBefore = (
                engine: ProcessStatus.cpuSeconds(pid: engine.pid), standIn: ProcessStatus.cpuSeconds(pid: standIn.pid),
                client: ProcessStatus.cpuSeconds())
            let endToEnd = time {
                _ = engine.pipeline(submissions(prefix))
                engine.call("push.drain", #"{"timeoutMs":600000}"#)
            }
            let spent = (
                engine: perFile(ProcessStatus.cpuSeconds(pid: engine.pid) - cpuBefore.engine),
                standIn: perFile(ProcessStatus.cpuSeconds(pid: standIn.pid) - cpuBefore.standIn),
                client: perFile(ProcessStatus.cpuSeconds() - cpuBefore.client))
            engineCPU.append((round, spent.engine))
            table.rows.append(
                .init(measure: "end to end, \(uploads) × 200 KB, 4 workers: \(round)", figure: Double(uploads) / endToEnd.seconds,
                      baselineName: "curl --parallel", baseline: curl, unit: "files/s", target: "regression figure"))
            table.rows.append(
                .init(measure: "  CPU per file, the engine (intake and upload)", figure: spent.engine,
                      baselineName: "curl", baseline: 1000 * curlRun.curlCPU, unit: "ms", target: ""))
            table.rows.append(
                .init(measure: "  CPU per file, the stand-in receiving them", figure: spent.standIn,
                      baselineName: "from curl", baseline: 1000 * curlRun.standInCPU, unit: "ms", target: ""))
            // The engine, the stand-in and this client share the machine's cores:
            // at the CPU each spent per file, no scheduling carries more than this.
            table.rows.append(
                .init(measure: "  ceiling: \(Int(cores)) cores busy at these costs (+ client \(String(format: "%.3f", spent.client)) ms)",
                      figure: 1000 * cores / (spent.engine + spent.standIn + spent.client),
                      baselineName: "curl --parallel", baseline: curl, unit: "files/s", target: ""))
        }

        for (round, perFile) in engineCPU {
            table.rows.append(
                .init(measure: "engine CPU per document end to end, 200 KB file: \(round)", figure: perFile,
                      baselineName: "floor: copy+fsync, SHA-256, 2 commits, curl", baseline: 1000 * (requiredWork + curlRun.curlCPU),
                      unit: "ms", target: "≤ 1.25 × floor"))
        }
        table.rows.append(
            .init(measure: "  of the floor: copy+fsync, SHA-256, 2 commits", figure: 1000 * requiredWork,
                  baselineName: "curl's upload", baseline: 1000 * curlRun.curlCPU, unit: "ms", target: ""))

        // The same in two halves: durable intake alone, then sending alone.
        engine.call("connector.pause")
        let intakeCPU = ProcessStatus.cpuSeconds(pid: engine.pid)
        let intakeAlone = time { _ = engine.pipeline(submissions("i")) }
        let sendingCPU = ProcessStatus.cpuSeconds(pid: engine.pid)
        engine.call("connector.resume")
        let sendingAlone = time { engine.call("push.drain", #"{"timeoutMs":600000}"#) }
        let sendingSpent = ProcessStatus.cpuSeconds(pid: engine.pid) - sendingCPU
        table.rows.append(
            .init(measure: "  its intake alone (copy, fsync, commit)", figure: Double(uploads) / intakeAlone.seconds,
                  baselineName: "curl --parallel", baseline: curl, unit: "files/s", target: ""))
        table.rows.append(
            .init(measure: "    CPU per file, the engine", figure: perFile(sendingCPU - intakeCPU),
                  baselineName: "curl", baseline: 1000 * curlRun.curlCPU, unit: "ms", target: ""))
        table.rows.append(
            .init(measure: "  its sending alone (queue already accepted)", figure: Double(uploads) / sendingAlone.seconds,
                  baselineName: "curl --parallel", baseline: curl, unit: "files/s", target: ""))
        table.rows.append(
            .init(measure: "    CPU per file, the engine", figure: perFile(sendingSpent),
                  baselineName: "curl", baseline: 1000 * curlRun.curlCPU, unit: "ms", target: ""))
        let received = try await standIn.uploads().count
        guard received >= submits + 3 * uploads else { throw BenchError(description: "the stand-in received \(received) documents") }
    }

    /// The work each document needs, whoever does it, in CPU seconds per
    /// document of this process: its file read and its bytes written to a
    /// new file with fsync, their SHA-256, two one-row commits (accepted,
    /// then transmitted; WAL, synchronous=FULL).
    private func requiredWorkCPU(_ paths: [String]) async throws -> Double {
        let directory = TemporaryDirectory.make(prefix: "bench-required")
        let database = try Database(
            path: directory + "/floor.sqlite",
            migrations: [Migration(1, "documents", sql: "CREATE TABLE documents (id INTEGER PRIMARY KEY, state TEXT, sha256 TEXT)")])
        let before = ProcessStatus.cpuSeconds()
        for (index, path) in paths.enumerated() {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let copy = open("\(directory)/\(index)", O_WRONLY | O_CREAT | O_EXCL, 0o600)
            guard copy >= 0, bytes.withUnsafeBytes({ write(copy, $0.baseAddress, $0.count) }) == bytes.count, fsync(copy) == 0 else {
                throw BenchError(description: "cannot write a copy: errno \(errno)")
            }
            close(copy)
            let hash = SHA256()
            bytes.withUnsafeBytes { hash.update($0) }
            let digest = hash.finalize()
            try await database.write {
                try $0.run("INSERT INTO documents (id, state, sha256) VALUES (?, 'queued', ?)", [.integer(Int64(index)), .text(digest)])
            }
            try await database.write { try $0.run("UPDATE documents SET state = 'transmitted' WHERE id = ?", [.integer(Int64(index))]) }
        }
        return (ProcessStatus.cpuSeconds() - before) / Double(paths.count)
    }

    /// SQLite on this disk: 10 KB committed per transaction, WAL, synchronous=FULL.
    private func sqliteCommitFloor(commits: Int) async throws -> Double {
        let database = try Database(
            path: TemporaryDirectory.make(prefix: "bench-floor") + "/floor.sqlite",
            migrations: [Migration(1, "blobs", sql: "CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")])
        let blob = [UInt8](repeating: 7, count: 10 * 1024)
        let started = ContinuousClock.now
        for _ in 0..<commits {
            try await database.write { try $0.run("INSERT INTO blobs (data) VALUES (?)", [.blob(blob)]) }
        }
        return Double(commits) / (ContinuousClock.now - started).seconds
    }
}
