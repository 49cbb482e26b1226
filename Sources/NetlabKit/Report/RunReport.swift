import Foundation

/// The outcome of `netlab run`: every check's result, as text for people, JSON for programs and
/// JUnit XML for CI.
public struct RunReport: Hashable, Sendable, Codable {
    public var lab: String
    public var topology: String
    public var passed: Bool
    public var durationMs: Double
    public var checks: [CheckResult]
    /// Time per phase (namespaces, links, cni add, proxy, each check, teardown), in ms.
    public var timings: [Timing]
    /// netlab's own peak resident memory (children not included), in KiB.
    public var peakMemoryKiB: Int?

    public struct Timing: Hashable, Sendable, Codable {
        public var phase: String
        public var ms: Double
        public init(phase: String, ms: Double) { self.phase = phase; self.ms = ms }
    }

    public init(lab: String, topology: String, durationMs: Double, checks: [CheckResult], timings: [Timing] = [], peakMemoryKiB: Int? = nil) {
        self.lab = lab; self.topology = topology; self.checks = checks; self.durationMs = durationMs
        self.passed = checks.allSatisfy(\.passed); self.timings = timings; self.peakMemoryKiB = peakMemoryKiB
    }

    /// "min/median/max" phases for a list of per-item durations (per pod, per node).
    public static func spread(_ name: String, seconds: [Double]) -> [Timing] {
        guard !seconds.isEmpty else { return [] }
        let s = seconds.sorted()
        let median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        return [Timing(phase: "\(name) min", ms: s[0] * 1000), Timing(phase: "\(name) median", ms: median * 1000),
                Timing(phase: "\(name) max", ms: s[s.count - 1] * 1000)]
    }

    public func json() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    /// One line per check, and for a failed one: each failed expectation with expected and
    /// observed, the per-hop transcript, and where the pcaps are.
    public func text(verbose: Bool = false) -> String {
        var lines = checks.map { Self.text(of: $0, verbose: verbose) }
        lines += Self.groupTables(checks)
        lines.append(summaryLine)
        return lines.joined(separator: "\n")
    }

    /// "2 passed, 1 failed": the closing line test runners and CI read.
    public var summaryLine: String {
        let failed = checks.filter { !$0.passed }.count, skipped = checks.filter { $0.skipped != nil }.count
        return "\(checks.count - failed - skipped) passed, \(failed) failed" + (skipped > 0 ? ", \(skipped) skipped" : "")
    }

    /// One check's block, printed as soon as the check is done.
    public static func text(of c: CheckResult, verbose: Bool = false) -> String {
        var lines: [String] = []
        if let why = c.skipped { return "SKIP \(c.name)" + (about(c).map { " — \($0)" } ?? "") + "\n  skipped: \(why)" }
        lines.append("\(c.passed ? "PASS" : "FAIL") \(c.name) (\(ms(c.durationMs)))" + (about(c).map { " — \($0)" } ?? ""))
        if let n = c.attempts {
            // eventually: how long convergence took, or that it did not come.
            lines.append(c.convergedAfterMs.map { "  converged after \(ms($0)), attempt \(n)" }
                         ?? "  not converged: \(n) attempt\(n == 1 ? "" : "s") in \(ms(c.durationMs)), the last one shown")
        }
        if let err = c.error { lines.append("  error: \(err)") }
        for x in c.expectations where !x.passed || verbose {
            lines.append("  \(x.passed ? "ok  " : "FAIL") \(x.name)")
            lines.append("       expected: \(x.expected)")
            // An encapsulated packet's inner line goes under the outer one, as tcpdump -v indents.
            lines.append("       observed: \(x.observed.replacingOccurrences(of: "\n", with: "\n                 "))")
        }
        if !c.passed || verbose, !c.transcript.isEmpty {
            lines.append("  packets, all interfaces in time order:")
            lines += c.transcript.map { "    " + $0.replacingOccurrences(of: "\n", with: "\n      ") }
        }
        if !c.passed || verbose {
            lines += c.artifacts.map { path in
                let kind = path.hasSuffix(".pcap") || path.hasSuffix(".pcapng") ? "pcap" : path.hasSuffix(".mmd") ? "mermaid" : "diagram"
                return "  \(kind): \(path)"
            }
        }
        return lines.joined(separator: "\n")
    }

    /// What a check's line says after its name: its description; for a matrix cell, which shares
    /// the matrix's description (printed once, with the matrix), the cell and what it expected,
    /// and the description too when it failed.
    static func about(_ c: CheckResult) -> String? {
        guard let g = c.group, let column = g.column else { return c.description }
        let cell = "matrix \(g.name): \(g.row) → \(column), expected \(g.expected)"
        return c.passed || c.skipped != nil ? cell : cell + (c.description.map { "; \($0)" } ?? "")
    }

    /// JUnit XML as GitHub Actions reporters read it: one testsuite, a testcase per check, a
    /// failure element per failed check whose message names the failed expectations.
    public func junit() -> String { Self.junit(of: [self]) }

    /// One JUnit document for several runs (`netlab suite`): a testsuite per topology; the
    /// document's time is the suite's wall time (runs side by side overlap), else the longest run's.
    public static func junit(of reports: [RunReport], durationMs: Double? = nil) -> String {
        let all = reports.flatMap(\.checks)
        let failures = all.filter { !$0.passed }.count
        var x = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>"]
        x.append("<testsuites name=\"netlab\" tests=\"\(all.count)\" failures=\"\(failures)\" errors=\"0\" time=\"\(seconds(durationMs ?? reports.map(\.durationMs).max() ?? 0))\">")
        for r in reports { x += r.junitSuite() }
        x.append("</testsuites>")
        return x.joined(separator: "\n") + "\n"
    }

    private func junitSuite() -> [String] {
        let failures = checks.filter { !$0.passed }.count, skipped = checks.filter { $0.skipped != nil }.count
        var x: [String] = []
        x.append("  <testsuite name=\"\(Self.esc("netlab \(topology)"))\" tests=\"\(checks.count)\" failures=\"\(failures)\" errors=\"0\" skipped=\"\(skipped)\" time=\"\(Self.seconds(durationMs))\">")
        for c in checks {
            x.append("    <testcase name=\"\(Self.esc(c.name))\" classname=\"\(Self.esc("netlab.\(topology)"))\" time=\"\(Self.seconds(c.durationMs))\">")
            if let why = c.skipped { x.append("      <skipped message=\"\(Self.esc(why))\"/>") }
            if !c.passed {
                let failed = c.expectations.filter { !$0.passed }
                let message = c.error ?? failed.map { "\($0.name): expected \($0.expected), observed \($0.observed)" }.joined(separator: "; ")
                var body = failed.map { "\($0.name)\n  expected: \($0.expected)\n  observed: \($0.observed)" }
                if let e = c.error { body.insert("error: \(e)", at: 0) }
                body.append("packets:\n" + c.transcript.joined(separator: "\n"))
                body += c.artifacts.map { "artifact: \($0)" }
                x.append("      <failure message=\"\(Self.esc(message))\" type=\"CheckFailed\">\(Self.esc(body.joined(separator: "\n")))</failure>")
            }
            if !c.transcript.isEmpty {
                x.append("      <system-out>\(Self.esc(c.transcript.joined(separator: "\n")))</system-out>")
            }
            x.append("    </testcase>")
        }
        x.append("  </testsuite>")
        return x
    }

    /// A duration for people: milliseconds below a second, seconds with two decimals above.
    static func ms(_ v: Double) -> String { v < 1000 ? String(format: "%.0f ms", v) : String(format: "%.2f s", v / 1000) }
    private static func seconds(_ v: Double) -> String { String(format: "%.3f", v / 1000) }

    private static func esc(_ s: String) -> String { DiagramText.xml(s) }
}
