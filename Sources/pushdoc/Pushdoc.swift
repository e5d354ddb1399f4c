import ArgumentParser
import Engine
import Foundation
import Glibc

/// `pushdoc`: the executable only parses the command line and wires the
/// modules together.
struct PushdocCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushdoc",
        abstract: "Sends MyCompanyFiles documents to Inqom (the \"Inqom - Pushdoc API\" connector engine).",
        subcommands: [Serve.self, Version.self])
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the engine's version.")

    func run() {
        print("pushdoc \(Engine.version) (protocol 1)")
    }
}

@main
enum Main {
    static func main() {
        // A vanished peer must be an error code on write, never a fatal signal.
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try PushdocCommand.parseAsRoot()
            try command.run()
        } catch let error as SettingError {
            refuse(error.description)
        } catch {
            guard PushdocCommand.exitCode(for: error) == .success else {
                let message = PushdocCommand.message(for: error)
                refuse(message.split(separator: "\n").first.map(String.init) ?? message)
            }
            print(PushdocCommand.fullMessage(for: error))
        }
    }

    /// One line on stderr, nothing on stdout, exit code 2.
    private static func refuse(_ message: String) -> Never {
        let text = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
        FileHandle.standardError.write(Data("pushdoc: \(text)\n".utf8))
        exit(2)
    }
}
