import ArgumentParser
import Foundation
import Glibc
import NetlabKit
import NetlabLinux

@main
struct Netlab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netlab",
        abstract: "A Kubernetes datapath on one host, out of network namespaces, wired by your real CNI plugins.",
        discussion: """
        Exit codes: 0 success, 1 failure, 2 bad usage or topology, 3 the environment lacks something \
        (a capability, a binary, a kernel feature).
        """,
        version: NetlabVersion.current,
        subcommands: [Run.self, Suite.self, Checks.self, Up.self, Down.self, Status.self, Exec.self, Graph.self, Clean.self, Doctor.self,
                      Kubectl.self, TopologyCommand.self, Serve.self, ApiServer.self, CNICheck.self])

    /// Parses, runs, and ends as `ending` says, with one clear line on stderr.
    static func main() {
        var command: ParsableCommand
        do { command = try parseAsRoot() } catch { end(ending(parsing: error)) }
        do {
            try command.run()
            // The command finished what must not be cut short (a teardown); say why we stop.
            if let s = Interrupts.pending { end(.exit(128 + s, message: "netlab: \(Interrupts.Interrupted(signal: s))")) }
        } catch {
            end(ending(running: error, pendingSignal: Interrupts.pending))
        }
    }

    /// How netlab ends after an error: argument-parser's own way (help, --version: output and
    /// exit 0), or an exit code with a line for stderr.
    enum Ending: Equatable {
        case parser(message: String)
        case exit(Int32, message: String?)
    }

    /// A line the parser rejected is bad usage (exit 2), with argument-parser's full message
    /// (the error and the usage); help and --version are not errors.
    static func ending(parsing error: Error) -> Ending {
        if exitCode(for: error) == .success { return .parser(message: fullMessage(for: error)) }
        return .exit(ExitCategory.usage.exitCode, message: fullMessage(for: error))
    }

    /// A command that threw: by the error's exit category (`ExitCategory`); a signal that came
    /// in meanwhile wins with 128 + its number.
    static func ending(running error: Error, pendingSignal: Int32?) -> Ending {
        switch error {
        case let e as ExitCode: return .exit(e.rawValue, message: nil)
        case let e as Interrupts.Interrupted: return .exit(e.exitCode, message: "netlab: \(e); everything it had made was taken down")
        default: break
        }
        if let s = pendingSignal { return .exit(128 + s, message: "netlab: \(Interrupts.Interrupted(signal: s)) (\(error))") }
        if exitCode(for: error) == .success { return .parser(message: fullMessage(for: error)) } // help subcommand
        let message = error is ValidationError ? fullMessage(for: error) : "\(error)"
        return .exit(ExitCategory(of: error).exitCode, message: "netlab: \(message)")
    }

    static func end(_ ending: Ending) -> Never {
        switch ending {
        case .parser(let message):
            // argument-parser prints help and the version on stdout itself.
            if !message.isEmpty { print(message) }
            Glibc.exit(0)
        case .exit(let code, let message):
            if let message { printError(message) }
            Glibc.exit(code)
        }
    }
}

/// A command line the argument parser rejected is bad usage.
extension ValidationError: NetlabError { public var exitCategory: ExitCategory { .usage } }

/// A line for people on stdout, with the control characters of names, paths and plugin output
/// made visible (TerminalText).
func printEscaped(_ text: String) { print(TerminalText.escaped(text)) }

/// The same on stderr.
func printError(_ text: String) { FileHandle.standardError.write(Data((TerminalText.escaped(text) + "\n").utf8)) }
