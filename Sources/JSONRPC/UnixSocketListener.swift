import Foundation
import Glibc
import Synchronization
import WorkerThreads

/// Serves many clients on a Unix domain socket, one thread per connection.
/// The socket file is 0600 from the moment it exists (0666 when other uids
/// are allowed: the peer check is then the gate); a stale file left by a
/// dead engine of the same user is replaced, a live engine's, or another
/// user's, is refused; peers whose uid is neither ours, nor root, nor allowed
/// — or whose uid cannot be read — are turned away (SO_PEERCRED).
public final class UnixSocketListener: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let path: String
    private let listeningFD: Int32
    private let allowedUIDs: Set<uid_t>
    public let maxConnections: Int
    private let open = Atomic<Int>(0)
    private let refusals = Refusals()

    /// Binds the socket; clients wait in the backlog until `start`. Made
    /// before the engine opens its data directory, so that a start that
    /// cannot listen changes nothing.
    public init(path: String, allowedUIDs: Set<uid_t>, maxConnections: Int = 256) throws(Failure) {
        self.path = path
        self.maxConnections = maxConnections
        let opensToOthers = !allowedUIDs.subtracting([geteuid(), 0]).isEmpty
        self.allowedUIDs = allowedUIDs.union([geteuid(), 0])
        var address = try Self.address(for: path)
        try Self.removeStaleSocket(at: path, address: address)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "cannot create a socket: \(Self.lastError())") }
        // The umask makes bind create the file with its final mode: no moment
        // where others may connect unless they are allowed to.
        let previousMask = umask(opensToOthers ? 0o111 : 0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(previousMask)
        guard bound == 0, listen(fd, 128) == 0 else {
            let error = Self.lastError()
            close(fd)
            throw Failure(description: "cannot listen on \(path): \(error)")
        }
        self.listeningFD = fd
    }

    /// Accepts clients for `server` on a thread of its own until `stop()`.
    public func start(server: RPCServer) {
        let started = startThread(named: "pd-accept") { self.acceptLoop(server: server) }
        precondition(started, "no thread could be started to accept clients")
    }

    /// Stops accepting and removes the socket file; connected clients finish.
    public func stop() {
        Glibc.shutdown(listeningFD, Int32(SHUT_RDWR))
        unlink(path)
    }

    /// Each peer is checked here, before anything is spent on it: a refused
    /// uid, or one past `maxConnections`, gets one error line and is closed
    /// by the shared refusals thread; the others get a thread of their own.
    private func acceptLoop(server: RPCServer) {
        var number = 0
        while true {
            let client = accept(listeningFD, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno == EMFILE || errno == ENFILE {
                    server.logger.error("too many open files: waiting before accepting again")
                    usleep(100_000)
                    continue
                }
                break
            }
            // Not inherited by processes the engine may start.
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            number += 1
            let name = "socket#\(number)"
            let uid = Self.peerUID(client)
            guard let uid, allowedUIDs.contains(uid) else {
                server.logger.warning("peer refused", metadata: ["connection": "\(name)", "uid": "\(uid.map { "\($0)" } ?? "unknown")"])
                refusals.refuse(
                    client,
                    ResponseError(
                        code: .peerNotAllowed, reason: "peer_not_allowed",
                        message: "\(uid.map { "uid \($0)" } ?? "a peer whose uid cannot be read") may not use this engine (see --allow-uid)"))
                continue
            }
            guard open.add(1, ordering: .relaxed).newValue <= maxConnections else {
                open.subtract(1, ordering: .relaxed)
                server.logger.warning("connection refused: too many", metadata: ["connection": "\(name)", "limit": "\(maxConnections)"])
                refusals.refuse(
                    client,
                    ResponseError(
                        code: .tooManyConnections, reason: "too_many_connections",
                        message: "the engine serves \(maxConnections) connections at most (--max-connections): try again later"))
                continue
            }
            let started = startThread(named: "pd-\(name)") {
                server.serve(name: name, input: client, output: OutputChannel(fd: client, isSocket: true))
                close(client)
                self.open.subtract(1, ordering: .relaxed)
            }
            if !started {
                server.logger.error("no thread for a new connection: closed", metadata: ["connection": "\(name)"])
                close(client)
                open.subtract(1, ordering: .relaxed)
            }
        }
        close(listeningFD)
    }

    /// `struct ucred` is not visible through Glibc; its layout is fixed.
    private struct PeerCredentials {
        var pid: pid_t = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
    }

    private static func peerUID(_ fd: Int32) -> uid_t? {
        var credentials = PeerCredentials()
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return nil }
        return credentials.uid
    }

    private static func address(for path: String) throws(Failure) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity, !bytes.contains(0) else {
            throw Failure(description: "socket path must be 1 to \(capacity - 1) bytes: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return address
    }

    private static func removeStaleSocket(at path: String, address: sockaddr_un) throws(Failure) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw Failure(description: "\(path) exists and is not a socket: not replacing it")
        }
        guard info.st_uid == geteuid() else {
            throw Failure(
                description: "\(path) is a socket of uid \(info.st_uid), not the engine's user: not replacing it "
                    + "(keep the socket in a directory only the engine's user can write)")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(probe) }
        var target = address
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if connected == 0 {
            throw Failure(description: "another engine is already listening on \(path)")
        }
        unlink(path)
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
