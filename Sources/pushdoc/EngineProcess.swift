import CLinux
import Dispatch
import Engine
import Foundation
import Glibc
import JSONRPC
import Logging
import PushdocRPC
import StderrLog
import Synchronization
import WorkerThreads

/// Runs the engine for `pushdoc serve`: opens it, starts the transports, and
/// shuts down cleanly on `shutdown`, end of stdin, SIGTERM or SIGINT.
struct EngineProcess {
    let settings: ServeSettings

    func run() -> Never {
        let level = settings.logLevel
        let format = settings.logFormat
        LoggingSystem.bootstrap { StderrLogHandler(label: $0, level: level, format: format) }
        let logger = Logger(label: "pushdoc")
        // Whatever the engine creates (database, spool, key) is its user's alone.
        umask(0o077)
        // No core dump, and no other process of the user reading this one's
        // memory through ptrace or /proc: they would hold the master key.
        _ = pushdoc_set_dumpable(0)
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
        var listener: UnixSocketListener?
        if let path = settings.socketPath {
            do {
                listener = try UnixSocketListener(
                    path: path, allowedUIDs: settings.allowedUIDs, maxConnections: settings.maxConnections)
            } catch {
                Self.fail("cannot start: \(error)")
            }
        }
        let engine: Engine
        // Start-up work, from the main thread, which may block.
        switch awaitFromThread({ [settings] in
            try await Engine(configuration: settings.engine, environment: settings.environment, logger: logger)
        }) {
        case .success(let opened): engine = opened
        case .failure(let error):
            listener?.stop()
            Self.fail("cannot start: \(error)")
        }
        let stop = ShutdownTrigger()
        let table = PushdocMethods.table(engine: engine, maxMessageBytes: settings.maxMessageBytes) {
            stop.fire("shutdown request")
        }
        let server = RPCServer(table: table, maxMessageBytes: settings.maxMessageBytes, logger: logger)
        if let listener {
            listener.start(server: server)
            logger.info("listening", metadata: ["socket": "\(listener.path)"])
        }
        if settings.stdio {
            StdioTransport.start(server: server) { stop.fire("the stdio client is gone") }
        }
        let signals = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.fire(number == SIGTERM ? "SIGTERM" : "SIGINT") }
            source.resume()
            return source
        }
        engine.startSending()
        let reason = stop.wait()
        logger.info("shutting down", metadata: ["reason": "\(reason)"])
        server.beginShutdown()
        engine.stopWaiting()
        listener?.stop()
        // One grace for everything under way: uploads and requests alike.
        let grace = settings.engine.shutdownGrace
        let deadline = ContinuousClock.now + grace
        _ = awaitFromThread { await engine.stopSending(by: deadline) }
        if !server.waitUntilIdle(deadline: deadline) {
            logger.warning("requests still running after the shutdown grace", metadata: ["grace": "\(grace)"])
        }
        // Answers still queued go out as their clients read them, within the grace.
        let flushed = DispatchSemaphore(value: 0)
        Task {
            await server.flushAll()
            flushed.signal()
        }
        if flushed.wait(timeout: .now() + .milliseconds(Int(max(deadline - .now, .milliseconds(500)) / .milliseconds(1))))
            == .timedOut
        {
            logger.warning("answers left unsent at shutdown: their clients were not reading")
        }
        _ = awaitFromThread { await engine.sealDatabase() }
        if !engine.stopThreads(waitingUntil: .now() + .seconds(1)) {
            logger.warning("a transfer or file thread was still busy at exit")
        }
        signals.forEach { $0.cancel() }
        logger.info("stopped")
        StderrLogHandler.flush()
        // Replies and logs are flushed, commits durable: leave without running
        // process-wide destructors under threads that are still alive.
        _exit(0)
    }

    static func fail(_ message: String) -> Never {
        StderrLogHandler.flush()
        FileHandle.standardError.write(Data("pushdoc: \(message)\n".utf8))
        _exit(1)
    }
}

/// Fires once, from whichever of its sources comes first; the main thread
/// waits on it.
final class ShutdownTrigger: Sendable {
    private let reason = Mutex<String?>(nil)
    private let semaphore = DispatchSemaphore(value: 0)

    func fire(_ why: String) {
        let first = reason.withLock { reason -> Bool in
            guard reason == nil else { return false }
            reason = why
            return true
        }
        if first { semaphore.signal() }
    }

    func wait() -> String {
        semaphore.wait()
        return reason.withLock { $0 ?? "" }
    }
}
