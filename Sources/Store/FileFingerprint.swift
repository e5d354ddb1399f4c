import Glibc

/// A 256-bit fingerprint of a file's bytes, fast enough to read a large
/// database at every start: several times faster than `PRAGMA
/// quick_check` or a SHA-256 of the same bytes. It guards against accidents — bit rot, a torn or foreign write — not
/// against someone forging a file, who could as well forge the record of it.
///
/// Four lanes take the file's 8-byte words in turn; each step
/// `lane = rotl(lane + word × p2, 31) × p1` is a bijection of the word and
/// of the lane, so a change confined to one word always changes its lane's
/// end state, and two changes cancel with odds of about 2⁻⁶⁴.
public struct FileFingerprint: Equatable, Sendable, CustomStringConvertible {
    public let size: Int64
    private let lanes: [UInt64]

    public var description: String {
        "\(size):" + Hex.encode(lanes.flatMap { lane in (0..<8).map { UInt8(truncatingIfNeeded: lane >> (8 * $0)) } })
    }

    /// Reads the whole file; nil when it cannot be read.
    public init?(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let capacity = 1 << 20  // whole stripes
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        defer { buffer.deallocate() }
        var state = Lanes()
        var size: Int64 = 0
        while true {
            var filled = 0
            while filled < capacity {
                let count = read(fd, buffer + filled, capacity - filled)
                if count < 0, errno == EINTR { continue }
                guard count >= 0 else { return nil }
                if count == 0 { break }
                filled += count
            }
            size += Int64(filled)
            // The end of the file: its last stripe padded with zeros.
            let padded = (filled + Lanes.stripe - 1) / Lanes.stripe * Lanes.stripe
            (buffer + filled).initializeMemory(as: UInt8.self, repeating: 0, count: padded - filled)
            state.absorb(UnsafeRawPointer(buffer), stripes: padded / Lanes.stripe)
            if filled < capacity { break }
        }
        self.size = size
        self.lanes = [state.a, state.b, state.c, state.d].map { $0 ^ UInt64(bitPattern: size) }
    }

    /// Parses `description`.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let size = Int64(parts[0]), parts[1].utf8.count == 64 else { return nil }
        let digits = Array(parts[1].utf8)
        var lanes: [UInt64] = []
        for lane in 0..<4 {
            var value: UInt64 = 0
            for byte in (0..<8).reversed() {
                let offset = (lane * 8 + byte) * 2
                guard let high = Self.nibble(digits[offset]), let low = Self.nibble(digits[offset + 1]) else { return nil }
                value = value << 8 | UInt64(high << 4 | low)
            }
            lanes.append(value)
        }
        self.size = size
        self.lanes = lanes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private struct Lanes {
        static let stripe = 32
        private static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
        private static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F

        var a: UInt64 = 0x243F_6A88_85A3_08D3
        var b: UInt64 = 0x1319_8A2E_0370_7344
        var c: UInt64 = 0xA409_3822_299F_31D0
        var d: UInt64 = 0x082E_FA98_EC4E_6C89

        @inline(__always)
        private static func step(_ lane: UInt64, _ word: UInt64) -> UInt64 {
            let mixed = lane &+ word &* p2
            return (mixed << 31 | mixed >> 33) &* p1
        }

        mutating func absorb(_ bytes: UnsafeRawPointer, stripes: Int) {
            var (a, b, c, d) = (a, b, c, d)
            for index in 0..<stripes {
                let at = bytes + index * Self.stripe
                a = Self.step(a, at.loadUnaligned(as: UInt64.self))
                b = Self.step(b, at.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                c = Self.step(c, at.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
                d = Self.step(d, at.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            }
            (self.a, self.b, self.c, self.d) = (a, b, c, d)
        }
    }
}
