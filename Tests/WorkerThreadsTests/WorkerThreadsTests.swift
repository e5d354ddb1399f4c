import Foundation
import Synchronization
import Testing
import WorkerThreads

struct WorkerThreadsTests {
    /// Threads of this process whose name starts with `prefix`.
    private func threads(named prefix: String) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            let name = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
            return name.hasPrefix(prefix)
        }.count
    }

    private static func nameOfThisThread() -> String {
        let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
        return name.trimmingCharacters(in: .newlines)
    }

    @Test func everyJobGivenBeforeStopRunsThenTheThreadsEnd() {
        let pool = WorkerThreads(name: "wt-stop", count: 3) { Self.nameOfThisThread() }
        #expect(threads(named: "wt-stop") == 0, "threads start with the first job")
        let ran = Mutex<[Int]>([])
        let contexts = Mutex<Set<String>>([])
        // Three jobs that hold their threads until all three run: every thread is up and named.
        let started = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        for _ in 0..<3 {
            pool.submit { _ in
                started.signal()
                gate.wait()
            }
        }
        for _ in 0..<3 { started.wait() }
        #expect(threads(named: "wt-stop") == 3)
        for _ in 0..<3 { gate.signal() }
        for index in 0..<200 {
            pool.submit { context in
                usleep(100)
                ran.withLock { $0.append(index) }
                contexts.withLock { _ = $0.insert(context) }
            }
        }
        pool.stop()
        #expect(ran.withLock { $0.sorted() } == Array(0..<200))
        // Each thread made its context once, on itself.
        #expect(contexts.withLock { $0 }.isSubset(of: ["wt-stop-0", "wt-stop-1", "wt-stop-2"]))
        #expect(threads(named: "wt-stop") == 0)
    }

    @Test func aJobGivenAfterStopStillRuns() async {
        let pool = WorkerThreads<Int>(name: "wt-late", count: 2) { 7 }
        pool.submit { _ in }
        pool.stop()
        let context = await withCheckedContinuation { continuation in
            pool.submit { continuation.resume(returning: $0) }
        }
        #expect(context == 7)
    }

    @Test func stopWithoutAnyJobStartsNoThread() {
        let pool = WorkerThreads(name: "wt-idle", count: 4) {}
        pool.stop()
        #expect(threads(named: "wt-idle") == 0)
    }
}
