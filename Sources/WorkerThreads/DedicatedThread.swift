import CLinux
import Glibc

/// Starts `body` on a detached thread of its own, named for `top -H` and
/// `perf` (15 bytes at most). Returns false when no thread could be made
/// (a thread limit): the caller then gives up what it would have served.
/// Named from inside the thread: Foundation's `Thread.current.name` was seen
/// naming another thread than the one asking.
public func startThread(named name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
    makeThread(named: name, detached: true, body) != nil
}

/// The same, for a thread that its owner joins (`pthread_join`) to know it
/// has ended; nil when no thread could be made.
func startJoinableThread(named name: String, _ body: @escaping @Sendable () -> Void) -> pthread_t? {
    makeThread(named: name, detached: false, body)
}

private func makeThread(named name: String, detached: Bool, _ body: @escaping @Sendable () -> Void) -> pthread_t? {
    final class Work: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
    let work = Unmanaged.passRetained(Work(name: String(name.utf8.prefix(15))!, body: body))
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(detached ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE))
    var thread = pthread_t()
    let status = pthread_create(&thread, &attributes, { argument in
        let work = Unmanaged<Work>.fromOpaque(argument!).takeRetainedValue()
        _ = pushdoc_set_thread_name(work.name)
        work.body()
        return nil
    }, work.toOpaque())
    guard status == 0 else {
        work.release()
        return nil
    }
    return thread
}
