import Foundation

/// 50,000 dossiers in batches of 1,000, then `wizard.searchDossiers` on them,
/// beside the `ping` round trip of the same engine (the protocol's floor).
struct CatalogSearch {
    let dossiers: Int

    func run(into table: inout ResultTable) throws {
        let engine = try LinePeer.engine()
        var names = ["Boulangerie", "Hôtel", "Société", "Café", "Garage", "Pharmacie", "Cabinet", "Atelier"]
        names += ["Martin", "Dupré", "Lefèvre", "Moreau", "Girard", "Bonnet", "François", "Mercier"]
        var batches: [Duration] = []
        for batch in 0..<(dossiers / 1000) {
            var items: [String] = []
            for offset in 0..<1000 {
                let index = batch * 1000 + offset
                let name = "\(names[index % 8]) \(names[8 + (index / 8) % 8]) \(index)"
                items.append(#"{"id":"d\#(index)","name":"\#(name)","attributes":{"SIRET":"\#(73282932000074 + index)","Ville":"Nantes"}}"#)
            }
            let params = #"{"dossiers":[\#(items.joined(separator: ","))]}"#
            batches.append(time { engine.call("catalog.upsertDossiers", params) })
        }
        let upsert = Percentiles(batches)
        let pings = Percentiles((0..<500).map { _ in time { engine.call("ping") } })
        table.rows.append(
            .init(measure: "catalog.upsertDossiers, 1,000 per batch (p50)", figure: upsert.p50.milliseconds,
                  baselineName: "ping p50", baseline: pings.p50.milliseconds, unit: "ms",
                  target: "fast (50 batches: \(String(format: "%.2f", batches.reduce(.zero, +).seconds)) s)"))
        let kinds = [
            ("common, 1 in 8", "hotel"), ("uncommon, 1 in 64", "societe martin"), ("rare", "4242"),
            ("absent", "zzz-nothing"), ("two letters", "ca"), ("all", ""),
        ]
        for (kind, query) in kinds {
            let runs = Percentiles((0..<60).map { _ in
                time { engine.call("wizard.searchDossiers", #"{"query":"\#(query)"}"#) }
            })
            table.rows.append(
                .init(measure: "wizard.searchDossiers, \(dossiers) dossiers, \(kind) (p50/p99 \(String(format: "%.1f", runs.p99.milliseconds)))",
                      figure: runs.p50.milliseconds, baselineName: "ping p50", baseline: pings.p50.milliseconds, unit: "ms",
                      target: "≤ 10 ms"))
        }
    }
}
