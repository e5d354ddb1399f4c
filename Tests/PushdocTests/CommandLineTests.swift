import Foundation
import Glibc
import TestSupport
import Testing

/// The command line: options, their PUSHDOC_* variables, and
/// the one-line refusal of a bad value.
struct CommandLineTests {
    @Test(arguments: [
        (["serve", "--stdio", "--workers", "abc"], [:], "--workers"),
        (["serve", "--stdio", "--workers", "0"], [:], "--workers"),
        (["serve", "--stdio"], ["PUSHDOC_WORKERS": "many"], "PUSHDOC_WORKERS"),
        (["serve", "--stdio", "--timezone", "Mars/Olympus"], [:], "--timezone"),
        (["serve", "--stdio", "--inqom-api-url", "ftp://x"], [:], "--inqom-api-url"),
        (["serve", "--stdio", "--retry-delays", "1,,2"], [:], "--retry-delays"),
        (["serve", "--stdio", "--retry-delays", "0"], [:], "--retry-delays"),
        (["serve", "--stdio", "--inqom-max-rps", "-1"], [:], "--inqom-max-rps"),
        (["serve", "--stdio", "--inqom-stall-seconds", "0"], [:], "--inqom-stall-seconds"),
        (["serve", "--stdio", "--max-file-bytes", "10X"], [:], "--max-file-bytes"),
        (["serve", "--stdio", "--files-root", "/does/not/exist"], [:], "--files-root"),
        (["serve", "--stdio", "--shutdown-grace", "soon"], [:], "--shutdown-grace"),
        (["serve", "--stdio", "--max-message-bytes", "12"], [:], "--max-message-bytes"),
        (["serve", "--stdio", "--allow-uid", "root"], [:], "--allow-uid"),
        (["serve", "--socket", "/tmp/pushdoc-never.sock", "--allow-uid", "65534"], [:], "--allow-uid requires --files-root"),
        (["serve", "--stdio", "--smtp-url", "http://mail"], [:], "--smtp-url"),
        (["serve", "--stdio", "--smtp-from", "not an address"], [:], "--smtp-from"),
        (["serve", "--stdio", "--smtp-url", "smtp://mail.example.com", "--smtp-allow-plain-auth"], [:], "--smtp-allow-plain-auth"),
        (["serve", "--stdio", "--smtp-url", "smtp://127.0.0.1", "--smtp-ca-file", "/no/such.pem"], [:], "--smtp-ca-file"),
        (["serve", "--stdio", "--inqom-api-url", "http://api.example.com"], [:], "--inqom-api-url"),
        (["serve", "--stdio", "--inqom-auth-url", "http://10.0.0.1:8080"], [:], "--inqom-auth-url"),
        (["serve", "--stdio", "--digest-at", "7h"], [:], "--digest-at"),
        (["serve", "--stdio", "--digest-at", "24:00"], [:], "--digest-at"),
        (["serve", "--stdio", "--log-level", "loud"], [:], "--log-level"),
        (["serve", "--stdio"], ["PUSHDOC_LOG_FORMAT": "xml"], "PUSHDOC_LOG_FORMAT"),
        (["serve", "--stdio"], ["PUSHDOC_STDIO": "maybe"], "PUSHDOC_STDIO"),
        (["serve", "--stdio", "--no-such-option"], [:], "--no-such-option"),
        (["serve"], [:], "nothing to serve"),
        (["serve", "--stdio"], ["PUSHDOC_ALLOW_UID": "1001,abc"], "PUSHDOC_ALLOW_UID"),
        (["serve", "--stdio"], ["PUSHDOC_MASTER_KEY": "c2hvcnQtc2VjcmV0"], "PUSHDOC_MASTER_KEY: expected 32 bytes"),
        (["serve", "--stdio", "--store", "mysql://u:c2hvcnQtc2VjcmV0@db/x"], [:], "--store: expected sqlite or a postgres:// URI"),
        (["serve", "--stdio"], ["PUSHDOC_STORE": "c2hvcnQtc2VjcmV0"], "PUSHDOC_STORE: expected sqlite"),
        (["serve", "--stdio", "--store", "postgresql://u:c2hvcnQtc2VjcmV0@127.0.0.1/x"], [:], "set PUSHDOC_MASTER_KEY or --master-key-file"),
        (["serve", "--stdio", "--lease-seconds", "1"], [:], "--lease-seconds"),
        (["serve", "--stdio", "--node-id", "a b"], [:], "--node-id"),
    ] as [([String], [String: String], String)])
    func aBadValueStopsTheStartWithOneLineAndExitCode2(
        arguments: [String], environment: [String: String], mention: String
    ) async throws {
        let engine = try PushdocProcess(arguments, environment: environment)
        #expect(try await engine.waitForExit() == 2)
        try await engine.stderr.waitForEnd()
        try await engine.stdio.lines.waitForEnd()
        #expect(engine.stderr.pending.count == 1)
        #expect(engine.stderr.pending.first?.hasPrefix("pushdoc: ") == true)
        #expect(engine.stderr.pending.first?.contains(mention) == true, "\(engine.stderr.pending)")
        // A secret given in the environment is never repeated.
        #expect(engine.stderr.pending.first?.contains("c2hvcnQtc2VjcmV0") == false)
        #expect(engine.stdio.lines.totalBytes == 0)
    }

    /// A data directory or key that is not the engine's user's own, or a
    /// key others may read, stops a real start with one line and touches nothing.
    @Test func aDataDirectoryNotTheEnginesOwnStopsTheStart() async throws {
        let parent = TemporaryDirectory.make(prefix: "pushdoc-foreign")
        mkdir(parent + "/foreign", 0o700)
        chown(parent + "/foreign", 65534, 65534)
        mkdir(parent + "/loose-key", 0o700)
        _ = FileManager.default.createFile(atPath: parent + "/loose-key/master.key", contents: Data(repeating: 7, count: 32))
        chmod(parent + "/loose-key/master.key", 0o644)
        symlink(parent + "/loose-key", parent + "/linked")
        for (directory, mention) in [
            ("foreign", "belongs to uid 65534"), ("loose-key", "may be read by others"), ("linked", "is a symbolic link"),
        ] {
            let engine = try PushdocProcess(["serve", "--stdio", "--data-dir", parent + "/" + directory])
            #expect(try await engine.waitForExit() == 1)
            try await engine.stderr.waitForEnd()
            let lines = engine.stderr.pending.filter { $0.hasPrefix("pushdoc:") }
            #expect(lines.count == 1 && lines.first?.contains(mention) == true, "\(directory): \(engine.stderr.pending)")
            #expect(!FileManager.default.fileExists(atPath: parent + "/" + directory + "/pushdoc.sqlite"))
        }
    }

    @Test func optionsComeFromTheEnvironmentAndTheCommandLineWins() async throws {
        let dataDir = TemporaryDirectory.make(prefix: "pushdoc-env")
        let engine = try PushdocProcess(
            ["serve", "--max-message-bytes", "2K"], environment: ["PUSHDOC_STDIO": "1", "PUSHDOC_DATA_DIR": dataDir, "PUSHDOC_MAX_MESSAGE_BYTES": "1M"],
            addDataDir: false)
        let initialize = try await engine.stdio.call("initialize")
        #expect(initialize.int("result", "capabilities", "maxMessageBytes") == 2048)
        #expect(FileManager.default.fileExists(atPath: dataDir + "/pushdoc.sqlite"))
        engine.stdio.closeWrite()
        #expect(try await engine.waitForExit() == 0)
    }

    @Test func versionAndHelp() async throws {
        for arguments in [["version"], ["--version"]] {
            let version = try PushdocProcess(arguments)
            #expect(try await version.waitForExit() == 0)
            #expect(try await version.stdio.lines.take().hasPrefix("pushdoc 0."))
        }
        for arguments in [["--help"], ["serve", "--help"]] {
            let help = try PushdocProcess(arguments)
            #expect(try await help.waitForExit() == 0)
            try await help.stdio.lines.waitForEnd()
            let text = help.stdio.lines.pending.joined(separator: "\n")
            #expect(text.contains("USAGE"))
            #expect(text.contains(arguments.count == 1 ? "serve" : "--retry-delays"))
            if arguments.count == 2 { #expect(text.contains("~/.local/share/pushdoc")) }
        }
    }
}
