import Foundation
import Glibc
import NetlabKit

extension CheckRunner {
    /// One attempt of `check`: its probe, repeated `count` times, each on a new socket (so a new
    /// source port, or for icmp a new echo identifier). With more than one, the observation is
    /// the last probe's with every probe in `attempts`, which the evaluator judges as a set.
    static func probe(_ check: Check, from ns: NetworkNamespace, to ip: IPAddress, port: Int?) -> ProbeObservation {
        let shape = ProbeShape(size: check.size, dontFragment: check.dontFragment)
        func one(_ i: Int?) -> ProbeObservation {
            guard let i else { return probe(check.kind, from: ns, to: ip, port: port, timeout: check.timeoutSeconds, shape: shape) }
            return probe(check.kind, from: ns, to: ip, port: port, timeout: check.timeoutSeconds, shape: shape,
                         echoID: UInt16(truncatingIfNeeded: getpid()) &+ UInt16(truncatingIfNeeded: i))
        }
        guard check.count > 1 else { return one(nil) }
        var all: [ProbeObservation] = []
        for i in 0..<check.count {
            let p = one(i)
            all.append(p)
            // Interrupted: the rest would be too; the result says so.
            if p.failure == Probe.interrupted { break }
        }
        var last = all[all.count - 1]
        last.attempts = all
        return last
    }
}

extension CheckRunner {
    /// `consistently:` judged: every attempt in the window passed, or which one failed first (the
    /// result's other expectations and packets are that attempt's).
    static func consistently(_ seconds: Double, attempts: Int, passed: Bool, afterMs: Double) -> ExpectationResult {
        let window = seconds.formatted(.number.precision(.fractionLength(0...3)))
        return ExpectationResult(name: "consistently", expected: "every attempt within \(window) s passes",
                                 observed: passed ? "all \(attempts) attempt\(attempts == 1 ? "" : "s") passed"
                                    : "attempt \(attempts) failed, \(Int(afterMs.rounded())) ms in (the failures above are its)",
                                 passed: passed)
    }
}
