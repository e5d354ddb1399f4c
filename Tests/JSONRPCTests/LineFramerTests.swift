import Testing

@testable import JSONRPC

struct LineFramerTests {
    /// Feeds `chunks` and returns the frames as text, `<oversized>` for a discarded line.
    private func frames(_ chunks: [String], maxBytes: Int = 100, finish: Bool = false) -> [String] {
        var framer = LineFramer(maxBytes: maxBytes)
        var result: [String] = []
        let collect: (LineFramer.Frame) -> Void = { frame in
            switch frame {
            case .line(let bytes): result.append(String(decoding: bytes, as: UTF8.self))
            case .oversized: result.append("<oversized>")
            }
        }
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBufferPointer { framer.feed($0, emit: collect) }
        }
        if finish { framer.finish(emit: collect) }
        return result
    }

    @Test func splitsOnNewlinesAcrossChunks() {
        #expect(frames(["a\nb", "c\n", "d"]) == ["a", "bc"])
        #expect(frames(["a\nb", "c\n", "d"], finish: true) == ["a", "bc", "d"])
    }

    @Test func acceptsCRLFAndSkipsBlankLines() {
        #expect(frames(["one\r\n\r\n\n  \ntwo\r", "\n"]) == ["one", "two"])
    }

    @Test func discardsAnOversizedLineOnceAndKeepsGoing() {
        let long = String(repeating: "x", count: 250)
        #expect(frames(["ok\n", long + "\n", "after\n"]) == ["ok", "<oversized>", "after"])
        // Spread over many chunks, reported once, the next line intact.
        let pieces = Array(repeating: String(repeating: "y", count: 30), count: 10)
        #expect(frames(pieces + ["\nnext\n"]) == ["<oversized>", "next"])
        // Exactly at the limit is fine, with or without `\r`.
        let exact = String(repeating: "z", count: 100)
        #expect(frames([exact + "\r\n", exact + "\n"]) == [exact, exact])
    }

    @Test func neverHoldsMoreThanTheLimit() {
        var framer = LineFramer(maxBytes: 1000)
        let chunk = [UInt8](repeating: 0x61, count: 300)
        var oversized = 0
        for _ in 0..<100 {
            chunk.withUnsafeBufferPointer {
                framer.feed($0) { if case .oversized = $0 { oversized += 1 } }
            }
            #expect(framer.bufferedByteCount <= 1001)
        }
        #expect(oversized == 1)
    }
}
