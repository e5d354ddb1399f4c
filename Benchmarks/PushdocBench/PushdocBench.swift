import Foundation
import Glibc
import InqomClient
import Logging
import TestSupport

/// `swift build -c release --static-swift-stdlib && .build/release/pushdoc-bench [--quick] [--only protocol|catalog|upload|push|hostile|stored|connectors|distant|cluster]`:
/// measures, prints a table of figures beside baselines measured in the
/// same run. Never a pass/fail test. `--quick` (CI) runs every measure on
/// small counts, only to prove the suite still works. The blocking measures
/// run first, on the main thread, before any task is started.
@main
enum PushdocBench {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let quick = arguments.contains("--quick")
        // `--only NAME` runs one group of measures (to profile it alone).
        let only = arguments.firstIndex(of: "--only").flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil }
        func selected(_ name: String) -> Bool { only == nil || only == name }
        let groups = ["protocol", "catalog", "upload", "push", "hostile", "stored", "connectors", "distant", "cluster"]
        let known = arguments.dropFirst().allSatisfy { $0 == "--quick" || $0 == "--only" || groups.contains($0) }
        guard known, only.map(groups.contains) ?? !arguments.contains("--only") else {
            FileHandle.standardError.write(Data("usage: pushdoc-bench [--quick] [--only \(groups.joined(separator: "|"))]\n".utf8))
            exit(2)
        }
        // Every file the run makes (2,000-file batches, a 1 GiB file, data
        // directories) goes under one directory, removed at the end.
        let scratch = TemporaryDirectory.make(prefix: "pushdoc-bench")
        setenv("TMPDIR", scratch, 1)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var table = ResultTable()
        if selected("protocol") {
            try ProtocolLatency(roundTrips: quick ? 500 : 5_000, pipelined: quick ? 20_000 : 200_000, starts: quick ? 5 : 21)
                .run(into: &table)
        }
        if selected("catalog") { try CatalogSearch(dossiers: quick ? 5_000 : 50_000).run(into: &table) }
        if selected("upload") { try await UploadThroughput(files: quick ? 100 : 1000, kilobytes: 200, concurrency: 4).run(into: &table) }
        if selected("push") { try await PushThroughput(submits: quick ? 200 : 2000, uploads: quick ? 200 : 2000).run(into: &table) }
        if selected("hostile") { try HostileClients(silent: quick ? 30 : 300, calls: quick ? 100 : 1000).run(into: &table) }
        if selected("stored") { try await StoredDocuments(documents: quick ? 5_000 : 100_000).run(into: &table) }
        if selected("connectors") { try ManyConnectors(connectors: quick ? 200 : 10_000, documents: quick ? 2_000 : 1_000_000).run(into: &table) }
        if selected("distant") {
            try await DistantInqom(
                documents: quick ? 200 : 2_000, rateLimitedDocuments: quick ? 60 : 900, outageDocuments: quick ? 500 : 10_000
            ).run(into: &table)
        }
        if selected("cluster") { try await SharedDatabase(
                submits: quick ? 200 : 2_000, documents: quick ? 200 : 2_000, bigDocumentBytes: quick ? 1 << 28 : 1 << 30).run(into: &table) }
        table.print()
    }
}

/// One row: a measure, its figure, the baseline measured in the same run.
struct ResultTable {
    struct Row {
        let measure: String
        let figure: Double
        let baselineName: String
        let baseline: Double
        let unit: String
        let target: String
    }

    var rows: [Row] = []

    /// Three significant decimals for small figures, one for large ones.
    static func format(_ value: Double, _ unit: String) -> String {
        String(format: value < 10 ? "%.3f %@" : "%.1f %@", value, unit)
    }

    func print() {
        let header = ["measure", "figure", "baseline", "ratio", "target"]
        let lines = rows.map { row in
            let hasBaseline = !row.baseline.isNaN
            return [
                row.measure, Self.format(row.figure, row.unit),
                hasBaseline ? Self.format(row.baseline, row.unit) + " (\(row.baselineName))" : "—",
                hasBaseline ? String(format: "%.2f", row.figure / row.baseline) : "—", row.target,
            ]
        }
        let widths = header.indices.map { column in ([header] + lines).map { $0[column].count }.max() ?? 0 }
        for line in [header] + lines {
            Swift.print(zip(line, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: " | "))
        }
    }
}
