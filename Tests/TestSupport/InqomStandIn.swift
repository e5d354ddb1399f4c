import Foundation
import Glibc

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The project's Inqom stand-in (`Tests/InqomStandIn/inqom_standin.py`),
/// started on a free loopback port with a world of accounts and folders.
public final class InqomStandIn: Sendable {
    public let url: URL
    /// What the stand-in printed on stderr (Python tracebacks, if any).
    public let stderr: LineStream
    private let process: ChildProcess
    /// Held open for the stand-in's life: when it closes, the stand-in exits.
    private let stdinWriter: Int32

    /// For benchmarks that read its CPU time.
    public var pid: Int32 { process.pid }

    public static let clientID = "mcf-pushdoc"
    public static let clientSecret = "cs-4f1e-standin"
    public static let login = "cabinet@example.fr"
    public static let password = "Mot de passe 1!"

    public struct Folder: Sendable {
        public let id: Int64
        public let name: String
        public let siren: String?
        public let nic: String?

        public init(id: Int64, name: String, siren: String?, nic: String?) {
            self.id = id
            self.name = name
            self.siren = siren
            self.nic = nic
        }
    }

    /// A further Inqom login, seeing only `folders` (another firm's account).
    public struct Account: Sendable {
        public let login: String
        public let password: String
        public let folders: [Int64]

        public init(login: String, password: String, folders: [Int64]) {
            self.login = login
            self.password = password
            self.folders = folders
        }
    }

    public static let defaultFolders = [
        Folder(id: 11287, name: "BOULANGERIE MARTIN", siren: "732829320", nic: "74"),
        Folder(id: 11288, name: "HÔTEL DU PORT", siren: "552100554", nic: "00013"),
    ]

    public static var scriptPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("InqomStandIn/inqom_standin.py").path
    }

    /// `password` and `clientSecret` replace the usual ones (tests that
    /// hunt for leaked secrets pass canaries). With `otherAccounts`, the
    /// usual login sees only the folders none of them sees.
    public init(
        folders: [Folder] = defaultFolders, tokenLifetime: Int = 3600, maxUploadBytes: Int64? = nil,
        password: String = password, clientSecret: String = clientSecret, otherAccounts: [Account] = []
    ) async throws {
        let theirs = Set(otherAccounts.flatMap(\.folders))
        var usual: [String: Any] = ["username": Self.login, "password": password]
        if !otherAccounts.isEmpty { usual["folders"] = folders.map(\.id).filter { !theirs.contains($0) } }
        let directory = TemporaryDirectory.make(prefix: "inqom-standin")
        var world: [String: Any] = [
            "clients": [["id": Self.clientID, "secret": clientSecret]],
            "accounts": [usual] + otherAccounts.map { ["username": $0.login, "password": $0.password, "folders": $0.folders] },
            "folders": folders.map { folder -> [String: Any] in
                ["Id": folder.id, "Name": folder.name, "Siren": folder.siren ?? NSNull(), "Nic": folder.nic ?? NSNull(),
                 "CompanyId": 28000 + folder.id % 1000, "Status": "Active", "ExternalId": NSNull()]
            },
            "tokenLifetime": tokenLifetime,
        ]
        if let maxUploadBytes { world["maxUploadBytes"] = maxUploadBytes }
        let worldPath = directory + "/world.json"
        try JSONSerialization.data(withJSONObject: world).write(to: URL(fileURLWithPath: worldPath))
        let input = try makePipe(), output = try makePipe(), errors = try makePipe()
        defer { for end in [input.read, output.write, errors.write] { close(end) } }
        do {
            // Its own stderr: an inherited one would keep the test runner's pipe open.
            process = try ChildProcess(
                "python3", [Self.scriptPath, "--world", worldPath, "--exit-with-stdin"],
                input: input.read, output: output.write, errors: errors.write)
        } catch {
            for end in [input.write, output.read, errors.read] { close(end) }
            throw error
        }
        self.stdinWriter = input.write
        self.stderr = LineStream(fd: errors.read)
        let lines = LineStream(fd: output.read)
        let first = try await lines.take(timeout: .seconds(20))
        guard let announced = try JSONLine(first).string("url"), let url = URL(string: announced) else {
            throw PeerError(description: "the stand-in did not announce its URL: \(first)")
        }
        self.url = url
    }

    deinit {
        process.signal(SIGKILL)
        close(stdinWriter)
    }

    /// Calls the control API and returns its JSON answer.
    @discardableResult
    public func control(_ path: String, _ body: [String: Any]? = nil) async throws -> JSONLine {
        var request = URLRequest(url: url.appending(path: "_standin/" + path))
        if let body {
            request.httpMethod = "POST"
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
        let (data, _) = try await URLSession.shared.data(for: request)
        return try JSONLine(String(decoding: data, as: UTF8.self))
    }

    /// The next `count` requests of `kind` get this fault.
    public func inject(_ kind: String, count: Int = 1, _ fault: [String: Any]) async throws {
        try await control("faults", fault.merging(["kind": kind, "count": count]) { $1 })
    }

    /// Once `count` requests held by a `"hold"` fault are waiting.
    public func waitUntilHeld(_ count: Int) async throws {
        let held = try await control("wait-held", ["count": count, "timeout": 60]).int("held") ?? 0
        guard held >= count else { throw PeerError(description: "\(held) requests held after 60 s, not \(count)") }
    }

    /// Lets every held request go on.
    public func release() async throws {
        _ = try await control("release", [:])
    }

    public func uploads() async throws -> [[String: Any]] {
        try await control("uploads").array as? [[String: Any]] ?? []
    }

    /// Every access token issued so far.
    public func tokens() async throws -> [String] {
        try await control("tokens").array as? [String] ?? []
    }

    public func stats() async throws -> [String: Int] {
        try await control("stats").object as? [String: Int] ?? [:]
    }
}
