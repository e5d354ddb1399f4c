import Foundation
import Glibc

/// A real SMTP server on loopback (`Tests/SMTPSink/smtp_sink.py`, aiosmtpd)
/// that keeps every message it receives, parsed by Python's email package.
public final class SMTPSink: Sendable {
    public let port: Int
    public let directory: String
    private let process: ChildProcess
    /// Held open for the sink's life: when it closes, the sink exits.
    private let stdinWriter: Int32

    /// `auth` ("user:password") makes the server require SMTP AUTH;
    /// `startTLS` (certificate and key files) makes it offer STARTTLS.
    public init(auth: String? = nil, startTLS: (certificate: String, key: String)? = nil) async throws {
        directory = TemporaryDirectory.make(prefix: "smtp-sink")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SMTPSink/smtp_sink.py").path
        let input = try makePipe(), output = try makePipe()
        defer { for end in [input.read, output.write] { close(end) } }
        do {
            process = try ChildProcess(
                "python3",
                [script, "--dir", directory, "--exit-with-stdin"] + (auth.map { ["--auth", $0] } ?? [])
                    + (startTLS.map { ["--starttls", $0.certificate, $0.key] } ?? []),
                input: input.read, output: output.write)
        } catch {
            for end in [input.write, output.read] { close(end) }
            throw error
        }
        self.stdinWriter = input.write
        let lines = LineStream(fd: output.read)
        guard let port = try JSONLine(try await lines.take(timeout: .seconds(20))).int("port") else {
            throw PeerError(description: "the SMTP sink did not announce its port")
        }
        self.port = port
    }

    deinit {
        process.signal(SIGKILL)
        close(stdinWriter)
    }

    public var url: String { "smtp://127.0.0.1:\(port)" }

    /// One entry per AUTH the server received: "tls" or "clear".
    public func authentications() -> [String] {
        let log = (try? String(contentsOfFile: directory + "/auth.log", encoding: .utf8)) ?? ""
        return log.split(separator: "\n").map(String.init)
    }

    /// The messages received so far, oldest first.
    public func messages() throws -> [JSONLine] {
        try (FileManager.default.contentsOfDirectory(atPath: directory)).filter { $0.hasSuffix(".json") }.sorted().map {
            try JSONLine(String(contentsOfFile: directory + "/" + $0, encoding: .utf8))
        }
    }

    /// Waits until `count` messages have arrived.
    public func waitForMessages(_ count: Int, timeout: Duration = .seconds(20)) async throws -> [JSONLine] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let received = try messages()
            if received.count >= count { return received }
            if ContinuousClock.now > deadline {
                throw PeerError(description: "\(received.count) messages of \(count) after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
