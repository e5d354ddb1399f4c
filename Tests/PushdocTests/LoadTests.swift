import Foundation
import Glibc
import Synchronization
import TestSupport
import Testing

/// 32 socket clients calling every kind of method at once while 10,000
/// documents are sending: each answer right and on its own connection,
/// memory and descriptors bounded.
struct LoadTests {
    static let documents = Int(ProcessInfo.processInfo.environment["PUSHDOC_LOAD_DOCUMENTS"] ?? "") ?? 10_000
    static let clients = 32
    static let inqomConnections = (4 + 1) * 2
    /// Spool files being written (8 intake threads) and read (one per upload
    /// handle), the spool directory while it syncs, SQLite's temporary file.
    static let filesOpenAtOnce = 8 + (4 + 1) + 1 + 1

    /// A call, the check its answer must pass, named for the report.
    struct Call: Sendable {
        let method: String
        let params: String
        let check: @Sendable (JSONLine) -> Bool
    }

    static let calls: [Call] = [
        Call(method: "ping", params: "{}") { $0.string("result") == "pong" },
        Call(method: "status.summary", params: "{}") { $0.int("result", "documents", "transmitted") != nil },
        Call(method: "status.documents", params: #"{"limit":20}"#) { ($0.at("result", "items") as? [Any])?.count == 20 },
        Call(method: "status.documents", params: #"{"state":"transmitted","limit":5}"#) {
            ($0.at("result", "items") as? [[String: Any]])?.allSatisfy { $0["state"] as? String == "transmitted" } == true
        },
        Call(method: "wizard.state", params: "{}") { $0.string("result", "state") == "active" },
        Call(method: "wizard.searchDossiers", params: #"{"query":"boulangerie"}"#) { $0.int("result", "total") == 1 },
        Call(method: "rules.list", params: "{}") { ($0.at("result", "rules") as? [Any])?.count == 1 },
        Call(method: "catalog.attributes", params: "{}") { ($0.at("result", "attributes") as? [Any])?.isEmpty == false },
        Call(method: "events.list", params: #"{"after":0,"limit":50}"#) { ($0.at("result", "events") as? [Any])?.count == 50 },
        Call(method: "collaborators.list", params: "{}") { ($0.at("result", "collaborators") as? [Any]) != nil },
        Call(method: "push.submit", params: #"{"dossierId":"d1","path":"Achats/dry.pdf","contentBase64":"eA==","dryRun":true}"#) {
            $0.string("result", "endpoint") == "Documents"
        },
        Call(method: "status.document", params: #"{"documentId":"load-1"}"#) { $0.string("result", "documentId") == "load-1" },
        Call(method: "nothing.here", params: "{}") { $0.errorCode == -32601 },
        Call(method: "status.documents", params: #"{"limit":"many"}"#) { $0.errorCode == -32602 },
    ]

    @Test func manyClientsAtOnceWhileDocumentsSend() async throws {
        let directory = TemporaryDirectory.make(prefix: "pushdoc-load")
        let socket = directory + "/engine.sock"
        let standIn = try await InqomStandIn()
        let engine = try PushdocProcess(
            ["serve", "--socket", socket, "--workers", "4", "--inqom-max-rps", "0", "--inqom-auth-url", standIn.url.absoluteString,
             "--inqom-api-url", standIn.url.absoluteString])
        try await engine.waitForLog("listening")
        let control = try RPCPeer(socketPath: socket)
        for (method, params) in StandInWizard.steps(dossierName: "Boulangerie Martin") {
            #expect(try await control.call(method, params)["result"] != nil, "\(method)")
        }
        let baseline = Figures(pid: engine.pid)
        // 10,000 documents, pipelined; sending starts at once.
        for start in stride(from: 0, to: Self.documents, by: 500) {
            let lines = (start..<min(Self.documents, start + 500)).map { index in
                #"{"jsonrpc":"2.0","id":"submit-\#(index)","method":"push.submit","params":{"dossierId":"d1","path":"Achats/load-\#(index).pdf","documentId":"load-\#(index)","contentBase64":"\#(Data("document \(index)".utf8).base64EncodedString())"}}"#
            }
            control.write(Array((lines.joined(separator: "\n") + "\n").utf8))
            for index in start..<min(Self.documents, start + 500) {
                let answer = try await control.take(timeout: .seconds(60)) { $0.id as? String == "submit-\(index)" }
                #expect(answer.string("result", "state") == "queued")
            }
        }

        let run = RunState(baseline)
        let sampler = Task {
            while !run.done.load(ordering: .relaxed) {
                let now = Figures(pid: engine.pid)
                run.peak.withLock { $0 = $0.max(now) }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        let outcomes = await withTaskGroup(of: (calls: Int, wrong: [String]).self) { group in
            for client in 0..<Self.clients {
                group.addTask {
                    guard let peer = try? RPCPeer(socketPath: socket) else { return (0, ["client \(client) cannot connect"]) }
                    var calls = 0
                    var wrong: [String] = []
                    while !run.done.load(ordering: .relaxed), wrong.count < 5 {
                        let call = Self.calls[(client + calls) % Self.calls.count]
                        let id = "c\(client)-\(calls)"
                        peer.send(#"{"jsonrpc":"2.0","id":"\#(id)","method":"\#(call.method)","params":\#(call.params)}"#)
                        calls += 1
                        // Only this connection's own id can come back on it.
                        guard let answer = try? await peer.next(timeout: .seconds(30)) else {
                            wrong.append("\(id) \(call.method): no answer")
                            continue
                        }
                        if answer.id as? String != id || !call.check(answer) {
                            wrong.append("\(id) \(call.method): \(answer.text.prefix(200))")
                        }
                        // A busy backend, not a denial of service: the rest of the suite runs alongside.
                        try? await Task.sleep(for: .milliseconds(5))
                    }
                    peer.disconnect()
                    return (calls, wrong)
                }
            }
            group.addTask {
                let drained = try? await control.call("push.drain", #"{"timeoutMs":300000}"#, timeout: .seconds(310))
                run.done.store(true, ordering: .relaxed)
                let sent = drained?.int("result", "documents", "transmitted") ?? -1
                return (0, sent == Self.documents ? [] : ["drain: \(sent) transmitted"])
            }
            return await group.reduce(into: [(calls: Int, wrong: [String])]()) { $0.append($1) }
        }
        await sampler.value
        let wrong = outcomes.flatMap(\.wrong)
        let calls = outcomes.map(\.calls).reduce(0, +)
        #expect(wrong.isEmpty, "\(wrong.count) wrong answers: \(wrong.prefix(5))")
        #expect(calls > Self.clients * 20, "only \(calls) calls")
        try await Task.sleep(for: .milliseconds(300))
        let after = Figures(pid: engine.pid)
        let highest = run.peak.withLock { $0 }
        // Bounded: the clients' descriptors come and go, memory does not run away.
        // A connection holds two: its socket and the eventfd that wakes its thread.
        #expect(highest.descriptors <= baseline.descriptors + 2 * Self.clients + Self.inqomConnections + Self.filesOpenAtOnce,
                "\(highest.descriptors) descriptors at peak")
        // After: the clients' sockets are closed; Inqom's kept-alive connections stay (the five
        // libcurl handles, one per worker and one for tokens, may each keep two).
        #expect(after.descriptors <= baseline.descriptors + Self.inqomConnections,
                "\(after.descriptors) descriptors after, \(baseline.descriptors) before: \(Figures.descriptorTargets(engine.pid))")
        #expect(highest.residentMB < 200, "\(highest.residentMB) MB at peak")
        print("load: \(Self.clients) clients, \(calls) calls answered right while \(Self.documents) documents were sent; "
            + "descriptors \(baseline.descriptors) → peak \(highest.descriptors) → \(after.descriptors); "
            + "resident memory \(baseline.residentMB) → peak \(highest.residentMB) → \(after.residentMB) MB")
        engine.signal(SIGTERM)
        #expect(try await engine.waitForExit() == 0)
    }

    /// Shared by the clients, the sampler and the drain.
    final class RunState: Sendable {
        let done = Atomic(false)
        let peak: Mutex<Figures>

        init(_ baseline: Figures) { peak = Mutex(baseline) }
    }

    /// Open descriptors and resident memory of a process, from /proc.
    struct Figures: Sendable {
        let descriptors: Int
        let residentMB: Int

        init(pid: pid_t) {
            descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
            residentMB = ProcessStatus.kilobytes("VmRSS", pid: pid) / 1024
        }

        /// What each open descriptor is, to say which ones stayed.
        static func descriptorTargets(_ pid: pid_t) -> [String] {
            let directory = "/proc/\(pid)/fd"
            return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).map {
                (try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + $0)) ?? "?"
            }.sorted()
        }

        private init(descriptors: Int, residentMB: Int) {
            self.descriptors = descriptors
            self.residentMB = residentMB
        }

        func max(_ other: Figures) -> Figures {
            Figures(descriptors: Swift.max(descriptors, other.descriptors), residentMB: Swift.max(residentMB, other.residentMB))
        }
    }
}
