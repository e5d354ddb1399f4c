import Foundation
import Glibc
import Store

/// Where an accepted document's bytes are kept until Inqom has them. On
/// SQLite the spool file is the durable copy; with PostgreSQL every engine
/// may send any document, so the bytes are in the database, and the spool
/// only stages them at intake.
protocol DocumentBytes: Sendable {
    /// The spool file stays the document's, named in its row, until Inqom
    /// has the bytes; otherwise it is released once the row is stored.
    var keepsSpoolFile: Bool { get }
    /// Keeps the spooled bytes of `document`, stored as `seq`, inside the
    /// transaction that stores its row, and runs `along` (the transaction's
    /// last statements) with the last write: one round trip less.
    func keep(_ document: NewDocument, seq: Int64, on connection: any SQLConnection, along: [SQLStatement]) throws
    /// A file holding the bytes of `document` for its upload; nil when they
    /// are nowhere (which must never happen). Blocking.
    func file(for document: Outgoing) throws -> UploadSource?
}

/// The file an upload reads.
struct UploadSource {
    let path: String
    /// Written for this upload alone: removed once the attempt is over.
    let isCopy: Bool
}

/// The spool alone: its file is the document's durable copy.
struct SpooledBytes: DocumentBytes {
    let spool: Spool
    var keepsSpoolFile: Bool { true }

    func keep(_ document: NewDocument, seq: Int64, on connection: any SQLConnection, along: [SQLStatement]) throws {
        try connection.runTogether(along)
    }

    func file(for document: Outgoing) throws -> UploadSource? {
        document.spoolName.map { UploadSource(path: spool.path(of: $0), isCopy: false) }
    }
}

/// The bytes in the database, in parts of 1 MiB written and read one at a
/// time (a large document never whole in memory). Whichever engine sends
/// a document writes a copy from the database for each attempt: the spool
/// file that staged it at intake is released once its row is stored, so
/// that no engine's spool keeps what another engine sent.
struct DatabaseBytes: DocumentBytes {
    let spool: Spool
    /// Where the copies uploads read are written.
    let copies: String
    let storage: any StoreAccess
    var keepsSpoolFile: Bool { false }
    static let partSize = 1 << 20

    func keep(_ document: NewDocument, seq: Int64, on connection: any SQLConnection, along: [SQLStatement]) throws {
        let descriptor = open(spool.path(of: document.spoolName), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw EngineError.storageUnavailable(detail: "the spooled document cannot be read") }
        defer { close(descriptor) }
        let parts = max(1, (document.size + Int64(Self.partSize) - 1) / Int64(Self.partSize))
        // A small document's one part, not a whole part's worth of zeroes.
        var buffer = [UInt8](repeating: 0, count: Int(min(Int64(Self.partSize), max(1, document.size))))
        for part in 0..<parts {
            let count = try Self.fill(&buffer, from: descriptor)
            guard count == min(Int64(buffer.count), document.size - part * Int64(Self.partSize)) else {
                throw EngineError.storageUnavailable(detail: "the spooled document is not the size it was given")
            }
            let write = SQLStatement(
                "INSERT INTO document_parts (document_seq, part, bytes) VALUES (?, ?, ?)",
                [.integer(seq), .integer(part), .blob(Array(buffer[0..<count]))])
            if part < parts - 1 {
                try connection.run(write)
            } else {
                try connection.runTogether([write] + along)
            }
        }
    }

    func file(for document: Outgoing) throws -> UploadSource? {
        let copy = copies + "/" + UUID().uuidString
        let descriptor = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw EngineError.storageUnavailable(detail: "cannot write a copy of the document's bytes") }
        defer { close(descriptor) }
        var part: Int64 = 0
        var complete = false
        defer { if !complete { unlink(copy) } }
        // Each part straight from libpq's answer into the file, in a transaction of its own.
        while try storage.writeBlocking({ [part] connection in
            try connection.withFirstBytes(
                "SELECT bytes FROM document_parts WHERE document_seq = ? AND part = ?", [.integer(document.seq), .integer(part)]
            ) { bytes in
                guard let bytes else { return false }
                try Self.write(bytes, to: descriptor)
                return true
            }
        }) {
            part += 1
        }
        guard part > 0 else { return nil }
        complete = true
        return UploadSource(path: copy, isCopy: true)
    }

    /// Reads until `buffer` is full or the file ends; says how many bytes.
    private static func fill(_ buffer: inout [UInt8], from descriptor: Int32) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw EngineError.storageUnavailable(detail: "the spooled document cannot be read") }
            if count == 0 { break }
            filled += count
        }
        return filled
    }

    private static func write(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) throws {
        var written = 0
        while written < bytes.count {
            let count = Glibc.write(descriptor, bytes.baseAddress! + written, bytes.count - written)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw EngineError.storageUnavailable(detail: "cannot write the document's bytes in the spool") }
            written += count
        }
    }
}
