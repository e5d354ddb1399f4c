import Foundation
import Glibc
import TestSupport
import Testing

/// Start, serve, and every way of stopping, with a real engine process.
struct LifecycleTests {
    @Test func shutdownAnswersThenExitsZero() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        let answer = try await engine.stdio.call("shutdown")
        #expect(answer.text == #"{"jsonrpc":"2.0","id":\#(answer.int("id")!),"result":{}}"#)
        #expect(try await engine.waitForExit() == 0)
        try await engine.stdio.lines.waitForEnd()
    }

    @Test func endOfStdinAnswersWhatWasSentThenExitsZero() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        var lines = ""
        for id in 0..<200 { lines += #"{"jsonrpc":"2.0","id":\#(id),"method":"ping"}"# + "\n" }
        engine.stdio.write(Array(lines.utf8))
        engine.stdio.closeWrite()
        #expect(try await engine.waitForExit() == 0)
        try await engine.stdio.lines.waitForEnd()
        #expect(engine.stdio.lines.pending.count == 200)
    }

    /// A stdio client that stops reading while its stdin stays open: with
    /// nobody to answer, the engine stops instead of serving nobody forever.
    @Test func aStdioClientThatStopsReadingStopsTheEngine() async throws {
        let directory = TemporaryDirectory.make(prefix: "pushdoc-unread")
        let input = try makePipe(), output = try makePipe()
        let errors = open(directory + "/stderr", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        try #require(errors >= 0)
        let process = try ChildProcess(
            PushdocProcess.binaryPath, ["serve", "--stdio", "--data-dir", directory + "/data"],
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PUSHDOC_") },
            input: input.read, output: output.write, errors: errors)
        // Its answers go nowhere: nobody reads them.
        for end in [input.read, output.write, output.read, errors] { close(end) }
        let ping = Array(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.utf8) + [0x0A]
        #expect(write(input.write, ping, ping.count) == ping.count)
        #expect(try await process.waitForExit(timeout: .seconds(30)) == 0)
        let log = try String(contentsOfFile: directory + "/stderr", encoding: .utf8)
        #expect(log.contains("the stdio client is gone"))
        close(input.write)
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func signalsShutDownCleanly(_ number: Int32) async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
        engine.signal(number)
        #expect(try await engine.waitForExit() == 0)
        try await engine.waitForLog(number == SIGTERM ? "reason=SIGTERM" : "reason=SIGINT")
    }

    @Test func stdioAndSocketTogether() async throws {
        let socketPath = TemporaryDirectory.make(prefix: "pushdoc-both") + "/e.sock"
        let engine = try PushdocProcess(["serve", "--stdio", "--socket", socketPath])
        try await engine.waitForLog("listening")
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
        let client = try RPCPeer(socketPath: socketPath)
        #expect(try await client.call("ping").string("result") == "pong")
        // `shutdown` from the socket client stops the whole engine.
        #expect(try await client.call("shutdown")["result"] != nil)
        #expect(try await engine.waitForExit() == 0)
    }

    @Test func aSecondEngineOnTheSameDataDirectoryRefusesToStart() async throws {
        let first = try PushdocProcess(["serve", "--stdio"])
        #expect(try await first.stdio.call("ping").string("result") == "pong")
        let second = try PushdocProcess(["serve", "--stdio"], dataDir: first.dataDir)
        #expect(try await second.waitForExit() == 1)
        let message = try await second.stderr.take { $0.hasPrefix("pushdoc:") }
        #expect(message.contains("is in use by another pushdoc engine (pid \(first.pid))"))
        #expect(try await first.stdio.call("ping").string("result") == "pong")
        first.stdio.closeWrite()
        #expect(try await first.waitForExit() == 0)
    }

    @Test func theDataDirectoryIsPrivateAndComplete() async throws {
        let parent = TemporaryDirectory.make(prefix: "pushdoc-dir")
        let dataDir = parent + "/nested/data"
        let engine = try PushdocProcess(["serve", "--stdio"], dataDir: dataDir)
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
        func mode(_ path: String) -> mode_t {
            var info = stat()
            stat(path, &info)
            return info.st_mode & 0o777
        }
        #expect(mode(dataDir) == 0o700)
        #expect(mode(dataDir + "/master.key") == 0o600)
        #expect(mode(dataDir + "/pushdoc.sqlite") == 0o600)
        engine.stdio.closeWrite()
        #expect(try await engine.waitForExit() == 0)
        // The key is not replaced at the next start.
        let key = try Data(contentsOf: URL(fileURLWithPath: dataDir + "/master.key"))
        let again = try PushdocProcess(["serve", "--stdio"], dataDir: dataDir)
        #expect(try await again.stdio.call("ping").string("result") == "pong")
        #expect(try Data(contentsOf: URL(fileURLWithPath: dataDir + "/master.key")) == key)
        again.stdio.closeWrite()
        #expect(try await again.waitForExit() == 0)
    }

    @Test func aCorruptedDatabaseStopsTheStartWithOneClearLine() async throws {
        let dataDir = TemporaryDirectory.make(prefix: "pushdoc-corrupt")
        _ = FileManager.default.createFile(
            atPath: dataDir + "/pushdoc.sqlite", contents: Data(repeating: 0x42, count: 64 * 1024))
        let engine = try PushdocProcess(["serve", "--stdio"], dataDir: dataDir)
        let status = try await engine.waitForExit()
        try await engine.stderr.waitForEnd()
        #expect(status == 1, "exit \(status): \(engine.stderr.pending)")
        let complaint = engine.stderr.pending.filter { $0.hasPrefix("pushdoc:") }
        #expect(complaint.count == 1)
        #expect(complaint.first?.contains("pushdoc.sqlite") == true)
        #expect(engine.stdio.lines.pending.isEmpty)
    }

    /// A clean stop seals the database; the next start skips the check on
    /// the unchanged file, and still refuses one damaged in between.
    @Test func aDatabaseDamagedWhileTheEngineIsStoppedIsStillRefused() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"])
        let dossiers = #"{"dossiers":[{"id":"d1","name":"Boulangerie","attributes":{"SIRET":"73282932000074"}}]}"#
        #expect(try await engine.stdio.call("catalog.upsertDossiers", dossiers)["result"] != nil)
        engine.stdio.closeWrite()
        #expect(try await engine.waitForExit() == 0)
        try await engine.waitForLog(#"msg="database sealed" check="PRAGMA quick_check""#)
        let databasePath = engine.dataDir + "/pushdoc.sqlite"
        #expect(FileManager.default.fileExists(atPath: databasePath + "-verified"))

        let again = try PushdocProcess(["serve", "--stdio"], dataDir: engine.dataDir)
        try await again.waitForLog(#"databaseCheck="unchanged since it was checked""#)
        again.stdio.closeWrite()
        #expect(try await again.waitForExit() == 0)

        // Every page but the header's, written over while no engine runs.
        let handle = try #require(FileHandle(forUpdatingAtPath: databasePath))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: 4096)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: Int(size) - 4096))
        try handle.close()
        let damaged = try PushdocProcess(["serve", "--stdio"], dataDir: engine.dataDir)
        #expect(try await damaged.waitForExit() == 1)
        try await damaged.stderr.waitForEnd()
        let complaint = damaged.stderr.pending.filter { $0.hasPrefix("pushdoc:") }
        #expect(complaint.count == 1)
        #expect(complaint.first?.contains("is corrupted") == true)
    }

    /// Each body of a group commit runs in a savepoint; SQLite would spill
    /// its undo journal past 64 KB into a file created and deleted in its
    /// temporary directory, at every such commit.
    @Test func commitsCreateNoTemporaryFiles() async throws {
        let temporary = TemporaryDirectory.make(prefix: "pushdoc-sqlite-tmp")
        let watch = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        #expect(watch >= 0)
        defer { close(watch) }
        #expect(inotify_add_watch(watch, temporary, UInt32(IN_CREATE)) >= 0)
        let engine = try PushdocProcess(["serve", "--stdio"], environment: ["SQLITE_TMPDIR": temporary])
        // Written twice: the second batch changes pages that were already there.
        for name in ["Dossier", "Renamed dossier"] {
            let dossiers = (0..<3000).map { #"{"id":"d\#($0)","name":"\#(name) \#($0)","attributes":{"SIRET":"73282932000074"}}"# }
            let answer = try await engine.stdio.call("catalog.upsertDossiers", #"{"dossiers":[\#(dossiers.joined(separator: ","))]}"#)
            #expect(answer.int("result", "upserted") == 3000)
        }
        engine.stdio.closeWrite()
        #expect(try await engine.waitForExit() == 0)
        var events = [UInt8](repeating: 0, count: 4096)
        #expect(read(watch, &events, events.count) == -1 && errno == EAGAIN, "SQLite created files in its temporary directory")
    }

    @Test func logsAreJSONOnStderrWhenAsked() async throws {
        let engine = try PushdocProcess(["serve", "--stdio", "--log-format", "json", "--log-level", "debug"])
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
        engine.stdio.closeWrite()
        #expect(try await engine.waitForExit() == 0)
        try await engine.stderr.waitForEnd()
        let records = try engine.stderr.pending.map { try JSONLine($0) }
        #expect(records.contains { $0.string("msg") == "engine started" && $0.string("level") == "info" })
        #expect(records.contains { $0.string("level") == "debug" })
        #expect(records.allSatisfy { $0.string("ts") != nil })
    }

    @Test func theLogLevelFilters() async throws {
        let engine = try PushdocProcess(["serve", "--stdio"], environment: ["PUSHDOC_LOG_LEVEL": "error"])
        #expect(try await engine.stdio.call("ping").string("result") == "pong")
        engine.stdio.closeWrite()
        #expect(try await engine.waitForExit() == 0)
        try await engine.stderr.waitForEnd()
        #expect(engine.stderr.pending.isEmpty)
    }
}
