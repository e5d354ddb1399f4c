import CCrypto

/// Seals secrets at rest with AES-256-GCM under the master key. A sealed
/// value is nonce (12 bytes) | ciphertext | tag (16 bytes); a wrong key or
/// any altered byte fails to open, never yields garbage.
public struct SecretBox: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let key: [UInt8]

    public init(key: [UInt8]) {
        precondition(key.count == 32, "AES-256 needs a 32-byte key")
        self.key = key
    }

    public func seal(_ plaintext: [UInt8]) throws(Failure) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 12)
        guard pushdoc_random_bytes(&nonce, 12) == 1 else { throw Failure(description: "no random bytes for a nonce") }
        var cipher = [UInt8](repeating: 0, count: plaintext.count)
        var tag = [UInt8](repeating: 0, count: 16)
        let sealed = plaintext.withUnsafeBufferPointer { plain in
            pushdoc_aes256gcm_seal(key, nonce, plain.baseAddress, Int32(plain.count), &cipher, &tag)
        }
        guard sealed == 1 else { throw Failure(description: "encryption failed") }
        return nonce + cipher + tag
    }

    public func open(_ sealed: [UInt8]) throws(Failure) -> [UInt8] {
        guard sealed.count >= 28 else { throw Failure(description: "sealed secret too short: damaged") }
        let nonce = Array(sealed[0..<12])
        let cipher = Array(sealed[12..<(sealed.count - 16)])
        let tag = Array(sealed[(sealed.count - 16)...])
        var plain = [UInt8](repeating: 0, count: cipher.count)
        let opened = cipher.withUnsafeBufferPointer { cipherBuffer in
            pushdoc_aes256gcm_open(key, nonce, cipherBuffer.baseAddress, Int32(cipherBuffer.count), tag, &plain)
        }
        guard opened == 1 else {
            throw Failure(description: "stored secret cannot be opened: wrong master key, or the data was altered")
        }
        return plain
    }
}
