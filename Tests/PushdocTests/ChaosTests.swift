import Foundation
import Glibc
import TestSupport
import Testing

/// The engine killed with SIGKILL at random instants, again and again, while
/// three firms' documents are submitted, sent to a slow and faulty Inqom, and
/// events are replayed; restarted each time on the same data directory.
struct ChaosTests {
    static let documents = Int(ProcessInfo.processInfo.environment["PUSHDOC_CHAOS_DOCUMENTS"] ?? "") ?? 400
    static let kills = Int(ProcessInfo.processInfo.environment["PUSHDOC_CHAOS_KILLS"] ?? "") ?? 25
    static let workers = 4
    /// The firms: the default connector and two others, documents dealt in turn.
    static let connectors = ["default", "firm-b", "firm-c"]

    @Test func killsAtRandomInstantsLoseNothingAndDuplicateOnlyWhatWasInFlight() async throws {
        var harness = try await PushHarness(extra: ["--workers", "\(Self.workers)", "--max-attempts", "6"])
        for connector in Self.connectors.dropFirst() { try await harness.addConnector(connector) }
        _ = try await harness.standIn.control(
            "random-faults",
            ["seed": 2026, "rate": 0.1, "statuses": [503, 500, 429, "reset"], "kinds": ["upload"], "delay": 0.01])
        var random = SplitMix64(seed: 9)
        let contents = (0..<Self.documents).map { "chaos document \($0) " + String(repeating: "x", count: $0 % 300) }
        var acknowledged: [Int: String] = [:]
        var kills = 0
        var interruptedSubmits = 0
        while kills < Self.kills || acknowledged.count < Self.documents {
            let engine = harness.engine
            let killAfter = Duration.milliseconds(Int.random(in: 20...400, using: &random))
            let replayFirst = kills % 3 == 0
            let files = harness.files
            let unacknowledged = (0..<Self.documents).filter { acknowledged[$0] == nil }.prefix(40)
            // Submissions race the kill; only the answered ones count as acknowledged.
            let answered = await withTaskGroup(of: (Int, String?).self) { group in
                if kills < Self.kills {
                    group.addTask {
                        if replayFirst { engine.stdio.send(#"{"jsonrpc":"2.0","id":"replay","method":"events.subscribe","params":{"after":0}}"#) }
                        try? await Task.sleep(for: killAfter)
                        engine.signal(SIGKILL)
                        return (-1, nil)
                    }
                }
                for index in unacknowledged {
                    group.addTask {
                        let file = files + "/chaos-\(index).pdf"
                        try? Data(contents[index].utf8).write(to: URL(fileURLWithPath: file))
                        let connector = Self.connectors[index % Self.connectors.count]
                        let answer = try? await engine.stdio.call(
                            "push.submit",
                            #"{"connector":"\#(connector)","dossierId":"d1","path":"Achats/chaos-\#(index).pdf","file":"\#(file)"}"#)
                        return (index, answer?.string("result", "documentId"))
                    }
                }
                return await group.reduce(into: [(Int, String)]()) { found, answer in
                    if let id = answer.1 { found.append((answer.0, id)) }
                }
            }
            for (index, id) in answered { acknowledged[index] = id }
            interruptedSubmits += unacknowledged.count - answered.count
            if kills < Self.kills {
                _ = try await engine.waitForExit()
                kills += 1
                harness.engine = try PushdocProcess(
                    PushHarness.serveArguments(harness.standIn) + PushHarness.engineOptions
                        + ["--workers", "\(Self.workers)", "--max-attempts", "6"],
                    dataDir: engine.dataDir)
            }
        }
        _ = try await harness.standIn.control("random-faults", ["seed": 1, "rate": 0.0, "statuses": [503]])
        for connector in Self.connectors {
            let drained = try await harness.engine.stdio.call(
                "push.drain", #"{"connector":"\#(connector)","timeoutMs":120000}"#, timeout: .seconds(180))
            for state in ["queued", "sending", "retrying"] {
                #expect(drained.int("result", "documents", state) == 0, "\(connector): \(state) after the drain: \(drained)")
            }
        }

        // Every acknowledged document reached an end: transmitted (and
        // Inqom has it), or failed with its reason.
        let uploads = try await harness.standIn.uploads()
        let received = uploads.compactMap { ($0["fields"] as? [String: String])?["SourceId"] }
        let receivedIDs = Set(received)
        var transmitted = 0
        for (index, id) in acknowledged.sorted(by: { $0.key < $1.key }) {
            let connector = Self.connectors[index % Self.connectors.count]
            let document = try await harness.call("status.document", #"{"connector":"\#(connector)","documentId":"\#(id)"}"#)
            switch document.string("result", "state") {
            case "transmitted":
                transmitted += 1
                #expect(receivedIDs.contains(id), "document \(index) transmitted but not at Inqom")
            case "failed":
                #expect(document.string("result", "reason")?.isEmpty == false, "document \(index) failed without a reason")
            default:
                Issue.record("document \(index) (\(id)) ended \(document)")
            }
        }
        let duplicates = received.count - receivedIDs.count
        #expect(duplicates <= kills * Self.workers, "\(duplicates) duplicates after \(kills) kills")

        // The event log: gap-free, and each document's story told once.
        let events = try await allEvents(harness)
        #expect(events.map(\.seq) == Array(1...events.count), "the event log has a gap")
        for id in acknowledged.values {
            let ends = events.filter { $0.documentID == id && ["document.transmitted", "document.failed"].contains($0.type) }
            #expect(ends.count == 1, "\(id): \(ends.map(\.type))")
        }
        _ = try await harness.call("shutdown")
        #expect(try await harness.engine.waitForExit() == 0)
        #expect(try await integrityCheck(harness.engine.dataDir + "/pushdoc.sqlite") == "ok")
        print("chaos: \(Self.documents) documents of \(Self.connectors.count) firms, \(kills) kills, \(transmitted) transmitted, "
            + "\(acknowledged.count - transmitted) failed with a reason, 0 lost, \(duplicates) duplicate uploads, "
            + "\(interruptedSubmits) submits cut by a kill and resubmitted")
    }

    private struct LoggedEvent {
        let seq: Int
        let type: String
        let documentID: String?
    }

    private func allEvents(_ harness: PushHarness) async throws -> [LoggedEvent] {
        var events: [LoggedEvent] = []
        while true {
            let page = try await harness.events(after: events.last?.seq ?? 0)
            if page.isEmpty { return events }
            events += page.map {
                LoggedEvent(
                    seq: $0["seq"] as? Int ?? -1, type: $0["type"] as? String ?? "",
                    documentID: ($0["data"] as? [String: Any])?["documentId"] as? String)
            }
        }
    }
}

/// `PRAGMA integrity_check` on a database file, through Python's sqlite3.
func integrityCheck(_ path: String) async throws -> String {
    let output = TemporaryDirectory.make(prefix: "pushdoc-integrity") + "/result"
    try await runPython(
        "import sqlite3, sys; open(sys.argv[2], 'w').write(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])",
        [path, output])
    return try String(contentsOfFile: output, encoding: .utf8)
}
