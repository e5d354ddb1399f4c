import Foundation
import Glibc
import TestSupport
import Testing

/// `pushdoc serve --socket PATH` with real clients on a real Unix socket.
struct SocketTests {
    let directory = TemporaryDirectory.make(prefix: "pushdoc-sock")
    var socketPath: String { directory + "/engine.sock" }

    private func startEngine(_ extra: [String] = []) async throws -> PushdocProcess {
        try await PushdocProcess.listening(on: socketPath, extra)
    }

    /// Stops the engine as an administrator would and checks it exits cleanly.
    private func stop(_ engine: PushdocProcess) async throws {
        engine.signal(SIGTERM)
        #expect(try await engine.waitForExit() == 0)
    }

    private func mode(_ path: String) -> mode_t {
        var info = stat()
        lstat(path, &info)
        return info.st_mode & 0o777
    }

    @Test func theSocketIsPrivateAndServes() async throws {
        let engine = try await startEngine()
        #expect(mode(socketPath) == 0o600)
        let client = try RPCPeer(socketPath: socketPath)
        #expect(try await client.call("ping").string("result") == "pong")
        engine.signal(SIGTERM)
        #expect(try await engine.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: socketPath))
    }

    /// A socket file whose engine died: bound, then abandoned.
    private func leaveStaleSocket() {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(socketPath.utf8) + [0]) }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(fd)
    }

    @Test func aStaleSocketFileIsReplaced() async throws {
        leaveStaleSocket()
        #expect(FileManager.default.fileExists(atPath: socketPath))
        let engine = try await startEngine()
        #expect(try await RPCPeer(socketPath: socketPath).call("ping").string("result") == "pong")
        try await stop(engine)
    }

    @Test func aLiveSocketIsRefused() async throws {
        let first = try await startEngine()
        let second = try PushdocProcess(["serve", "--socket", socketPath])
        #expect(try await second.waitForExit() == 1)
        let message = try await second.stderr.take { $0.hasPrefix("pushdoc:") }
        #expect(message.contains("another engine is already listening on \(socketPath)"))
        #expect(try await RPCPeer(socketPath: socketPath).call("ping").string("result") == "pong")
        try await stop(first)
    }

    @Test func aFileThatIsNotASocketIsLeftAlone() async throws {
        _ = FileManager.default.createFile(atPath: socketPath, contents: Data("keep me".utf8))
        let dataDir = directory + "/never-created"
        let engine = try PushdocProcess(["serve", "--socket", socketPath, "--data-dir", dataDir])
        #expect(try await engine.waitForExit() == 1)
        #expect(try String(contentsOfFile: socketPath, encoding: .utf8) == "keep me")
        // Refused before anything else: no data directory, no "engine started".
        #expect(!FileManager.default.fileExists(atPath: dataDir))
        try await engine.stderr.waitForEnd()
        #expect(engine.stderr.pending.count == 1, "\(engine.stderr.pending)")
    }

    /// Another user's socket where the engine's should be (squatted before
    /// it started, or left by that user) is never replaced.
    @Test func anotherUsersSocketIsRefused() async throws {
        leaveStaleSocket()
        chown(socketPath, 65534, 65534)
        let engine = try PushdocProcess(["serve", "--socket", socketPath])
        #expect(try await engine.waitForExit() == 1)
        let message = try await engine.stderr.take { $0.hasPrefix("pushdoc:") }
        #expect(message.contains("is a socket of uid 65534"), "\(message)")
        var info = stat()
        #expect(lstat(socketPath, &info) == 0 && info.st_uid == 65534)
    }

    @Test func manyClientsAtOnceEachGetTheirOwnAnswers() async throws {
        let engine = try await startEngine()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for clientNumber in 0..<24 {
                group.addTask {
                    let client = try RPCPeer(socketPath: socketPath)
                    var lines = ""
                    for request in 0..<50 {
                        lines += #"{"jsonrpc":"2.0","id":"c\#(clientNumber)-\#(request)","method":"ping"}"# + "\n"
                    }
                    client.write(Array(lines.utf8))
                    var seen = Set<String>()
                    for _ in 0..<50 {
                        let answer = try await client.next()
                        #expect(answer.string("result") == "pong")
                        seen.insert(answer.string("id") ?? "")
                    }
                    #expect(seen == Set((0..<50).map { "c\(clientNumber)-\($0)" }))
                }
            }
            try await group.waitForAll()
        }
        try await stop(engine)
    }

    @Test func aClientThatHalfClosesStillGetsItsAnswers() async throws {
        let engine = try await startEngine()
        let client = try RPCPeer(socketPath: socketPath)
        client.send(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        client.send(#"{"jsonrpc":"2.0","id":2,"method":"initialize"}"#)
        client.closeWrite()
        _ = try await client.response(id: 1)
        _ = try await client.response(id: 2)
        try await client.lines.waitForEnd()
        try await stop(engine)
    }

    @Test func aClientVanishingMidStreamHarmsNobody() async throws {
        let engine = try await startEngine()
        let steady = try RPCPeer(socketPath: socketPath)
        for round in 0..<5 {
            let vanishing = try RPCPeer(socketPath: socketPath)
            var lines = ""
            for request in 0..<2000 {
                lines += #"{"jsonrpc":"2.0","id":\#(request),"method":"rpc.discover"}"# + "\n"
            }
            vanishing.write(Array(lines.utf8))
            vanishing.disconnect()
            #expect(try await steady.call("ping").string("result") == "pong", "round \(round)")
        }
        try await stop(engine)
    }

    @Test func peersOfAnotherUIDAreRefusedUnlessAllowed() async throws {
        let engine = try await startEngine()
        #expect(try runAsNobody(connectingTo: socketPath).contains("peer_not_allowed"))
        let allowedPath = directory + "/allowed.sock"
        let allowing = try PushdocProcess(["serve", "--socket", allowedPath, "--allow-uid", "65534", "--files-root", directory])
        try await allowing.waitForLog("listening")
        // Open to every uid at the file: the peer check is the gate.
        #expect(mode(allowedPath) == 0o666)
        #expect(try runAsNobody(connectingTo: allowedPath).contains(#""result":"pong""#))
        try await stop(engine)
        try await stop(allowing)
    }

    /// Connects as uid 65534 (kept able to reach the root-owned 0600 socket
    /// through CAP_DAC_OVERRIDE, so that only SO_PEERCRED can refuse it),
    /// sends a ping and returns what came back.
    private func runAsNobody(connectingTo path: String) throws -> String {
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX)
            s.connect(sys.argv[1])
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\\n')
            s.settimeout(10)
            print(s.recv(4096).decode())
            """
        return try ChildProcess.run(
            "/usr/bin/setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=+dac_override",
                "--ambient-caps=+dac_override", "python3", "-c", script, path,
            ]
        ).output
    }
}
