import Foundation

extension StreamObservation {
    /// One run of consecutive requests with the same outcome: answered by one pod, or unanswered.
    public struct Segment: Hashable, Sendable {
        public var from: Double, to: Double
        public var pod: String?
        public var count: Int
        /// The first failure of an unanswered run, in the probe's words.
        public var failure: String?
    }

    public var segments: [Segment] {
        var out: [Segment] = []
        for a in answers {
            if var last = out.last, last.pod == a.pod {
                last.to = a.sentAt; last.count += 1
                out[out.count - 1] = last
            } else {
                out.append(Segment(from: a.sentAt, to: a.sentAt, pod: a.pod, count: 1, failure: a.pod == nil ? a.failure : nil))
            }
        }
        return out
    }

    /// The stream as a compact timeline, the changes in their place:
    /// `0.00–1.20 s webpod1 (24 answers)`, `1.00 s change: remove webpod1 (datapath followed at 1.08 s)`.
    public var timeline: [String] {
        func t(_ s: Double) -> String { String(format: "%.2f", s) }
        var events: [(Double, Int, String)] = segments.map { s in
            let what = s.pod.map { "\($0) (\(s.count) answer\(s.count == 1 ? "" : "s"))" }
                ?? "no answer (\(s.count) request\(s.count == 1 ? "" : "s")\(s.failure.map { ": \($0)" } ?? ""))"
            return (s.from, 1, "\(t(s.from))–\(t(s.to)) s \(what)")
        }
        events += changes.map { ($0.at, 0, "\(t($0.at)) s change: \($0.summary) (datapath followed at \(t($0.syncedAt)) s)") }
        let head = "stream from \(local.map { "\($0.address) port \($0.port)" } ?? "an unbound socket"): \(answers.count) requests"
        return [head] + events.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
    }

    /// The stream as one probe observation: its last request's outcome, so `reply`, `serverPod`
    /// and `serverSaw` of a stream check say how the stream ended.
    public func lastProbe(target: String, serverSaw: SocketEndpoint?) -> ProbeObservation {
        let last = answers.last
        return ProbeObservation(target: target, replied: last?.pod != nil, serverPod: last?.pod, serverSaw: last?.pod == nil ? nil : serverSaw,
                                local: local, failure: last == nil ? "the stream sent nothing" : last?.failure)
    }

    /// When the last timed change was made (0 without one): what `switchesTo` counts from.
    var lastChangeAt: Double { changes.last?.at ?? 0 }

    func describeAfter(_ t: Double) -> String {
        let after = StreamObservation(local: local, answers: answers.filter { $0.sentAt >= t }).segments
        if after.isEmpty { return "no request after \(String(format: "%.2f", t)) s" }
        return after.map { s in
            "\(String(format: "%.2f", s.from))–\(String(format: "%.2f", s.to)) s " + (s.pod.map { "\($0) (\(s.count))" } ?? "no answer (\(s.count))")
        }.joined(separator: ", ")
    }
}

extension CheckEvaluator {
    /// The expectations about a stream: `switchesTo` and `neverFrom`.
    public func evaluateStream(_ e: Expectations, stream s: StreamObservation) -> [ExpectationResult] {
        var out: [ExpectationResult] = []
        func t(_ v: Double) -> String { String(format: "%.2f", v) }
        if let sw = e.switchesTo {
            let since = s.lastChangeAt
            let after = s.answers.filter { $0.sentAt >= since }
            // The longest tail answered by the pod: the stream must end there, having got there in time.
            let tail = after.reversed().prefix { $0.pod == sw.pod }
            let expected = "answers from \(sw.pod) within \(t(sw.withinSeconds)) s of the change at \(t(since)) s, and only from it afterwards"
            if let first = tail.last {
                let delay = first.sentAt - since
                out.append(ExpectationResult(name: "stream switches to \(sw.pod)", expected: expected,
                                             observed: "\(sw.pod) from \(t(first.sentAt)) s (\(t(delay)) s after the change), \(tail.count) answers; after the change: \(s.describeAfter(since))",
                                             passed: delay <= sw.withinSeconds))
            } else {
                out.append(ExpectationResult(name: "stream switches to \(sw.pod)", expected: expected,
                                             observed: "the stream did not end on \(sw.pod); after the change: \(s.describeAfter(since))", passed: false))
            }
        }
        if !e.neverFrom.isEmpty {
            let since = s.changes.last?.syncedAt ?? 0
            let offending = s.answers.filter { $0.sentAt >= since && $0.pod.map(e.neverFrom.contains) == true }
            let names = e.neverFrom.joined(separator: ", ")
            out.append(ExpectationResult(name: "stream never from \(names)",
                                         expected: "no answer from \(names) once the datapath followed the change (\(t(since)) s)",
                                         observed: offending.isEmpty ? "none: \(s.describeAfter(since))"
                                            : "\(offending.count) from \(Set(offending.compactMap(\.pod)).sorted().joined(separator: ", ")), the first at \(t(offending[0].sentAt)) s",
                                         passed: offending.isEmpty))
        }
        return out
    }
}
