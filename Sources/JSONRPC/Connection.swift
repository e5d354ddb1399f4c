import Glibc
import JSONSafety
import Logging
import Synchronization
import WorkerThreads

/// One client's session: reads lines on its own thread, answers each
/// request through the server's method table, and writes replies through
/// its `OutputChannel`. Requests run concurrently; replies may leave out of
/// order, each carrying the id it answers.
public final class Connection: Sendable {
    /// A request or notification under way; a notification has no id and no reply.
    private struct Tracked {
        let id: RequestID?
        let task: Task<Void, Never>
        let reply: ReplySink?
    }

    public let name: String
    public let output: OutputChannel
    let server: RPCServer
    private let inFlight = Mutex<[UInt64: Tracked]>([:])
    /// Wakes the reader out of `poll`; `readerWaits` says whether a request
    /// that ends must (the reader waits for room, or for the last request).
    private let wakeup = Wakeup()
    private let readerWaits = Atomic<Bool>(false)
    /// Reading paused at the in-flight limit, until half of it is answered.
    private let paused = Atomic<Bool>(false)
    /// Bytes of an unfinished line held by the reader.
    private let framedBytes = Atomic<Int>(0)
    private let nextToken = Atomic<UInt64>(0)
    private let closeHandlers = Mutex<[@Sendable () -> Void]>([])

    init(name: String, output: OutputChannel, server: RPCServer) {
        self.name = name
        self.output = output
        self.server = server
        output.attach { [wakeup] in wakeup.signal() }
    }

    /// Runs `handler` when the client has gone (its input ended and its
    /// requests are answered).
    public func onClose(_ handler: @escaping @Sendable () -> Void) {
        closeHandlers.withLock { $0.append(handler) }
    }

    /// Sends a notification (no id) to this client.
    public func notify(method: String, params: RawJSON) {
        output.write(OutgoingMessage.notification(method: method, params: params))
    }

    /// Reads `input` until end of file, answering every message, on this
    /// connection's own thread (it blocks: run it on a thread of its own).
    /// One `poll` waits for input, for room to send queued answers, and for
    /// wake-ups from requests that end. Returns once every request read has
    /// been answered and sent, or the peer is gone, or a line stayed
    /// unfinished too long; says the most its buffers held at once.
    func serve(input: Int32, onEndOfInput: @Sendable () -> Void) -> Int {
        var framer = LineFramer(maxBytes: server.maxMessageBytes)
        let chunkSize = 1 << 16
        let chunk = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: chunkSize)
        defer { chunk.deallocate() }
        let handleFrame: (LineFramer.Frame) -> Void = { frame in
            self.waitForRoom()
            switch frame {
            case .line(let line): self.receive(line)
            case .oversized:
                self.server.logger.warning(
                    "message over the size limit discarded",
                    metadata: ["connection": "\(self.name)", "limit": "\(self.server.maxMessageBytes)"])
                self.output.write(
                    OutgoingMessage.error(
                        id: .null,
                        error: .invalidRequest("message longer than \(self.server.maxMessageBytes) bytes")))
            }
        }
        var inputOpen = true
        var framed = 0
        var lineStarted: ContinuousClock.Instant?
        var pauseBegan: ContinuousClock.Instant?
        var heldAtMost = 0
        while !output.isBroken {
            if !inputOpen, inFlight.withLock({ $0.isEmpty }), output.backlog == 0 { break }
            let room = inputOpen ? roomToRead() : nil
            let reading = room == .free
            // An unfinished line's time does not run while the engine's own
            // requests hold reading back: that pause is not the client's delay.
            let engineHoldsBack = room == .requestsUnderWay
            if engineHoldsBack {
                pauseBegan = pauseBegan ?? .now
            } else if let began = pauseBegan {
                lineStarted = lineStarted.map { $0 + (.now - began) }
                pauseBegan = nil
            }
            let deadline = engineHoldsBack ? nil : lineStarted.map { $0 + server.unfinishedLineTimeout }
            let readable = waitForEvents(input: inputOpen ? input : nil, reading: reading, deadline: deadline)
            if let deadline, ContinuousClock.now >= deadline {
                server.logger.warning(
                    "line unfinished for too long: connection closed",
                    metadata: ["connection": "\(name)", "timeout": "\(server.unfinishedLineTimeout)"])
                break
            }
            guard readable else { continue }
            let count = read(input, chunk.baseAddress, chunkSize)
            if count < 0, errno == EINTR || errno == EAGAIN { continue }
            guard count > 0 else {
                inputOpen = false
                lineStarted = nil
                framer.finish(emit: handleFrame)
                onEndOfInput()
                // From now on the last request to end wakes the reader.
                readerWaits.store(true, ordering: .sequentiallyConsistent)
                continue
            }
            output.hold()
            framer.feed(UnsafeBufferPointer(rebasing: chunk[0..<count]), emit: handleFrame)
            output.release()
            let held = framer.reservedByteCount
            heldAtMost = max(heldAtMost, held + output.backlog)
            if held > framed { server.budget.add(held - framed) } else { server.budget.remove(framed - held) }
            framed = held
            framedBytes.store(held, ordering: .relaxed)
            lineStarted = framer.bufferedByteCount == 0 ? nil : (lineStarted ?? .now)
        }
        server.budget.remove(framed)
        cancelAll()
        // What could not be sent is dropped, and given back to the budget.
        output.markBroken()
        // Taken, not copied: a handler that holds this connection must not keep it alive.
        for handler in closeHandlers.withLock({ $0.drain() }) { handler() }
        return heldAtMost
    }

    /// Waits for one of: input to read (when `reading`), room to send queued
    /// answers (then sends them), a wake-up, the peer gone, or `deadline`.
    /// Says whether input is ready to read.
    private func waitForEvents(input: Int32?, reading: Bool, deadline: ContinuousClock.Instant?) -> Bool {
        let outputFD = output.descriptor
        let sending = output.isAwaitingRoom
        let inputEvents = reading ? Int16(POLLIN) : 0
        let outputEvents = sending ? Int16(POLLOUT) : 0
        var watched = [pollfd(fd: wakeup.fd, events: Int16(POLLIN), revents: 0)]
        if let input, input == outputFD {
            // A socket is watched even when neither read nor written: its hang-up ends the connection.
            watched.append(pollfd(fd: input, events: inputEvents | outputEvents, revents: 0))
        } else {
            if let input, reading { watched.append(pollfd(fd: input, events: inputEvents, revents: 0)) }
            if sending { watched.append(pollfd(fd: outputFD, events: outputEvents, revents: 0)) }
        }
        guard poll(&watched, nfds_t(watched.count), pollTimeout(until: deadline)) > 0 else { return false }
        if watched[0].revents != 0 { wakeup.clear() }
        var readable = false
        for entry in watched.dropFirst() {
            if entry.fd == outputFD {
                if entry.revents & Int16(POLLOUT) != 0 { output.sendQueued() }
                // Gone (an error, or a hang-up with nothing left to read): nobody reads answers.
                let gone = entry.revents & Int16(POLLERR) != 0
                    || (entry.revents & Int16(POLLHUP) != 0 && entry.revents & Int16(POLLIN) == 0)
                if gone { output.markBroken() }
            }
            if entry.fd == input, reading, entry.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { readable = true }
        }
        return readable
    }

    /// Unread answers past which a connection's reading pauses.
    static let backlogLimit = 8 << 20
    /// Requests under way per connection before its reading pauses: enough
    /// to keep group commits full, few enough to bound memory.
    static let inFlightLimit = 256
    /// Reading resumes once this few are under way: one wake-up per half
    /// limit of answers, not one per answer.
    static let resumeAt = inFlightLimit / 2

    /// A connection holding less than this is read even when the server's
    /// budget is spent: those who filled it wait, the others are served.
    static let smallHolding = 64 << 10

    /// Whether another message may be read, and if not, who holds reading back.
    enum Room {
        case free
        /// The engine: `inFlightLimit` requests under way (after a pause, half of it).
        case requestsUnderWay
        /// The client: its answers unread, or the server's buffer budget spent
        /// while this connection holds more than a little.
        case buffersFull
    }

    private func room() -> Room {
        let running = inFlight.withLock { $0.count }
        if paused.load(ordering: .relaxed) {
            guard running <= Self.resumeAt else { return .requestsUnderWay }
            paused.store(false, ordering: .relaxed)
        } else if running >= Self.inFlightLimit {
            paused.store(true, ordering: .relaxed)
            return .requestsUnderWay
        }
        let backlog = output.backlog
        guard backlog <= Self.backlogLimit else { return .buffersFull }
        let fits = !server.budget.isExhausted || backlog + framedBytes.load(ordering: .relaxed) < Self.smallHolding
        return fits ? .free : .buffersFull
    }

    /// Says the room to read; when there is none, a request that ends wakes
    /// the reader to look again.
    private func roomToRead() -> Room {
        if case .free = room() {
            readerWaits.store(false, ordering: .sequentiallyConsistent)
            return .free
        }
        readerWaits.store(true, ordering: .sequentiallyConsistent)
        // Looked at again after saying so: a request ending in between wakes the wait.
        let now = room()
        if case .free = now { readerWaits.store(false, ordering: .sequentiallyConsistent) }
        return now
    }

    /// Before each message: a client that does not read its replies is not
    /// read either, nor one with `inFlightLimit` requests under way, so that
    /// memory stays bounded. Meanwhile its queued answers are sent as it
    /// reads them. The answers held for this chunk leave first.
    private func waitForRoom() {
        guard room() != .free else { return }
        output.release()
        defer { output.hold() }
        while !output.isBroken, roomToRead() != .free {
            _ = waitForEvents(input: nil, reading: false, deadline: nil)
        }
    }

    /// Requests ended, `remaining` still under way: wakes a reader waiting
    /// for room, or for the last request after its input ended.
    private func requestsEnded(remaining: Int) {
        if remaining <= Self.resumeAt, readerWaits.load(ordering: .sequentiallyConsistent) { wakeup.signal() }
    }

    /// Wakes the reader, to look at its room again.
    func wake() { wakeup.signal() }

    /// The most elements a batch may hold; each counts as a request.
    public static let maxBatch = 1_000

    func receive(_ line: UnsafeBufferPointer<UInt8>) {
        switch JSONValidator.validate(line, maxDepth: RPCServer.maxDepth) {
        case .invalid(let detail):
            output.write(OutgoingMessage.error(id: .null, error: .parseError(detail)))
            return
        case .tooDeep:
            output.write(
                OutgoingMessage.error(id: .null, error: .invalidRequest("nested deeper than \(RPCServer.maxDepth) levels")))
            return
        case .valid:
            break
        }
        let message = RawJSON(validated: Array(line))
        guard message.kind == .array else {
            dispatch(Incoming(message), reply: .single(output))
            return
        }
        let elements = message.elements()
        guard !elements.isEmpty else {
            output.write(OutgoingMessage.error(id: .null, error: .invalidRequest("empty batch")))
            return
        }
        guard elements.count <= Self.maxBatch else {
            let error = ResponseError(
                code: .invalidRequest, reason: "batch_too_large",
                message: "Invalid request: a batch holds at most \(Self.maxBatch) elements, not \(elements.count)")
            output.write(OutgoingMessage.error(id: .null, error: error))
            return
        }
        let batch = BatchReply(count: elements.count, output: output)
        for (index, element) in elements.enumerated() {
            if index > 0 { waitForRoom() }
            dispatch(Incoming(element), reply: .batch(batch, index))
        }
    }

    private func dispatch(_ incoming: Incoming, reply: ReplySink) {
        let request: Request
        switch incoming {
        case .invalid(let id, let error):
            reply.deliver(OutgoingMessage.error(id: id, error: error))
            return
        case .request(let valid):
            request = valid
        }
        guard let handler = server.table.handler(for: request.method) else {
            reply.deliver(request.id.map { OutgoingMessage.error(id: $0, error: .methodNotFound(request.method)) })
            return
        }
        guard server.isAcceptingWork || request.method == CancelRequest.name else {
            reply.deliver(request.id.map { OutgoingMessage.error(id: $0, error: .shuttingDown) })
            return
        }
        let context = RequestContext(id: request.id, connection: self)
        switch handler {
        case .immediate(let body):
            // Counted until delivered: a `shutdown` answered here must reach
            // the output before the engine waits for idleness and exits.
            server.taskStarted()
            let answer: Result<RawJSON, any Error> = Result { try body(request.params, context) }
            reply.deliver(request.id.map { self.response(to: $0, with: answer) })
            context.followUps.run()
            server.taskEnded()
        case .concurrent(let body):
            runConcurrently(request, context: context, reply: reply, body: body)
        }
    }

    private func runConcurrently(
        _ request: Request, context: RequestContext, reply: ReplySink,
        body: @escaping @Sendable (RawJSON?, RequestContext) async throws -> RawJSON
    ) {
        server.taskStarted()
        let work: @Sendable () async -> Result<RawJSON, any Error> = {
            do { return .success(try await body(request.params, context)) } catch { return .failure(error) }
        }
        let id = request.id
        if id == nil { reply.deliver(nil) }
        let token = nextToken.add(1, ordering: .relaxed).newValue
        let started = ContinuousClock.now
        inFlight.withLock { tracked in
            // Created under the lock: the task's own removal waits for this insertion.
            let task = Task {
                let answer = await work()
                let (finished, remaining) = self.inFlight.withLock { ($0.removeValue(forKey: token), $0.count) }
                if let finished {
                    if let id { finished.reply?.deliver(self.response(to: id, with: answer)) }
                    context.followUps.run()
                    self.requestsEnded(remaining: remaining)
                }
                self.server.logger.trace(
                    "request done",
                    metadata: [
                        "method": "\(request.method)", "id": "\(id.map { "\($0)" } ?? "none")",
                        "elapsed": "\(ContinuousClock.now - started)",
                    ])
                self.server.taskEnded()
            }
            tracked[token] = Tracked(id: id, task: task, reply: id == nil ? nil : reply)
        }
    }

    private func response(to id: RequestID, with answer: Result<RawJSON, any Error>) -> [UInt8] {
        switch answer {
        case .success(let result):
            return OutgoingMessage.result(id: id, result: result)
        case .failure(let error):
            let wireError = server.table.responseError(for: error)
            if wireError.code == .internalError {
                server.logger.error("request failed", metadata: ["id": "\(id)", "error": "\(error)"])
            }
            return OutgoingMessage.error(id: id, error: wireError)
        }
    }

    /// Ends the running requests with this id at once with `-32800`.
    func cancel(_ id: RequestID) {
        let cancelled = inFlight.withLock { tracked in
            let matching = tracked.filter { $0.value.id?.matches(id) == true }
            for token in matching.keys { tracked.removeValue(forKey: token) }
            return Array(matching.values)
        }
        for request in cancelled {
            request.task.cancel()
            if let requestID = request.id { request.reply?.deliver(OutgoingMessage.error(id: requestID, error: .cancelled)) }
        }
    }

    private func cancelAll() {
        let all = inFlight.withLock { tracked in
            defer { tracked.removeAll() }
            return Array(tracked.values)
        }
        for request in all { request.task.cancel() }
    }
}

/// Where a reply goes: straight out, or into its slot of a batch reply.
enum ReplySink: Sendable {
    case single(OutputChannel)
    case batch(BatchReply, Int)

    /// `nil` records that a notification needs no reply.
    func deliver(_ bytes: [UInt8]?) {
        switch self {
        case .single(let output):
            if let bytes { output.write(bytes) }
        case .batch(let batch, let index):
            batch.fill(index, with: bytes)
        }
    }
}

/// Collects the replies of one batch and sends them as one array once the
/// last one is in; a batch of notifications only sends nothing.
final class BatchReply: Sendable {
    private let slots: Mutex<(replies: [[UInt8]?], remaining: Int)>
    private let output: OutputChannel

    init(count: Int, output: OutputChannel) {
        self.slots = Mutex((Array(repeating: nil, count: count), count))
        self.output = output
    }

    func fill(_ index: Int, with bytes: [UInt8]?) {
        let complete = slots.withLock { slots -> [[UInt8]]? in
            slots.replies[index] = bytes
            slots.remaining -= 1
            return slots.remaining == 0 ? slots.replies.compactMap { $0 } : nil
        }
        if let complete, !complete.isEmpty {
            output.write(OutgoingMessage.batch(complete))
        }
    }
}
