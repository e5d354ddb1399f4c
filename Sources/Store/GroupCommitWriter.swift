import Dispatch
import Synchronization

/// The writing connection, shared by concurrent writers through group
/// commit: the bodies that arrive while a commit is syncing run together in
/// the next transaction, each inside its own savepoint, and that one commit
/// (one fsync) makes them all durable. A body that throws is rolled back
/// alone; a commit that fails fails every body of its group. Nobody is
/// answered before the commit that holds their work. One serial queue
/// commits every group: whoever writes, the writing is done in one place.
final class GroupCommitWriter: @unchecked Sendable {
    // @unchecked: `connection` is used only on `queue`, the one committer.
    private let connection: SQLiteConnection
    private let queue: DispatchQueue
    private let pending = Mutex<(jobs: [Job], draining: Bool)>(([], false))

    /// A group bounds how long its first body waits for the commit, and how
    /// long a sender recording an outcome waits behind a burst of intake;
    /// 32 documents sharing one fsync keeps intake well above the disk's
    /// own commit rate.
    static let maximumGroup = 32

    /// A body in a group: `run` says how it went (nil: it succeeded), then
    /// `finish` is told whether its work was lost (the error why) or is
    /// durable (nil).
    private struct Job: Sendable {
        let run: @Sendable (SQLiteConnection) -> (any Error)?
        let finish: @Sendable ((any Error)?) -> Void
        /// A caller blocked on its thread until the commit (`writeBlocking`).
        var isBlocking = false
        /// Runs by itself, outside any transaction (`alone`).
        var isAlone = false
    }

    init(_ connection: SQLiteConnection, label: String) {
        self.connection = connection
        self.queue = DispatchQueue(label: label)
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit(job(body, then: { continuation.resume(with: $0) }))
        }
    }

    /// The same from a thread that may block (never a cooperative one): it
    /// waits for the commit that holds its body.
    func writeBlocking<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) throws -> T {
        let committed = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        var job = job(body) { outcome in
            result.withLock { $0 = outcome }
            committed.signal()
        }
        job.isBlocking = true
        submit(job)
        committed.wait()
        return try result.withLock { $0! }.get()
    }

    /// Bodies waiting for a group, for tests.
    var pendingCount: Int { pending.withLock { $0.jobs.count } }

    /// Runs `body` by itself, outside any transaction, after the writes
    /// queued before it and before those queued after: for work such as a
    /// checkpoint that a transaction would forbid.
    func alone<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            var job = job(body, then: { continuation.resume(with: $0) })
            job.isAlone = true
            submit(job)
        }
    }

    private func job<T: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection) throws -> T, then answer: @escaping @Sendable (Result<T, any Error>) -> Void
    ) -> Job {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        return Job(
            run: { connection in
                let result = Result { try body(connection) }
                outcome.withLock { $0 = result }
                if case .failure(let error) = result { return error }
                return nil
            },
            finish: { lost in
                // `lost`: the work did not reach the disk, whatever the body returned.
                switch (outcome.withLock { $0 }, lost) {
                case (.failure(let error)?, _): answer(.failure(error))
                case (_, let lost?): answer(.failure(lost))
                case (let result?, nil): answer(result)
                case (nil, nil): preconditionFailure("a body finished without running")
                }
            })
    }

    /// Queues a job, and has the writer's queue drain if it is not already.
    /// A blocking caller's job goes ahead of the asynchronous ones queued
    /// since the last job that runs alone: a sender waits on its transfer
    /// thread for its outcome's commit before its next upload, and would
    /// otherwise wait for a whole burst of pipelined submissions.
    private func submit(_ job: Job) {
        let startDrain = pending.withLock { state -> Bool in
            if job.isBlocking {
                let ahead = state.jobs.lastIndex { $0.isBlocking || $0.isAlone }.map { $0 + 1 } ?? 0
                state.jobs.insert(job, at: ahead)
            } else {
                state.jobs.append(job)
            }
            defer { state.draining = true }
            return !state.draining
        }
        if startDrain { queue.async { self.drain() } }
    }

    /// Commits groups on the writer's queue until nothing waits.
    private func drain() {
        while true {
            let group = pending.withLock { state -> [Job] in
                var count = min(state.jobs.count, Self.maximumGroup)
                // A job that runs alone ends the group before it, or is the group.
                if let alone = state.jobs.prefix(count).firstIndex(where: \.isAlone) { count = max(alone, 1) }
                let taken = Array(state.jobs.prefix(count))
                state.jobs.removeFirst(taken.count)
                if taken.isEmpty { state.draining = false }
                return taken
            }
            guard !group.isEmpty else { return }
            commit(group)
        }
    }

    private func commit(_ group: [Job]) {
        if group.count == 1, group[0].isAlone {
            _ = group[0].run(connection)
            group[0].finish(nil)
            return
        }
        var remaining = group[...]
        while !remaining.isEmpty { remaining = commitSome(remaining) }
    }

    /// Runs bodies in one transaction and commits it; returns the bodies not
    /// run when SQLite abandoned the transaction under one of them.
    private func commitSome(_ jobs: ArraySlice<Job>) -> ArraySlice<Job> {
        do {
            try connection.run("BEGIN IMMEDIATE")
        } catch {
            for job in jobs { job.finish(error) }
            return []
        }
        var succeeded: [Job] = []
        for (index, job) in zip(jobs.indices, jobs) {
            do {
                try connection.run("SAVEPOINT body")
            } catch {
                job.finish(error)
                continue
            }
            guard let failure = job.run(connection) else {
                _ = try? connection.run("RELEASE body")
                succeeded.append(job)
                continue
            }
            job.finish(nil)
            guard connection.isInTransaction else {
                // SQLite rolled everything back (disk full, I/O error): the
                // bodies before this one lost their work too.
                for done in succeeded { done.finish(failure) }
                return jobs[(index + 1)...]
            }
            try? connection.execute("ROLLBACK TO body; RELEASE body")
        }
        do {
            try connection.run("COMMIT")
            for job in succeeded { job.finish(nil) }
        } catch {
            try? connection.execute("ROLLBACK")
            for job in succeeded { job.finish(error) }
        }
        return []
    }
}
