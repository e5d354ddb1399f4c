import Foundation
import InqomClient
import Logging
import TestSupport

/// Uploads of the same files to the same stand-in, with the same
/// concurrency: the Inqom client against `curl --parallel`.
struct UploadThroughput {
    let files: Int
    let kilobytes: Int
    let concurrency: Int

    func run(into table: inout ResultTable) async throws {
        let paths = try RandomFiles.write(files, kilobytes: kilobytes, seed: 2026)
        let curlRate = try await measureCurl(paths).filesPerSecond
        let clientRate = try await measureClient(paths)
        table.rows.append(
            .init(
                measure: "upload \(files) × \(kilobytes) KB, \(concurrency) at a time", figure: clientRate,
                baselineName: "curl --parallel", baseline: curlRate, unit: "files/s", target: "≥ 0.8 × baseline"))
    }

    private func token(_ standIn: InqomStandIn, client: InqomClient) async throws -> AccessToken {
        try await client.requestToken(
            .init(login: InqomStandIn.login, password: InqomStandIn.password, clientSecret: InqomStandIn.clientSecret))
    }

    private func makeClient(_ standIn: InqomStandIn) -> InqomClient {
        InqomClient(
            configuration: .init(
                authURL: standIn.url, apiURL: standIn.url, clientID: InqomStandIn.clientID, concurrency: concurrency),
            logger: Logger(label: "bench"))
    }

    private func measureClient(_ paths: [String]) async throws -> Double {
        let standIn = try await InqomStandIn()
        let client = makeClient(standIn)
        let token = try await token(standIn, client: client)
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func addUpload() {
                let path = paths[next]
                let sourceID = "bench-\(next)"
                next += 1
                group.addTask {
                    _ = try await client.uploadDocument(
                        token: token, folderID: 11287, file: UploadFile(path: path, fileName: "invoice.pdf"),
                        typeScan: .supplier, sourceID: sourceID)
                }
            }
            while next < min(concurrency, paths.count) { addUpload() }
            for try await _ in group where next < paths.count { addUpload() }
        }
        return Double(paths.count) / (ContinuousClock.now - started).seconds
    }

    /// What curl's uploads cost: their rate, and CPU seconds per file of
    /// curl and of the stand-in that received them.
    struct CurlRun {
        let filesPerSecond: Double
        let curlCPU: Double
        let standInCPU: Double
    }

    /// `latency`: the stand-in answers each request that long after it arrived.
    func measureCurl(_ paths: [String], latency: Double = 0) async throws -> CurlRun {
        let standIn = try await InqomStandIn()
        _ = try await standIn.control("latency", ["seconds": latency])
        let token = try await token(standIn, client: makeClient(standIn))
        let url = standIn.url.appending(path: "api/accounting-documents/accounting-folders/11287/Documents/")
        var config = ""
        for (index, path) in paths.enumerated() {
            config += """
                url = "\(url.absoluteString)"
                header = "Authorization: Bearer \(token.value)"
                header = "Expect:"
                form = "Document=@\(path);type=application/pdf;filename=invoice.pdf"
                form = "DocumentName=invoice.pdf"
                form = "TypeScan=Supplier"
                form = "FileSource=Api"
                form = "SourceId=curl-\(index)"
                output = "/dev/null"

                """
            if index < paths.count - 1 { config += "next\n" }
        }
        let configPath = TemporaryDirectory.make(prefix: "bench-curl") + "/uploads.curl"
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        let standInCPU = ProcessStatus.cpuSeconds(pid: standIn.pid)
        let childrenCPU = Self.reapedChildrenCPU()
        let started = ContinuousClock.now
        let status = try ChildProcess(
            "/usr/bin/curl",
            ["--silent", "--no-progress-meter", "--fail", "--parallel", "--parallel-max", "\(concurrency)", "--config", configPath]
        ).waitUntilExit()
        let elapsed = ContinuousClock.now - started
        let standInSpent = ProcessStatus.cpuSeconds(pid: standIn.pid) - standInCPU
        // curl is the only child that ends during the run.
        let curlSpent = Self.reapedChildrenCPU() - childrenCPU
        guard status == 0 else { throw BenchError(description: "curl failed") }
        let received = try await standIn.uploads().count
        guard received == paths.count else { throw BenchError(description: "curl uploaded \(received) of \(paths.count)") }
        return CurlRun(
            filesPerSecond: Double(paths.count) / elapsed.seconds, curlCPU: curlSpent / Double(paths.count),
            standInCPU: standInSpent / Double(paths.count))
    }

    /// CPU seconds of the children this process has waited for.
    private static func reapedChildrenCPU() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        return [usage.ru_utime, usage.ru_stime].reduce(0) { $0 + Double($1.tv_sec) + Double($1.tv_usec) / 1e6 }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
}
