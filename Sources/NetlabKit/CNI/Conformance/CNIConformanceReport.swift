import Foundation

/// The rules of the CNI specification `netlab cni-check` holds a plugin chain to, each with the
/// part of SPEC.md (containernetworking/cni) it comes from.
public enum CNIConformanceRule: String, CaseIterable, Hashable, Sendable, Codable {
    case addResult = "add-result"
    case checkAfterAdd = "check-after-add"
    case checkDetectsTampering = "check-detects-tampering"
    case addIndependent = "add-independent"
    case delRestoresNode = "del-restores-node"
    case delReleasesIPAM = "del-releases-ipam"
    case delIdempotent = "del-idempotent"
    case delWithoutNetns = "del-without-netns"
    case status = "status"
    case gc = "gc"

    /// What the rule says, as one line.
    public var summary: String {
        switch self {
        case .addResult: return "ADD succeeds and its result is valid for the configuration's cniVersion"
        case .checkAfterAdd: return "CHECK passes right after ADD"
        case .checkDetectsTampering: return "CHECK fails once the container's interface lost its address"
        case .addIndependent: return "a second container's ADD gets its own address and node interface and leaves the first working"
        case .delRestoresNode: return "DEL leaves the node's namespace as it was before ADD"
        case .delReleasesIPAM: return "DEL releases the container's IPAM reservation"
        case .delIdempotent: return "a second DEL of the same container succeeds"
        case .delWithoutNetns: return "DEL succeeds when the container's netns is gone, and still releases its address"
        case .status: return "STATUS succeeds"
        case .gc: return "GC keeps the valid attachments and releases the others"
        }
    }

    /// Where in the specification the rule is written.
    public var source: String {
        switch self {
        case .addResult: return "SPEC.md \"Section 5: Result Types\", \"ADD: Add container to network\""
        case .checkAfterAdd: return "SPEC.md \"CHECK: Check container's networking is as expected\""
        case .checkDetectsTampering: return "SPEC.md \"CHECK\": a plugin must return an error when a resource it created is missing or wrong"
        case .addIndependent: return "SPEC.md \"ADD\": each container ID + CNI_IFNAME is its own attachment"
        case .delRestoresNode: return "SPEC.md \"DEL: Remove container from network\": release all resources of the attachment"
        case .delReleasesIPAM: return "SPEC.md \"DEL\", \"IP Address Management (IPAM) Interface\": the IPAM plugin releases the allocation"
        case .delIdempotent: return "SPEC.md \"DEL\": plugins should generally complete a DEL without error even if some resources are missing"
        case .delWithoutNetns: return "SPEC.md \"DEL\": CNI_NETNS may be absent when the network namespace is gone"
        case .status: return "SPEC.md \"STATUS: Check plugin status\" (1.1.0)"
        case .gc: return "SPEC.md \"GC: Clean up any stale resources\" (1.1.0)"
        }
    }
}

/// One rule's verdict with the evidence behind it.
public struct CNIRuleResult: Hashable, Sendable, Codable {
    public enum Verdict: String, Hashable, Sendable, Codable { case pass = "PASS", fail = "FAIL", skip = "SKIP" }
    public var rule: CNIConformanceRule
    public var verdict: Verdict
    /// What was seen, one line each: what passed, what failed and whose, why it was skipped.
    public var evidence: [String]

    public init(_ rule: CNIConformanceRule, _ verdict: Verdict, _ evidence: [String]) {
        self.rule = rule; self.verdict = verdict; self.evidence = evidence
    }

    /// PASS when `problems` is empty (with `passed` as evidence), else FAIL with the problems.
    public static func judged(_ rule: CNIConformanceRule, problems: [String], passed: [String]) -> CNIRuleResult {
        problems.isEmpty ? CNIRuleResult(rule, .pass, passed) : CNIRuleResult(rule, .fail, problems)
    }
}

/// `netlab cni-check`'s report: the chain that was tested, where, and one verdict per rule.
public struct CNIConformanceReport: Hashable, Sendable, Codable {
    public var lab: String
    public var topology: String
    public var network: String
    public var cniVersion: String
    public var plugins: [String]
    public var node: String
    /// The pod whose node and runtime arguments the test containers borrow.
    public var pod: String
    public var results: [CNIRuleResult]

    public init(lab: String, topology: String, network: String, cniVersion: String, plugins: [String], node: String, pod: String,
                results: [CNIRuleResult]) {
        self.lab = lab; self.topology = topology; self.network = network; self.cniVersion = cniVersion
        self.plugins = plugins; self.node = node; self.pod = pod; self.results = results
    }

    /// No rule failed (skipped ones do not fail a chain: they do not apply to its version or list).
    public var passed: Bool { !results.contains { $0.verdict == .fail } }

    public func result(_ rule: CNIConformanceRule) -> CNIRuleResult? { results.first { $0.rule == rule } }

    /// "7 passed, 1 failed, 2 skipped".
    public var summaryLine: String {
        func n(_ v: CNIRuleResult.Verdict) -> Int { results.filter { $0.verdict == v }.count }
        return "\(n(.pass)) passed, \(n(.fail)) failed, \(n(.skip)) skipped"
    }

    /// For people: the chain, then a line per rule and its evidence indented beneath it.
    public func text() -> String {
        var lines = ["network \(network) (cniVersion \(cniVersion)): \(plugins.joined(separator: " → ")), on node \(node) beside pod \(pod)"]
        for r in results {
            lines.append("\(r.verdict.rawValue) \(r.rule.rawValue) — \(r.rule.summary)")
            lines += r.evidence.map { "  " + $0 }
        }
        lines.append(summaryLine)
        return lines.joined(separator: "\n")
    }

    public func json() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    /// JUnit XML: a testcase per rule, failures with their evidence, skips with their reason.
    public func junit() -> String {
        let failures = results.filter { $0.verdict == .fail }.count, skipped = results.filter { $0.verdict == .skip }.count
        let esc = DiagramText.xml
        let suite = esc("netlab cni-check \(network)")
        var x = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?>"]
        x.append("<testsuites name=\"netlab cni-check\" tests=\"\(results.count)\" failures=\"\(failures)\" errors=\"0\">")
        x.append("  <testsuite name=\"\(suite)\" tests=\"\(results.count)\" failures=\"\(failures)\" errors=\"0\" skipped=\"\(skipped)\">")
        for r in results {
            x.append("    <testcase name=\"\(esc(r.rule.rawValue))\" classname=\"\(esc("netlab.cni-check.\(network)"))\">")
            let body = esc(([r.rule.summary, r.rule.source] + r.evidence).joined(separator: "\n"))
            switch r.verdict {
            case .fail: x.append("      <failure message=\"\(esc(r.evidence.first ?? r.rule.summary))\" type=\"CNIRuleFailed\">\(body)</failure>")
            case .skip: x.append("      <skipped message=\"\(esc(r.evidence.first ?? ""))\"/>")
            case .pass: x.append("      <system-out>\(body)</system-out>")
            }
            x.append("    </testcase>")
        }
        x.append("  </testsuite>")
        x.append("</testsuites>")
        return x.joined(separator: "\n") + "\n"
    }
}
