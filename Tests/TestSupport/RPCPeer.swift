import Foundation
import Glibc
import Synchronization

/// The client side of one JSON-RPC connection: writes lines to one file
/// descriptor, reads the engine's lines from another.
public final class RPCPeer: Sendable {
    public let lines: LineStream
    private let writeFD: Int32
    private let isSocket: Bool
    private let nextID = Atomic<Int>(1000)
    private let writeClosed = Atomic<Bool>(false)

    public init(readFD: Int32, writeFD: Int32, isSocket: Bool) {
        // Writing to a peer that died must fail the write, not kill the tests.
        signal(SIGPIPE, SIG_IGN)
        self.lines = LineStream(fd: readFD, closeWhenDone: !isSocket)
        self.writeFD = writeFD
        self.isSocket = isSocket
    }

    /// Connects to a Unix socket.
    public convenience init(socketPath: String) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(socketPath.utf8) + [0]) }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard status == 0 else {
            let error = String(cString: strerror(errno))
            close(fd)
            throw PeerError(description: "cannot connect to \(socketPath): \(error)")
        }
        self.init(readFD: fd, writeFD: fd, isSocket: true)
    }

    /// Writes the bytes as they are (add the `\n` yourself).
    public func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                isSocket
                    ? Glibc.send(writeFD, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                    : Glibc.write(writeFD, $0.baseAddress, $0.count)
            }
            guard written > 0 else { return }
            offset += written
        }
    }

    public func send(_ line: String) { write(Array((line + "\n").utf8)) }

    /// Sends a request and awaits the response with its id.
    public func call(_ method: String, _ params: String? = nil, timeout: Duration = .seconds(20)) async throws -> JSONLine {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let paramsPart = params.map { #","params":\#($0)"# } ?? ""
        send(#"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)"\#(paramsPart)}"#)
        return try await response(id: id, timeout: timeout)
    }

    /// Awaits the response whose id is this number.
    public func response(id: Int, timeout: Duration = .seconds(20)) async throws -> JSONLine {
        try await take(timeout: timeout) { ($0.id as? NSNumber)?.intValue == id && $0["method"] == nil }
    }

    /// Awaits the next line that parses and matches.
    public func take(timeout: Duration = .seconds(20), where matches: @escaping @Sendable (JSONLine) -> Bool)
        async throws -> JSONLine
    {
        let line = try await lines.take(timeout: timeout) { text in
            (try? JSONLine(text)).map(matches) ?? false
        }
        return try JSONLine(line)
    }

    /// Awaits the next line, whatever it is.
    public func next(timeout: Duration = .seconds(20)) async throws -> JSONLine {
        try JSONLine(try await lines.take(timeout: timeout))
    }

    /// Half-closes (socket) or closes (pipe) the writing side.
    public func closeWrite() {
        guard !writeClosed.exchange(true, ordering: .relaxed) else { return }
        if isSocket { Glibc.shutdown(writeFD, Int32(SHUT_WR)) } else { close(writeFD) }
    }

    /// Closes the connection entirely, as a client that vanishes.
    public func disconnect() {
        if isSocket { Glibc.shutdown(writeFD, Int32(SHUT_RDWR)) }
        closeWrite()
    }
}

public struct PeerError: Error, CustomStringConvertible {
    public let description: String

    public init(description: String) {
        self.description = description
    }
}
