import Glibc
import WorkerThreads

/// Serves one client on standard input and output.
public enum StdioTransport {
    /// Starts reading stdin on a thread of its own. File descriptor 1 is kept
    /// for protocol lines only: the stdout that the rest of the process sees
    /// is pointed at stderr, so a stray `print` can never corrupt the stream.
    /// `onClientGone` runs when stdin reaches end of file, and again when the
    /// connection ends for any reason (its client stopped reading, or left a
    /// line unfinished too long): with no other client, the engine stops.
    public static func start(server: RPCServer, onClientGone: @escaping @Sendable () -> Void) {
        let protocolOutput = dup(STDOUT_FILENO)
        dup2(STDERR_FILENO, STDOUT_FILENO)
        let output = OutputChannel(fd: protocolOutput, isSocket: false)
        let started = startThread(named: "pd-stdio") {
            server.serve(name: "stdio", input: STDIN_FILENO, output: output, onEndOfInput: onClientGone)
            onClientGone()
        }
        precondition(started, "no thread could be started for stdin")
    }
}
