import Engine
import Foundation
import Glibc

/// `pushdoc`: the executable only reads the command line and wires the
/// modules together.
@main
enum Main {
    static let overview = "Sends MyCompanyFiles documents to Inqom (the \"Inqom - Pushdoc API\" connector engine)."

    static let help = """
        OVERVIEW: \(overview)

        USAGE: pushdoc <subcommand>

        OPTIONS:
          -h, --help              Show help information.
          --version               Print the engine's version.

        SUBCOMMANDS:
          serve                   \(Serve.abstract)
          version                 Print the engine's version.

          See 'pushdoc help <subcommand>' for detailed help.
        """

    static let versionHelp = """
        OVERVIEW: Print the engine's version.

        USAGE: pushdoc version
        """

    static func main() {
        // A vanished peer must be an error code on write, never a fatal signal.
        signal(SIGPIPE, SIG_IGN)
        let arguments = CommandLine.arguments.dropFirst()
        let asksHelp = { (rest: ArraySlice<String>) in rest.contains("--help") || rest.contains("-h") }
        do throws(SettingError) {
            switch arguments.first {
            case nil, "--help", "-h":
                print(help)
            case "help":
                print(["serve": Serve.help, "version": versionHelp][arguments.dropFirst().first ?? ""] ?? help)
            case "--version":
                print("pushdoc \(Engine.version) (protocol 1)")
            case "version":
                guard arguments.count == 1 || asksHelp(arguments.dropFirst()) else {
                    throw SettingError(description: "Unexpected argument '\(arguments.dropFirst().first ?? "")'")
                }
                print(arguments.count == 1 ? "pushdoc \(Engine.version) (protocol 1)" : versionHelp)
            case "serve":
                guard let serve = try Serve.parse(arguments.dropFirst()) else {
                    print(Serve.help)
                    return
                }
                let settings = try ServeSettings(serve, environment: ProcessInfo.processInfo.environment)
                EngineProcess(settings: settings).run()
            case let other?:
                throw SettingError(description: "Unexpected argument '\(other)'")
            }
        } catch {
            refuse(error.description)
        }
    }

    /// One line on stderr, nothing on stdout, exit code 2.
    private static func refuse(_ message: String) -> Never {
        FileHandle.standardError.write(Data("pushdoc: \(message)\n".utf8))
        exit(2)
    }
}
