import ArgumentParser
import Engine
import Foundation
import Glibc

/// `pushdoc`: the executable only reads the command line and wires the
/// modules together.
@main
struct Pushdoc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushdoc",
        abstract: "Sends MyCompanyFiles documents to Inqom (the \"Inqom - Pushdoc API\" connector engine).",
        version: Version.text,
        subcommands: [Serve.self, Version.self])

    static func main() {
        // A vanished peer must be an error code on write, never a fatal signal.
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as SettingError {
            refuse(error.description)
        } catch {
            // Help and --version end here with status 0; a usage error is one line and status 2.
            guard exitCode(for: error) != .success else { exit(withError: error) }
            refuse(message(for: error))
        }
    }

    /// One line on stderr, nothing on stdout, exit code 2.
    private static func refuse(_ message: String) -> Never {
        let line = message.split(separator: "\n").first.map(String.init) ?? message
        FileHandle.standardError.write(Data("pushdoc: \(line)\n".utf8))
        Glibc.exit(2)
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the engine's version.")

    static let text = "pushdoc \(Engine.version) (protocol 1)"

    func run() {
        print(Self.text)
    }
}
