import Foundation
import TestSupport

/// What users meet: Inqom far away (every answer 50 ms after its request
/// arrived), Inqom's rate limit, and Inqom back after an outage.
struct DistantInqom {
    let documents: Int
    let rateLimitedDocuments: Int
    let outageDocuments: Int
    let latency = 0.05
    /// Documents of another dossier, and of another firm, timed during the drain.
    let newcomers = 11
    let workers = 8

    func run(into table: inout ResultTable) async throws {
        try await distant(into: &table)
        try await rateLimited(into: &table)
        try await afterAnOutage(into: &table)
    }

    /// Documents per second against the latency bound, workers ÷ latency,
    /// and curl's against the same bound: a stand-in that could not carry
    /// the bound would make the row measure the stand-in.
    private func distant(into table: inout ResultTable) async throws {
        let bound = Double(workers) / latency
        let paths = try RandomFiles.write(documents, kilobytes: 200, seed: 50)
        let curl = try await UploadThroughput(files: documents, kilobytes: 200, concurrency: workers).measureCurl(paths, latency: latency)
        let standIn = try await InqomStandIn()
        _ = try await standIn.control("latency", ["seconds": latency])
        let engine = try PushThroughput.configuredEngine(
            standIn, ["--inqom-max-rps", "0", "--workers", "\(workers)", "--connector-workers", "\(workers)"])
        let rate = try Self.sendAcceptedWhilePaused(paths.map(Submission.file), through: engine)
        let shape = "\(documents) × 200 KB, Inqom answering in \(Int(latency * 1000)) ms, \(workers) workers"
        table.rows.append(
            .init(measure: "distant Inqom: \(shape)", figure: rate, baselineName: "the latency bound", baseline: bound,
                  unit: "docs/s", target: "≥ 0.95 × bound"))
        table.rows.append(
            .init(measure: "  curl, \(workers) parallel uploads to the same stand-in", figure: curl.filesPerSecond,
                  baselineName: "the latency bound", baseline: bound, unit: "docs/s", target: "≥ 0.97 × bound"))
        engine.call("shutdown")
    }

    /// The default `--inqom-max-rps` (15): the rate over a minute's
    /// documents, and the most requests the stand-in saw in one second.
    private func rateLimited(into table: inout ResultTable) async throws {
        let limit = 15.0
        let standIn = try await InqomStandIn()
        _ = try await standIn.control("latency", ["seconds": latency])
        let engine = try PushThroughput.configuredEngine(standIn, ["--inqom-max-rps", "\(Int(limit))"])
        let rate = try Self.sendAcceptedWhilePaused((0..<rateLimitedDocuments).map(Submission.small), through: engine)
        let busiest = try await standIn.stats()["busiestSecond"] ?? 0
        table.rows.append(
            .init(measure: "rate limit: \(rateLimitedDocuments) documents at --inqom-max-rps 15 (the default)", figure: rate,
                  baselineName: "the limit", baseline: limit, unit: "docs/s", target: "≥ 0.95 × limit"))
        table.rows.append(
            .init(measure: "  most requests to Inqom in one second, token and folders included", figure: Double(busiest),
                  baselineName: "the limit", baseline: limit, unit: "req", target: "≤ 15"))
        engine.call("shutdown")
    }

    /// Documents queued while Inqom answers 503, then Inqom back: the wait
    /// for the circuit's probe, the drain against the rate's bound, and a
    /// document of another dossier of the same firm, then of another firm,
    /// submitted during the drain.
    private func afterAnOutage(into table: inout ResultTable) async throws {
        let limit = 100
        let standIn = try await InqomStandIn()
        let engine = try PushThroughput.configuredEngine(standIn, ["--inqom-max-rps", "\(limit)"])
        PushThroughput.configure(engine, connector: "firm-b")
        // d4 is the stand-in's folder 11288, mapped in the default firm beside the backlog's d1.
        engine.call("catalog.upsertDossiers", #"{"dossiers":[{"id":"d4","name":"Hôtel du Port","attributes":{"SIRET":"55210055400013"}}]}"#)
        engine.call("wizard.selectDossiers", #"{"ids":["d4"],"selected":true}"#)
        engine.call("wizard.mapDossiers", #"{"siretAttribute":"SIRET"}"#)
        _ = try await standIn.control("random-faults", ["seed": 1, "rate": 1.0, "statuses": [503]])
        guard engine.pipeline((0..<outageDocuments).map { Submission.small($0).request(id: $0) }).allSatisfy({ $0.contains("queued") }) else {
            throw BenchError(description: "a submit was refused")
        }
        // Inqom is back once the circuit is open and the queue has waited.
        let retriesAtOpening = try await waitForCircuit(engine, open: true)
        _ = try await standIn.control("random-faults", ["seed": 1, "rate": 0.0, "statuses": [503]])
        let back = ContinuousClock.now
        _ = try await waitForCircuit(engine, open: false)
        let closed = ContinuousClock.now
        // Newcomers once the drain runs steadily (the workers' first claims, made together as the
        // circuit closed, are behind it), in turn: another dossier of the same firm, another firm.
        try awaitTransmissions(limit, through: engine)
        var (otherDossierRuns, otherFirmRuns): ([Duration], [Duration]) = ([], [])
        for sample in 0..<newcomers {
            otherDossierRuns.append(try time { try submitAndAwaitTransmission(engine, connector: "default", dossier: "d4", sample: sample) })
            otherFirmRuns.append(try time { try submitAndAwaitTransmission(engine, connector: "firm-b", dossier: "d1", sample: sample) })
        }
        let (otherDossier, otherFirm) = (Percentiles(otherDossierRuns), Percentiles(otherFirmRuns))
        engine.call("push.drain", #"{"timeoutMs":3600000}"#)
        let drained = ContinuousClock.now - closed
        let bound = Double(outageDocuments) / Double(limit)
        table.rows.append(
            .init(measure: "after an outage: \(outageDocuments) documents queued during 503s, --inqom-max-rps \(limit): drain once the circuit closed",
                  figure: drained.seconds, baselineName: "documents ÷ rate", baseline: bound, unit: "s", target: "≤ 1.05 × bound (\(retriesAtOpening) retries brought forward)"))
        table.rows.append(
            .init(measure: "  from Inqom back to the circuit closed (a probe every 30 s)", figure: (closed - back).seconds,
                  baselineName: "—", baseline: .nan, unit: "s", target: "—"))
        let slot = 1000 / Double(limit)
        // Another firm's document waits for no slot of this firm's: its time is one upload's.
        table.rows.append(
            .init(measure: "  another firm's document during the drain, submit to transmitted, worst of \(newcomers) (p50 \(String(format: "%.1f", otherFirm.p50.milliseconds)))",
                  figure: otherFirm.p99.milliseconds, baselineName: "one slot", baseline: slot, unit: "ms", target: "≤ one slot + one upload"))
        table.rows.append(
            .init(measure: "  another dossier of the same firm's document, worst of \(newcomers) (p50 \(String(format: "%.1f", otherDossier.p50.milliseconds)))",
                  figure: otherDossier.p99.milliseconds, baselineName: "one slot + another firm's p50", baseline: slot + otherFirm.p50.milliseconds,
                  unit: "ms", target: "≤ 1.1 × baseline"))
        engine.call("shutdown")
    }

    /// Submits one document and reads the connector's events until it is
    /// transmitted; the answer and the events may come in either order.
    private func submitAndAwaitTransmission(_ engine: LinePeer, connector: String, dossier: String, sample: Int) throws {
        let documentId = "newcomer-\(connector)-\(dossier)-\(sample)"
        var (answered, transmitted) = (false, false)
        try readEvents(of: connector, through: engine) {
            engine.send(
                #"{"jsonrpc":"2.0","id":"newcomer","method":"push.submit","params":{"connector":"\#(connector)","dossierId":"\#(dossier)","path":"Achats/\#(documentId).pdf","documentId":"\#(documentId)","contentBase64":"\#(Data(documentId.utf8).base64EncodedString())"}}"#)
        } until: { message in
            if message["id"] as? String == "newcomer" {
                guard (message["result"] as? [String: Any])?["state"] as? String == "queued" else {
                    throw BenchError(description: "the newcomer was not queued: \(message)")
                }
                answered = true
            } else if Self.transmitted(message)?["documentId"] as? String == documentId {
                transmitted = true
            }
            return answered && transmitted
        }
    }

    /// Waits until `count` of the default connector's documents more are transmitted.
    private func awaitTransmissions(_ count: Int, through engine: LinePeer) throws {
        var seen = 0
        try readEvents(of: "default", through: engine) {} until: { message in
            if Self.transmitted(message) != nil { seen += 1 }
            return seen >= count
        }
    }

    /// Subscribes to `connector`'s events, runs `start`, and reads what the
    /// engine says until `done` is true of a message; then unsubscribes.
    private func readEvents(
        of connector: String, through engine: LinePeer, _ start: () -> Void, until done: ([String: Any]) throws -> Bool
    ) throws {
        engine.call("events.subscribe", #"{"connector":"\#(connector)"}"#)
        start()
        while true {
            let line = engine.readLine()
            guard let message = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw BenchError(description: "the engine left: \(line)")
            }
            if try done(message) { break }
        }
        engine.send(#"{"jsonrpc":"2.0","id":"unsubscribed","method":"events.unsubscribe","params":{"connector":"\#(connector)"}}"#)
        while !engine.readLine().contains(#""id":"unsubscribed""#) {}
    }

    /// The data of a `document.transmitted` notification; nil for any other message.
    private static func transmitted(_ message: [String: Any]) -> [String: Any]? {
        guard let event = message["params"] as? [String: Any], event["type"] as? String == "document.transmitted" else { return nil }
        return event["data"] as? [String: Any]
    }

    /// Accepts `submissions` while sending is paused, resumes, and answers
    /// the documents per second from the resume to the last transmission.
    static func sendAcceptedWhilePaused(_ submissions: [Submission], through engine: LinePeer) throws -> Double {
        engine.call("connector.pause")
        let answers = engine.pipeline(submissions.enumerated().map { $1.request(id: $0) })
        guard answers.allSatisfy({ $0.contains("queued") }) else { throw BenchError(description: "a submit was refused") }
        let sending = time {
            engine.call("connector.resume")
            engine.call("push.drain", #"{"timeoutMs":3600000}"#)
        }
        let summary = engine.call("status.summary")
        guard summary.contains(#""transmitted":\#(submissions.count)"#) else { throw BenchError(description: "not all sent: \(summary)") }
        return Double(submissions.count) / sending.seconds
    }

    /// Waits until `status.summary` says the circuit is `open` (or closed),
    /// reading it every 100 ms: the engine has no event for the circuit.
    /// Answers how many documents wait for a retry by then.
    private func waitForCircuit(_ engine: LinePeer, open: Bool) async throws -> Int {
        while true {
            let summary = try JSONLine(engine.call("status.summary"))
            if summary.string("result", "inqom", "circuit") == (open ? "open" : "closed") {
                return summary.int("result", "documents", "retrying") ?? 0
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// A document to submit: a file's path, or a small content inline.
enum Submission {
    case file(String)
    case small(Int)

    func request(id: Int) -> String {
        switch self {
        case .file(let path):
            #"{"jsonrpc":"2.0","id":\#(id),"method":"push.submit","params":{"dossierId":"d1","path":"Achats/f-\#(id).pdf","file":"\#(path)"}}"#
        case .small(let index):
            #"{"jsonrpc":"2.0","id":\#(id),"method":"push.submit","params":{"dossierId":"d1","path":"Achats/s-\#(index).pdf","contentBase64":"\#(Data("document \(index)".utf8).base64EncodedString())"}}"#
        }
    }
}

/// Files of random bytes, the same for a seed.
enum RandomFiles {
    static func write(_ count: Int, kilobytes: Int, seed: UInt64) throws -> [String] {
        let directory = TemporaryDirectory.make(prefix: "bench-files")
        var generator = SplitMix64(seed: seed)
        return try (0..<count).map { index in
            let path = "\(directory)/invoice-\(index).pdf"
            try (0..<kilobytes * 128).map { _ in generator.next() }.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: path)) }
            return path
        }
    }
}
