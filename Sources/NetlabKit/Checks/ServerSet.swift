/// `expect.servers`: which pods answered over all of a `count:` check's probes, as Kubernetes'
/// e2e tests ask it: every ready backend is reached, no other one is, one backend takes every
/// connection (session affinity ClientIP), or several do (affinity None).
public struct ServerSetExpectation: Hashable, Sendable, Codable {
    /// Each of these pods answered at least once.
    public var every: [String]?
    /// No pod outside these answered.
    public var only: [String]?
    /// One pod answered every probe.
    public var same: Bool
    /// More than one distinct pod answered.
    public var spread: Bool

    public init(every: [String]? = nil, only: [String]? = nil, same: Bool = false, spread: Bool = false) {
        self.every = every; self.only = only; self.same = same; self.spread = spread
    }

    /// Every pod the expectation names, for validation.
    public var pods: [String] { (every ?? []) + (only ?? []) }
}

/// How many times each value came, in the order first seen: "webpod1 ×7, webpod2 ×13".
public struct Tally: Sendable {
    public private(set) var counts: [(value: String, count: Int)] = []
    public init<S: Sequence>(_ values: S) where S.Element == String {
        for v in values {
            if let i = counts.firstIndex(where: { $0.value == v }) { counts[i].count += 1 } else { counts.append((v, 1)) }
        }
    }
    public var values: [String] { counts.map(\.value) }
    public var text: String {
        let total = counts.reduce(0) { $0 + $1.count }
        return counts.map { total == 1 ? $0.value : "\($0.value) ×\($0.count)" }.joined(separator: ", ")
    }
}

extension ProbeObservation {
    /// "webpod1", or "no answer" / "refused" for a probe no server answered.
    var answeredBy: String { serverPod ?? (replied ? "an answer without a pod" : errorClass.map { "no answer (\($0.rawValue))" } ?? "no answer") }
}

extension CheckEvaluator {
    /// A `count:` check: each probe judged on its own by the one-answer expectations, which must
    /// hold for every probe (`reply: true`: all answered; `false`: none did); the packets once,
    /// over the whole capture; and the set expectations over all answers.
    func evaluateRepeated(_ check: Check, probes: [ProbeObservation], packets: [CapturedPacket]) -> [ExpectationResult] {
        var single = check
        single.expect.packets = []
        let each = probes.map { evaluateOne(single, probe: $0, packets: []) }
        let n = probes.count
        var out: [ExpectationResult] = []
        for (j, first) in each[0].enumerated() {
            let column = each.map { $0[j] }
            let failed = column.indices.filter { !column[$0].passed }
            var observed: String
            if let f = failed.first {
                observed = "\(failed.count) of \(n) probes did not: probe \(f + 1) saw \(column[f].observed)"
            } else {
                observed = Tally(column.map(\.observed)).text
            }
            if first.name == "reply" { observed += " (answered by: \(Tally(probes.map(\.answeredBy)).text))" }
            out.append(ExpectationResult(name: first.name, expected: "\(first.expected), for each of \(n) probes",
                                         observed: observed, passed: failed.isEmpty))
        }
        return out + evaluatePackets(check, packets: packets) + evaluateSets(check.expect, probes: probes)
    }

    /// `expect.servers` and `expect.error`, over every probe.
    func evaluateSets(_ e: Expectations, probes: [ProbeObservation]) -> [ExpectationResult] {
        var out: [ExpectationResult] = []
        let answered = probes.compactMap(\.serverPod)
        let seen = Tally(answered).values
        let shown = Tally(probes.map(\.answeredBy)).text
        if let s = e.servers {
            if let every = s.every {
                let missing = every.filter { !seen.contains($0) }
                out.append(ExpectationResult(name: "servers: every", expected: "each of \(every.joined(separator: ", ")) answers at least once",
                                             observed: shown + (missing.isEmpty ? "" : "; never answered: \(missing.joined(separator: ", "))"),
                                             passed: missing.isEmpty))
            }
            if let only = s.only {
                let extra = seen.filter { !only.contains($0) }
                out.append(ExpectationResult(name: "servers: only", expected: "no pod but \(only.joined(separator: ", ")) answers",
                                             observed: shown + (extra.isEmpty ? "" : "; also answered: \(extra.joined(separator: ", "))"),
                                             passed: extra.isEmpty))
            }
            if s.same {
                out.append(ExpectationResult(name: "servers: same", expected: "one pod answers all \(probes.count) probes",
                                             observed: shown, passed: seen.count == 1 && answered.count == probes.count))
            }
            if s.spread {
                out.append(ExpectationResult(name: "servers: spread", expected: "more than one pod answers",
                                             observed: shown, passed: seen.count > 1))
            }
        }
        if let want = e.error {
            let classes = probes.map { $0.replied ? "an answer" : $0.errorClass?.rawValue ?? "no class" }
            let wrong = probes.indices.filter { probes[$0].replied || probes[$0].errorClass != want }
            var observed = Tally(classes).text
            if let f = wrong.first, let why = probes[f].failure { observed += "; probe \(f + 1): \(why)" }
            out.append(ExpectationResult(name: "error", expected: probes.count == 1 ? want.rawValue : "\(want.rawValue), for each of \(probes.count) probes",
                                         observed: observed, passed: wrong.isEmpty))
        }
        return out
    }
}
