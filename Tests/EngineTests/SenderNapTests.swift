import Foundation
import Testing

@testable import Engine

/// How long the sender's loop naps when it claimed nothing: to the next
/// planned attempt as seen at its turn, whatever time the turn took, and
/// never a spin on a document it cannot claim.
struct SenderNapTests {
    private let turn = (wall: Date(timeIntervalSince1970: 1_000_000), elapsed: Duration.seconds(50))

    @Test func aNapEndsAtTheNextAttemptCountedFromTheTurnsReading() {
        let next = turn.wall.addingTimeInterval(0.25)
        // However long the turn's claim took, the deadline is the same: time that passed is not slept again.
        for elapsed in [turn.elapsed, turn.elapsed + .milliseconds(100), turn.elapsed + .seconds(2)] {
            #expect(Sender.napEnd(next: next, turn: turn, elapsed: elapsed) == turn.elapsed + .milliseconds(250))
        }
    }

    @Test func aNapIsASecondAtMost() {
        #expect(Sender.napEnd(next: turn.wall.addingTimeInterval(600), turn: turn, elapsed: turn.elapsed) == turn.elapsed + .seconds(1))
        #expect(Sender.napEnd(next: nil, turn: turn, elapsed: turn.elapsed + .milliseconds(3)) == turn.elapsed + .seconds(1))
    }

    @Test func anAttemptDueAtTheTurnAndNotClaimedGetsAPauseFromNow() {
        let now = turn.elapsed + .milliseconds(40)
        for next in [turn.wall, turn.wall.addingTimeInterval(-30)] {
            #expect(Sender.napEnd(next: next, turn: turn, elapsed: now) == now + Sender.duePause)
        }
    }
}
