import Foundation
import Glibc
import TestSupport
import Testing

/// What `push.submit {file}` may make the engine read: never its own
/// secrets, kernel or device files, nor — with `--files-root` — anything
/// outside the root, even while another process swaps links under it; and
/// every refusal says the same thing.
struct FileAccessTests {
    @Test func theEngineNeverReadsItsSecretsNorKernelOrDeviceFiles() async throws {
        let harness = try await PushHarness()
        let dataDir = harness.engine.dataDir
        let pid = harness.engine.pid
        let linkToKey = harness.files + "/innocent.pdf"
        symlink(dataDir + "/master.key", linkToKey)
        let forbidden = [
            "/proc/self/environ", "/proc/\(pid)/environ", "/proc/\(pid)/root/\(dataDir)/master.key",
            dataDir + "/master.key", dataDir + "/pushdoc.sqlite", dataDir + "/pushdoc.sqlite-wal", linkToKey,
            "/sys/kernel/mm/transparent_hugepage/enabled", "/dev/null", "/dev/zero", "/dev/shm",
            harness.files + "/never-written.pdf",
        ]
        var refusals = Set<String>()
        for file in forbidden {
            // The plain submission, and the variants that once answered as oracles without storing.
            for extra in ["", #","dryRun":true"#, #","size":1"#, #","sha256":"\#(String(repeating: "a", count: 64))""#] {
                let answer = try await harness.call(
                    "push.submit", #"{"dossierId":"d1","path":"Achats/x.pdf","file":"\#(file)"\#(extra)}"#)
                #expect(answer.errorCode == 1401, "\(file)\(extra): \(answer)")
                let error = try JSONSerialization.data(withJSONObject: answer.at("error") ?? [:], options: .sortedKeys)
                refusals.insert(String(decoding: error, as: UTF8.self))
            }
        }
        #expect(refusals.count == 1, "a refusal told files apart: \(refusals)")
        #expect((try await harness.call("status.documents", #"{"limit":10}"#).at("result", "items") as? [Any])?.isEmpty == true)
        #expect(try await harness.standIn.uploads().isEmpty)
        // A file the engine may read still goes.
        #expect(try await harness.submit("d1", "Achats/ok.pdf", content: "ok").string("result", "state") == "queued")
    }

    /// A second process swaps a directory inside the root for a link to one
    /// outside it, as fast as it can, while the client submits a file through
    /// that directory: the outside file is never read.
    static let raceTries = 3_000

    @Test func aLinkSwappedDuringTheCheckNeverLetsAFileOutsideTheRootBeRead() async throws {
        let root = TemporaryDirectory.make(prefix: "pushdoc-root")
        let outside = TemporaryDirectory.make(prefix: "pushdoc-outside")
        let harness = try await PushHarness(extra: ["--files-root", root])
        mkdir(root + "/dir", 0o700)
        try Data("inside".utf8).write(to: URL(fileURLWithPath: root + "/dir/f.pdf"))
        try Data("outside secret".utf8).write(to: URL(fileURLWithPath: outside + "/f.pdf"))
        let swapper = try ChildProcess("/usr/bin/python3", [
            "-c",
            """
            import os, sys, time
            root, outside = sys.argv[1], sys.argv[2]
            real, link, spare = root + '/dir', root + '/dir-link', root + '/dir-real'
            os.symlink(outside, link)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                os.rename(real, spare); os.rename(link, real)
                os.rename(real, link); os.rename(spare, real)
            """,
            root, outside,
        ])
        defer {
            swapper.signal(SIGKILL)
            _ = swapper.waitUntilExit()
        }
        let started = ContinuousClock.now
        let outsideHash = try sha256sum(outside + "/f.pdf")
        var counts: [String: Int] = [:]
        for _ in 0..<Self.raceTries {
            // With the outside file's hash, only its bytes could be accepted.
            let answer = try await harness.call(
                "push.submit",
                #"{"dossierId":"d1","path":"Achats/f.pdf","file":"\#(root)/dir/f.pdf","sha256":"\#(outsideHash)","dryRun":true}"#)
            counts[answer.errorCode.map { "\($0)" } ?? "read outside", default: 0] += 1
        }
        #expect(counts["read outside"] == nil, "\(counts)")
        // The race was run: some tries read the inside file (a hash mismatch), others found the link.
        #expect(counts["1403", default: 0] > 0 && counts["1401", default: 0] > 0, "\(counts)")
        print("files-root race: \(Self.raceTries) tries in \(ContinuousClock.now - started), \(counts)")
    }
}
