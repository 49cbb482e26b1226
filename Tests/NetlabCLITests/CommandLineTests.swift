import ArgumentParser
import Testing
@testable import NetlabKit
import NetlabLinux
@testable import netlab

/// The command line, parsed without running anything (no root): which command and options a line
/// becomes, what is rejected with which message and exit code, and the shared options' help.
@Suite struct CommandLineTests {
    func parse(_ argv: [String]) throws -> ParsableCommand { try Netlab.parseAsRoot(argv) }

    /// The exit code and message main() would give for a line the parser rejects.
    func rejection(_ argv: [String]) -> (code: Int32, message: String)? {
        do { _ = try parse(argv); return nil } catch {
            switch Netlab.ending(parsing: error) {
            case .parser(let m): return (0, m)
            case .exit(let code, let m): return (code, m ?? "")
            }
        }
    }

    @Test func sharedOptionsReachEachCommand() throws {
        let up = try #require(try parse(["up", "--name", "lab1", "-t", "t.yaml", "-v"]) as? Up)
        #expect(up.lab.name == "lab1" && up.topo.topology == "t.yaml" && up.lab.verbosity.verbose)
        let down = try #require(try parse(["down"]) as? Down)
        #expect(down.lab.name == LabNames.defaultLab && !down.lab.verbosity.verbose)
        let run = try #require(try parse(["run", "--shard", "2/4", "--name", "r1", "-v", "pod-*"]) as? Run)
        #expect(run.shard.value == CheckSelection.Shard("2/4") && run.lab.name == "r1" && run.verbosity.verbose && run.checks == ["pod-*"])
        let checks = try #require(try parse(["checks", "--shard", "1/2", "--topology", "t.yaml"]) as? Checks)
        #expect(checks.shard.value == CheckSelection.Shard("1/2") && checks.topo.topology == "t.yaml")
        let status = try #require(try parse(["status", "--name", "lab1"]) as? Status)
        #expect(status.lab.name == "lab1")
        let clean = try #require(try parse(["clean", "--name", "lab1", "-v"]) as? Clean)
        #expect(clean.lab.name == "lab1" && clean.verbosity.verbose)
        let graph = try #require(try parse(["graph", "--name", "lab1"]) as? Graph)
        #expect(graph.lab.name == "lab1")
    }

    @Test func cniCheckTakesTheTopologyThePodAndTheReportFormats() throws {
        let c = try #require(try parse(["cni-check", "-t", "t.yaml", "--pod", "web", "--name", "c1", "--json", "--junit", "r.xml"]) as? CNICheck)
        #expect(c.topo.topology == "t.yaml" && c.pod == "web" && c.lab.name == "c1" && c.json && c.junit == "r.xml")
        let plain = try #require(try parse(["cni-check"]) as? CNICheck)
        #expect(plain.topo.topology == nil && plain.pod == nil && plain.lab.name == nil && !plain.json)
        #expect(rejection(["cni-check", "--name", "Bad_Name"])?.code == ExitCategory.usage.exitCode)
    }

    @Test func runWithoutANameGetsOneOfItsOwn() throws {
        let run = try #require(try parse(["run"]) as? Run)
        #expect(run.sessionOptions.lab.hasPrefix("run-") && !run.sessionOptions.keep)
    }

    @Test(arguments: [
        (["up", "--name", "Bad_Name"], "may only hold lowercase letters"),
        (["status", "--name", "Bad_Name"], "may only hold lowercase letters"),
        (["run", "--name", "Bad_Name"], "may only hold lowercase letters"),
        (["kubectl", "--name", "Bad_Name", "--", "get", "nodes"], "may only hold lowercase letters"),
        (["run", "--shard", "5/4"], "--shard must be K/N with 1 <= K <= N, e.g. 2/4, not '5/4'"),
        (["checks", "--shard", "x"], "--shard must be K/N"),
        (["clean", "--name", "lab1", "--all"], "give --name (one lab) or --all, not both"),
        (["graph", "--name", "lab1", "-t", "t.yaml"], "give --name (a lab that is up) or --topology, not both"),
        (["up", "--bogus"], "Unknown option '--bogus'"),
        (["frobnicate"], "Unexpected argument 'frobnicate'"),
    ])
    func badUsageIsExitTwo(argv: [String], message: String) throws {
        let r = try #require(rejection(argv), "\(argv) was accepted")
        #expect(r.code == ExitCategory.usage.exitCode && r.message.contains(message), "\(argv): \(r.code) \(r.message)")
    }

    /// Every command names itself: argument-parser otherwise derives a name from the type with
    /// String(describing:), whose reflection scans the binary's protocol conformances once per
    /// command at every start (15% of a `netlab serve`'s start; a suite run starts ~35 of them).
    /// The names are the CLI's as it was.
    @Test func everyCommandNamesItself() throws {
        var names: [String] = []
        func walk(_ command: ParsableCommand.Type, _ path: String) {
            guard let name = command.configuration.commandName else { Issue.record("\(command) has no commandName"); return }
            names.append(path + name)
            for sub in command.configuration.subcommands { walk(sub, path + name + " ") }
        }
        walk(Netlab.self, "")
        #expect(names == ["netlab", "netlab run", "netlab suite", "netlab checks", "netlab up", "netlab down", "netlab status",
                          "netlab exec", "netlab graph", "netlab clean", "netlab doctor", "netlab kubectl", "netlab topology",
                          "netlab topology generate", "netlab topology validate", "netlab serve", "netlab apiserver", "netlab cni-check"])
    }

    @Test func helpAndVersionAreNotErrors() throws {
        #expect(rejection(["--version"])?.code == 0)
        // --help parses into argument-parser's help command, which ends cleanly when it runs.
        for argv in [["--help"], ["run", "--help"], ["help", "run"]] {
            var command = try parse(argv)
            #expect(throws: (any Error).self) { try command.run() }
            do { try command.run() } catch {
                guard case .parser(let text) = Netlab.ending(running: error, pendingSignal: nil) else {
                    Issue.record("\(argv) ends as \(Netlab.ending(running: error, pendingSignal: nil))"); continue
                }
                #expect(text.contains("USAGE: netlab"), "\(argv)")
            }
        }
    }

    @Test func errorsOfACommandEndByTheirCategory() {
        #expect(Netlab.ending(running: LabError.notFound("x"), pendingSignal: nil) == .exit(2, message: "netlab: \(LabError.notFound("x"))"))
        #expect(Netlab.ending(running: TopologyError(file: "t.yaml", line: 2, column: 3, "bad"), pendingSignal: nil)
                == .exit(2, message: "netlab: t.yaml:2:3: bad"))
        #expect(Netlab.ending(running: EnvironmentProblem(what: "iptables-restore is not installed", fix: "apt-get install iptables"),
                              pendingSignal: nil) == .exit(3, message: "netlab: iptables-restore is not installed: apt-get install iptables"))
        struct Unknown: Error {}
        #expect(Netlab.ending(running: Unknown(), pendingSignal: nil) == .exit(1, message: "netlab: Unknown()"))
        #expect(Netlab.ending(running: ExitCode(3), pendingSignal: nil) == .exit(3, message: nil))
        // A signal during the command: 128 + its number, whatever the error.
        #expect(Netlab.ending(running: LabError.usage("x"), pendingSignal: 2) == .exit(130, message: "netlab: interrupted by SIGINT (x)"))
    }

    @Test func helpTextOfTheSharedOptions() {
        let root = Netlab.helpMessage(columns: 1000)
        #expect(root.contains("Exit codes: 0 success, 1 failure, 2 bad usage or topology, 3 the environment lacks something"))
        for command in ["up", "down", "clean", "run"] {
            let help = Netlab.helpMessage(for: subcommand(command), columns: 1000)
            #expect(help.contains("-v, --verbose"), "netlab \(command)")
            #expect(help.contains("--name <name>"), "netlab \(command)")
        }
        for command in ["run", "checks"] {
            #expect(Netlab.helpMessage(for: subcommand(command), columns: 1000).contains("--shard <shard>"), "netlab \(command)")
        }
        #expect(Netlab.helpMessage(for: subcommand("up"), columns: 1000).contains("-t, --topology <topology>"))
        #expect(Netlab.helpMessage(for: subcommand("run"), columns: 1000).contains("Without --name the lab is run-<pid>"))
        // The pod workload is netlab's own, not for users.
        #expect(!root.contains("serve"))
    }

    func subcommand(_ name: String) -> ParsableCommand.Type {
        Netlab.configuration.subcommands.first { $0._commandName == name }!
    }
}
