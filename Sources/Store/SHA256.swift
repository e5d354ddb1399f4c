import CCrypto

/// SHA-256 fed piece by piece (OpenSSL). Not Sendable: one owner feeds it.
public final class SHA256 {
    private let context: OpaquePointer

    public init() {
        guard let context = pushdoc_sha256_new() else { fatalError("OpenSSL cannot create a SHA-256 context") }
        self.context = context
    }

    deinit { pushdoc_sha256_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        _ = pushdoc_sha256_update(context, bytes.baseAddress, bytes.count)
    }

    /// The digest in lower-case hex; the hasher is spent afterwards.
    public func finalize() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        _ = pushdoc_sha256_final(context, &digest)
        return Hex.encode(digest)
    }

    public static func hex<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let hasher = SHA256()
        Array(bytes).withUnsafeBytes { hasher.update($0) }
        return hasher.finalize()
    }
}
