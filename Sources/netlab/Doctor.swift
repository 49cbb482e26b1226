import ArgumentParser
import NetlabKit
import NetlabLinux

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", abstract: "Check the prerequisites: capabilities, binaries, kernel features.")
    @OptionGroup var topo: TopologyOption
    @Flag(help: "Print the results as JSON: what, ok, fix.") var json = false

    func run() throws {
        let t = try topo.load()
        let results = DoctorResult.all(topology: t)
        if json {
            print(JSONValue.array(results.map { r in
                .object(["what": .string(r.what), "ok": .bool(r.ok), "required": .bool(r.required), "fix": r.ok ? .null : .string(r.fix)])
            }).encodedString(pretty: true))
            if results.contains(where: { !$0.ok && $0.required }) { throw ExitCode(ExitCategory.environment.exitCode) }
            return
        }
        // A failing check this topology does not need is "no", and doctor still succeeds.
        for r in results { printEscaped("\(r.ok ? "ok  " : r.required ? "FAIL" : "no  ") \(r.what)" + (r.ok ? "" : "\n     \(r.fix)")) }
        if results.contains(where: { !$0.ok && $0.required }) { throw ExitCode(ExitCategory.environment.exitCode) }
        printEscaped("netlab can run \(t.source) on this machine")
    }
}

