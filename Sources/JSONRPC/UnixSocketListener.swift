import Foundation
import Glibc

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

    /// Binds the socket; clients wait in the backlog until `start`. Made
    /// before the engine opens its data directory, so that a start that
    /// cannot listen changes nothing.
    public init(path: String, allowedUIDs: Set<uid_t>) throws(Failure) {
        self.path = path
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
        Thread {
            Thread.current.name = "pd-accept"
            self.acceptLoop(server: server)
        }.start()
    }

    /// Stops accepting and removes the socket file; connected clients finish.
    public func stop() {
        Glibc.shutdown(listeningFD, Int32(SHUT_RDWR))
        unlink(path)
    }

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
            Thread {
                Thread.current.name = "pd-\(name)"
                self.serveClient(client, name: name, server: server)
            }.start()
        }
        close(listeningFD)
    }

    private func serveClient(_ fd: Int32, name: String, server: RPCServer) {
        defer { close(fd) }
        let output = OutputChannel(fd: fd, isSocket: true)
        let uid = Self.peerUID(fd)
        if uid == nil || !allowedUIDs.contains(uid!) {
            let who = uid.map { "uid \($0)" } ?? "a peer whose uid cannot be read"
            server.logger.warning("peer refused", metadata: ["connection": "\(name)", "uid": "\(uid.map { "\($0)" } ?? "unknown")"])
            let error = ResponseError(
                code: .peerNotAllowed, reason: "peer_not_allowed",
                message: "\(who) may not use this engine (see --allow-uid)")
            output.write(OutgoingMessage.error(id: .null, error: error))
            output.flush()
            Self.lingerUntilPeerCloses(fd)
            return
        }
        server.serve(name: name, input: fd, output: output)
    }

    /// Closing with unread input sends a reset that can destroy the refusal
    /// before the peer reads it: half-close, then drain (a second at most).
    private static func lingerUntilPeerCloses(_ fd: Int32) {
        Glibc.shutdown(fd, Int32(SHUT_WR))
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sink = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<64 {
            let count = sink.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return }
        }
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
