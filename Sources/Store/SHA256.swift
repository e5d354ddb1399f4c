import CCrypto

/// SHA-256 fed piece by piece (OpenSSL). Not Sendable: one owner feeds it.
public final class SHA256 {
    private let context: OpaquePointer

    public init() {
        guard let context = pushdoc_sha256_new() else { fatalError("OpenSSL cannot create a SHA-256 context") }
        self.context = context
    }

    deinit { pushdoc_sha256_free(context) }

    // OpenSSL fails these only on a broken context: a digest of what was not
    // hashed must never identify a document, so that stops the engine.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard pushdoc_sha256_update(context, bytes.baseAddress, bytes.count) == 1 else {
            fatalError("OpenSSL refused to hash \(bytes.count) bytes")
        }
    }

    /// The digest in lower-case hex; the hasher is spent afterwards.
    public func finalize() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        guard pushdoc_sha256_final(context, &digest) == 1 else { fatalError("OpenSSL could not finish a SHA-256 digest") }
        return Hex.encode(digest)
    }

    public static func hex<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let hasher = SHA256()
        Array(bytes).withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }
}
