import Testing
@testable import NetlabKit

/// `count:` with `expect.servers` and `expect.error`, judged over every probe's answer, and how
/// the topology file spells them.
@Suite struct ServerSetTests {
    let evaluator = CheckEvaluator(facts: LabFacts(topology: DefaultTopology.load(), pods: [:]))

    func check(_ expect: Expectations, count: Int = 20) -> Check {
        Check(name: "c", from: "pod1", to: "10.36.0.10", port: "9000", kind: .http, expect: expect, count: count)
    }

    func answers(_ pods: [String?]) -> ProbeObservation {
        let all = pods.map { pod in
            pod.map { ProbeObservation(target: "10.36.0.10:9000", replied: true, status: 200, serverPod: $0) }
                ?? ProbeObservation(target: "10.36.0.10:9000", replied: false, failure: "no answer within 2 s", errorClass: .timeout)
        }
        var last = all[all.count - 1]
        last.attempts = all
        return last
    }

    func judged(_ e: Expectations, _ pods: [String?]) -> [String: ExpectationResult] {
        let results = evaluator.evaluate(check(e, count: pods.count), probe: answers(pods), packets: [])
        return Dictionary(results.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    static let both = Array(repeating: "webpod1", count: 7) + Array(repeating: "webpod2", count: 13)

    @Test func everyAndOnlyJudgeTheSetOfPodsThatAnswered() {
        let e = Expectations(servers: ServerSetExpectation(every: ["webpod1", "webpod2"], only: ["webpod1", "webpod2"]))
        let ok = judged(e, Self.both)
        #expect(ok["servers: every"]?.passed == true && ok["servers: only"]?.passed == true)
        #expect(ok["servers: every"]?.observed == "webpod1 ×7, webpod2 ×13")
        #expect(ok["reply"]?.passed == true)
        #expect(ok["reply"]?.observed == "an answer (HTTP 200) ×20 (answered by: webpod1 ×7, webpod2 ×13)")

        let one = judged(e, Array(repeating: "webpod1", count: 20))
        #expect(one["servers: every"]?.passed == false)
        #expect(one["servers: every"]?.observed == "webpod1 ×20; never answered: webpod2")
        #expect(one["servers: only"]?.passed == true)

        let extra = judged(Expectations(servers: ServerSetExpectation(only: ["webpod1"])), Self.both)
        #expect(extra["servers: only"]?.passed == false)
        #expect(extra["servers: only"]?.observed == "webpod1 ×7, webpod2 ×13; also answered: webpod2")
    }

    @Test func sameAndSpreadTellAffinityFromNone() {
        let same = Expectations(servers: ServerSetExpectation(same: true))
        let spread = Expectations(servers: ServerSetExpectation(spread: true))
        let sticky = Array(repeating: "webpod2", count: 10)
        #expect(judged(same, sticky)["servers: same"]?.passed == true)
        #expect(judged(spread, sticky)["servers: spread"]?.passed == false)
        #expect(judged(same, Self.both)["servers: same"]?.passed == false)
        #expect(judged(spread, Self.both)["servers: spread"]?.passed == true)
        // One probe unanswered: not "the same pod every time", and the reply fails too.
        let gap = judged(same, Array(repeating: "webpod2", count: 9) + [nil])
        #expect(gap["servers: same"]?.passed == false)
        #expect(gap["servers: same"]?.observed == "webpod2 ×9, no answer (timeout) ×1")
        #expect(gap["reply"]?.passed == false)
        #expect(gap["reply"]?.observed.hasPrefix("1 of 10 probes did not: probe 10 saw no answer: no answer within 2 s") == true)
    }

    @Test func everyProbeMustMeetTheSingleAnswerExpectations() {
        let r = judged(Expectations(serverPod: "webpod1"), Self.both)
        #expect(r["server pod"]?.passed == false)
        #expect(r["server pod"]?.observed == "13 of 20 probes did not: probe 8 saw webpod2")
        #expect(r["server pod"]?.expected == "webpod1, for each of 20 probes")
        // reply: false with count: none may answer.
        let none = judged(Expectations(reply: false), [nil, nil, nil])
        #expect(none["reply"]?.passed == true)
        #expect(judged(Expectations(reply: false), [nil, "webpod1", nil])["reply"]?.passed == false)
    }

    @Test func theErrorClassOfEveryProbe() {
        func failed(_ classes: [ProbeErrorClass?]) -> ProbeObservation {
            let all = classes.map { ProbeObservation(target: "t", replied: false, failure: "f \($0?.rawValue ?? "-")", errorClass: $0) }
            var last = all[all.count - 1]; last.attempts = all.count > 1 ? all : nil
            return last
        }
        let c = check(Expectations(reply: false, error: .refused), count: 3)
        let ok = evaluator.evaluate(c, probe: failed([.refused, .refused, .refused]), packets: [])
        #expect(ok.allSatisfy { $0.passed }, "\(ok)")
        let observed = ok.first { $0.name == "error" }?.observed
        #expect(observed == "refused ×3")
        let mixed = evaluator.evaluate(c, probe: failed([.refused, .timeout, .refused]), packets: []).first { $0.name == "error" }
        #expect(mixed?.passed == false)
        #expect(mixed?.observed == "refused ×2, timeout ×1; probe 2: f timeout")
        // A single probe (count 1).
        let one = evaluator.evaluate(check(Expectations(reply: false, error: .timeout), count: 1), probe: failed([.refused]), packets: [])
        let r = one.first { $0.name == "error" }
        #expect(r?.expected == "timeout" && r?.observed == "refused; probe 1: f refused" && r?.passed == false)
    }

    // MARK: the file

    func yaml(_ lines: String, protocolName: String = "http") -> String {
        baseTopology + """
        pods:
          - {name: pod1, node: node1}
          - {name: webpod1, node: node1, ports: [{containerPort: 80}]}
        checks:
          - name: c
            from: pod1
            to: webpod1.ip
            port: 80
            protocol: \(protocolName)
        \(lines)

        """
    }

    @Test func countServersAndErrorAreRead() throws {
        let t = try TopologyLoader.parse(yaml: yaml("""
                count: 20
                consistently: 2s
                expect:
                  servers: {every: [webpod1], only: [webpod1], same: true}
            """), source: "t.yaml")
        let c = try #require(t.checks.first)
        #expect(c.count == 20 && c.consistentlySeconds == 2)
        #expect(c.expect.servers == ServerSetExpectation(every: ["webpod1"], only: ["webpod1"], same: true))
        let e = try TopologyLoader.parse(yaml: yaml("    expect: {error: refused}"), source: "t.yaml").checks[0]
        #expect(e.expect.error == .refused && e.expect.reply == false && e.count == 1 && e.consistentlySeconds == nil)
    }

    @Test func mistakesAreLocated() {
        #expect(diagnostics(yaml("    count: 0\n    expect: {}")) == ["t.yaml:22:12: check 'c' count 0 is outside 1-200"])
        #expect(diagnostics(yaml("    eventually: 1s\n    consistently: 1s\n    expect: {}")) == [
            "t.yaml:23:19: check 'c' gives both eventually (probe until it passes) and consistently (it must pass every time in the window); keep one",
        ])
        #expect(diagnostics(yaml("    expect: {servers: {every: [webpod9]}}")) == [
            "t.yaml:22:32: check 'c' expect.servers.every names 'webpod9', which is not a member of this lab (api, gw, vpc, node1, node2, pod1, webpod1)",
        ])
        #expect(diagnostics(yaml("    expect: {servers: {same: true, spread: true}}")) == [
            "t.yaml:22:23: check 'c' expect.servers asks for both same (one pod answers every probe) and spread (more than one pod answers); keep one",
        ])
        #expect(diagnostics(yaml("    expect: {servers: {same: false}}")) == [
            "t.yaml:22:30: check 'c' expect.servers.same: false asks nothing; remove it, or say spread: true (more than one pod answers)",
        ])
        #expect(diagnostics(yaml("    expect: {servers: {evry: [webpod1]}}")).contains { $0.hasPrefix("t.yaml:22:24: check 'c' expect.servers has unknown key 'evry' (did you mean 'every'?)") })
        #expect(diagnostics(yaml("    expect: {servers: {every: [webpod1]}}", protocolName: "icmp").replacingOccurrences(of: "", with: "")).contains {
            $0.contains("expect.servers needs netlab's server")
        })
        #expect(diagnostics(yaml("    expect: {error: refusd}")) == [
            "t.yaml:22:21: check 'c' expect.error 'refusd' is not one of refused, timeout, unreachable, frag-needed (did you mean 'refused'?)",
        ])
        #expect(diagnostics(yaml("    expect: {reply: true, error: timeout}")) == [
            "t.yaml:22:34: check 'c' expect.error timeout says the probe gets no answer, but expect.reply is true; remove reply or set it to false",
        ])
    }

    // MARK: session affinity

    func service(_ lines: String) -> String {
        baseTopology + """
        serviceCIDR: 10.36.0.0/20
        services:
          - name: web
            selector: {app: web}
            ports: [{port: 80}]
        \(lines)

        """
    }

    @Test func sessionAffinityGoesToTheAPIsService() throws {
        let t = try TopologyLoader.parse(yaml: service("    sessionAffinity: ClientIP\n    sessionAffinityTimeoutSeconds: 60"), source: "t.yaml")
        let svc = try #require(t.services.first)
        #expect(svc.sessionAffinity == .clientIP && svc.sessionAffinityTimeout == 60)
        let kube = ServiceState.kubeService(svc, uid: "u")
        #expect(kube.spec.sessionAffinity == "ClientIP" && kube.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds == 60)
        let plain = try #require(try TopologyLoader.parse(yaml: service(""), source: "t.yaml").services.first)
        #expect(plain.sessionAffinity == SessionAffinity.none)
        #expect(ServiceState.kubeService(plain, uid: "u").spec.sessionAffinity == "None")
        #expect(ServiceState.kubeService(plain, uid: "u").spec.sessionAffinityConfig == nil)
        var clientIP = plain
        clientIP.sessionAffinity = .clientIP
        #expect(ServiceState.kubeService(clientIP, uid: "u").spec.sessionAffinityConfig?.clientIP?.timeoutSeconds == 10800)
    }

    @Test func sessionAffinityMistakesAreLocated() {
        #expect(diagnostics(service("    sessionAffinity: clientip")) == [
            "t.yaml:18:22: service 'web' sessionAffinity 'clientip' is not one of None, ClientIP (did you mean 'ClientIP'?)",
        ])
        #expect(diagnostics(service("    sessionAffinityTimeoutSeconds: 60")) == [
            "t.yaml:18:36: service 'web' sets sessionAffinityTimeoutSeconds without sessionAffinity: ClientIP, which is the only affinity that has a timeout; add sessionAffinity: ClientIP or remove it",
        ])
        #expect(diagnostics(service("    sessionAffinity: ClientIP\n    sessionAffinityTimeoutSeconds: 0")) == [
            "t.yaml:19:36: service 'web' sessionAffinityTimeoutSeconds 0 is outside 1-86400",
        ])
    }
}
