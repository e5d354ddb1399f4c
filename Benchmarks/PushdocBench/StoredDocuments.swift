import Foundation
import Glibc
import Synchronization
import TestSupport

/// An engine holding many documents: the status calls, its memory, and how
/// long it takes to start on that data directory; then memory while one
/// 1 GiB file goes through intake and upload.
struct StoredDocuments {
    let documents: Int

    func run(into table: inout ResultTable) async throws {
        let standIn = try await InqomStandIn()
        let dataDir = TemporaryDirectory.make(prefix: "bench-stored")
        do {
            let engine = try LinePeer.engine(dataDir: dataDir, [
                "--inqom-auth-url", standIn.url.absoluteString, "--inqom-api-url", standIn.url.absoluteString,
            ])
            try configure(engine)
            engine.call("connector.pause")
            var generator = SplitMix64(seed: 11)
            for start in stride(from: 0, to: documents, by: 10_000) {
                let requests = (start..<min(documents, start + 10_000)).map { index in
                    let bytes = (0..<8).map { _ in generator.next() }.withUnsafeBytes { Data($0) }
                    return #"{"jsonrpc":"2.0","id":\#(index),"method":"push.submit","params":{"dossierId":"d\#(index % 50)","path":"Achats/\#(index).pdf","contentBase64":"\#(bytes.base64EncodedString())"}}"#
                }
                guard engine.pipeline(requests).last?.contains("queued") == true else { throw BenchError(description: "submit refused") }
            }
            let ping = Percentiles((0..<300).map { _ in time { engine.call("ping") } }).p50
            let calls: [(String, String, String)] = [
                ("status.summary", "status.summary", "{}"),
                ("status.documents, first page of 100", "status.documents", "{}"),
                ("status.documents, one dossier's queued, 100", "status.documents", #"{"dossierId":"d7","state":"queued"}"#),
            ]
            for (name, method, params) in calls {
                let runs = Percentiles((0..<200).map { _ in time { engine.call(method, params) } })
                table.rows.append(
                    .init(measure: "\(name), \(documents) documents stored (p50/p99 \(String(format: "%.2f", runs.p99.milliseconds)))",
                          figure: runs.p50.milliseconds, baselineName: "ping p50", baseline: ping.milliseconds, unit: "ms",
                          target: "≤ 5 ms"))
            }
            table.rows.append(
                .init(measure: "resident memory, \(documents) documents stored", figure: Double(ProcessFigures.residentBytes(engine.pid)) / 1e6,
                      baselineName: "anonymous part", baseline: Double(ProcessFigures.anonymousBytes(engine.pid)) / 1e6, unit: "MB", target: "—"))
        }
        // After a clean stop the database is sealed and a start on the
        // unchanged file skips PRAGMA quick_check; after a crash that changed
        // it (here: the seal's record removed), the start checks.
        for sealed in [true, false] {
            let restarts = Percentiles(try (0..<5).map { _ in
                if !sealed { unlink(dataDir + "/pushdoc.sqlite-verified") }
                return try timeToFirstPong { try LinePeer.engine(dataDir: dataDir) }
            })
            table.rows.append(
                sealed
                    ? .init(measure: "start to first pong, \(documents) documents stored, after a clean stop (p50 of 5)",
                            figure: restarts.p50.milliseconds, baselineName: "—", baseline: .nan, unit: "ms", target: "≤ 50 ms")
                    : .init(measure: "  the same after a crash: PRAGMA quick_check runs (p50 of 5)",
                            figure: restarts.p50.milliseconds, baselineName: "—", baseline: .nan, unit: "ms", target: "—"))
        }
        try await streaming(standIn, into: &table)
    }

    private func configure(_ engine: LinePeer) throws {
        let dossiers = (0..<50).map { #"{"id":"d\#($0)","name":"Dossier \#($0)","attributes":{"SIRET":"73282932000074"}}"# }
        engine.call("catalog.upsertDossiers", #"{"dossiers":[\#(dossiers.joined(separator: ","))]}"#)
        engine.call("wizard.selectDossiers", #"{"query":"","selected":true}"#)
        engine.call("wizard.connect", #"{"login":"\#(InqomStandIn.login)","password":"\#(InqomStandIn.password)","clientSecret":"\#(InqomStandIn.clientSecret)"}"#)
        engine.call("wizard.mapDossiers", #"{"siretAttribute":"SIRET"}"#)
        engine.call("rules.add", #"{"depositPath":"Achats","documentType":"facture_achat","period":"any"}"#)
        guard engine.call("wizard.finish").contains("active") else { throw BenchError(description: "the wizard did not finish") }
    }

    /// Peak resident memory while a 1 GiB file is copied into the spool and uploaded.
    private func streaming(_ standIn: InqomStandIn, into table: inout ResultTable) async throws {
        let engine = try PushThroughput.configuredEngine(standIn, ["--max-file-bytes", "2G"])
        table.rows.append(try await Self.streamingPeak(
            through: engine, standIn, bytes: 1 << 30, measure: "resident memory, streaming a 1 GiB file (peak)"))
    }

    /// The peak resident memory of `engine` while a file of `bytes` goes
    /// through intake and upload, beside the same engine idle.
    static func streamingPeak(through engine: LinePeer, _ standIn: InqomStandIn, bytes: Int, measure: String) async throws
        -> ResultTable.Row
    {
        let path = TemporaryDirectory.make(prefix: "bench-big") + "/big.pdf"
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        guard fd >= 0, ftruncate(fd, off_t(bytes)) == 0 else { throw BenchError(description: "cannot make a file of \(bytes) bytes") }
        close(fd)
        defer { unlink(path) }
        let idle = ProcessFigures.residentBytes(engine.pid)
        let peak = Mutex(0)
        let done = Atomic(false)
        let pid = engine.pid
        let sampler = Thread {
            while !done.load(ordering: .relaxed) {
                let resident = ProcessFigures.residentBytes(pid)
                peak.withLock { $0 = max($0, resident) }
                usleep(5_000)
            }
        }
        sampler.start()
        let answer = engine.call("push.submit", #"{"dossierId":"d1","path":"Achats/big.pdf","file":"\#(path)"}"#)
        engine.call("push.drain", #"{"timeoutMs":600000}"#)
        done.store(true, ordering: .relaxed)
        let uploads = try await standIn.uploads()
        guard answer.contains("queued"), uploads.contains(where: { ($0["size"] as? Int) == bytes }) else {
            throw BenchError(description: "the big file did not arrive: \(answer)")
        }
        return .init(measure: measure, figure: Double(peak.withLock { $0 }) / 1e6,
                     baselineName: "the same engine idle", baseline: Double(idle) / 1e6, unit: "MB", target: "≤ 48 MB")
    }
}
