import Foundation
import TestSupport

/// connectors.md's scale rows: many firms stored, few in use, their
/// catalogs and documents written through the protocol (the documents of
/// firms that have not finished their wizard: kept, `ignored`).
struct ManyConnectors {
    let connectors: Int
    let documents: Int
    let dossiersEach = 50
    let bigCatalog = 5_000

    func run(into table: inout ResultTable) throws {
        let dataDir = TemporaryDirectory.make(prefix: "bench-connectors")
        do {
            let engine = try LinePeer.engine(dataDir: dataDir)
            for start in stride(from: 0, to: connectors, by: 1_000) {
                let requests = (start..<min(connectors, start + 1_000)).map { firm in
                    let dossiers = (0..<dossiersEach).map { #"{"id":"d\#($0)","name":"Dossier \#(firm)-\#($0)","attributes":{"SIRET":"\#(firm)"}}"# }
                    return #"{"jsonrpc":"2.0","id":\#(firm),"method":"catalog.upsertDossiers","params":{"connector":"firm-\#(firm)","dossiers":[\#(dossiers.joined(separator: ","))]}}"#
                }
                guard engine.pipeline(requests).allSatisfy({ $0.contains("upserted") }) else {
                    throw BenchError(description: "a catalog upsert was refused")
                }
            }
            for start in stride(from: 0, to: documents, by: 10_000) {
                let requests = (start..<min(documents, start + 10_000)).map { index in
                    #"{"jsonrpc":"2.0","id":\#(index),"method":"push.submit","params":{"connector":"firm-\#(index % connectors)","dossierId":"d\#(index % dossiersEach)","path":"Achats/\#(index).pdf","contentBase64":"\#(Data("document \(index)".utf8).base64EncodedString())"}}"#
                }
                guard engine.pipeline(requests).last?.contains("ignored") == true else { throw BenchError(description: "a submit was refused") }
            }
            let names = ["Boulangerie", "Hôtel", "Garage", "Pharmacie", "Café"]
            for start in stride(from: 0, to: bigCatalog, by: 1_000) {
                let dossiers = (start..<start + 1_000).map { #"{"id":"big\#($0)","name":"\#(names[$0 % 5]) \#($0)","attributes":{}}"# }
                engine.call("catalog.upsertDossiers", #"{"connector":"big","dossiers":[\#(dossiers.joined(separator: ","))]}"#)
            }
            let ping = Percentiles((0..<300).map { _ in time { engine.call("ping") } }).p50
            let stored = "\(connectors + 1) connectors, \((connectors * dossiersEach + bigCatalog).formatted()) dossiers, \(documents.formatted()) documents stored"
            engine.call("wizard.searchDossiers", #"{"connector":"big","query":"gar"}"#)
            let search = Percentiles((0..<300).map { index in
                time { engine.call("wizard.searchDossiers", #"{"connector":"big","query":"\#(["gar", "ph", "café 12", "hôtel 4"][index % 4])"}"#) }
            })
            table.rows.append(
                .init(measure: "wizard.searchDossiers in one connector of \(bigCatalog.formatted()), \(stored) (p50; p99 \(String(format: "%.2f", search.p99.milliseconds)))",
                      figure: search.p50.milliseconds, baselineName: "ping p50", baseline: ping.milliseconds, unit: "ms",
                      target: "p50 ≤ 2 ms, p99 ≤ 10 ms"))
            for (method, params) in [("connectors.list, first page", "{}"), ("status.engine", "{}")] {
                let runs = Percentiles((0..<200).map { _ in time { engine.call(String(method.prefix { $0 != "," }), params) } })
                table.rows.append(
                    .init(measure: "\(method), \(stored) (p50; p99 \(String(format: "%.2f", runs.p99.milliseconds)))",
                          figure: runs.p50.milliseconds, baselineName: "ping p50", baseline: ping.milliseconds, unit: "ms", target: "≤ 20 ms"))
            }
            // 100 connectors in use: each searched once.
            for firm in 0..<min(100, connectors) {
                engine.call("wizard.searchDossiers", #"{"connector":"firm-\#(firm)","query":"dossier"}"#)
            }
            table.rows.append(
                .init(measure: "resident memory, \(stored), 100 in use", figure: Double(ProcessFigures.residentBytes(engine.pid)) / 1e6,
                      baselineName: "anonymous part", baseline: Double(ProcessFigures.anonymousBytes(engine.pid)) / 1e6, unit: "MB",
                      target: "≤ 64 MB"))
            engine.call("shutdown")
        }
        let restarts = Percentiles(try (0..<5).map { _ in try timeToFirstPong { try LinePeer.engine(dataDir: dataDir) } })
        table.rows.append(
            .init(measure: "start to first pong, \(connectors + 1) connectors stored (p50 of 5)", figure: restarts.p50.milliseconds,
                  baselineName: "—", baseline: .nan, unit: "ms", target: "≤ 200 ms"))
    }
}
