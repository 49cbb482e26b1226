import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// The default lab with a UDP service (webpod1 serves UDP 5353 behind svc-udp, port 53, node
/// port 30053) and `checks` in place of the default ones.
func faultsTopology(checks: String) throws -> Topology {
    var yaml = DefaultTopology.yaml
    yaml = yaml.replacingOccurrences(of: "      - containerPort: 80\n        protocol: TCP\n",
                                     with: "      - containerPort: 80\n        protocol: TCP\n      - containerPort: 5353\n        protocol: UDP\n")
    yaml = yaml.replacingOccurrences(of: "\ncni:\n", with: """
          - name: svc-udp
            type: NodePort
            selector: {app: webpod}
            ports:
              - port: 53
                targetPort: 5353
                nodePort: 30053
                protocol: UDP

        cni:

        """)
    guard let checksAt = yaml.range(of: "\nchecks:\n") else { preconditionFailure("the default topology has no checks: block") }
    yaml = String(yaml[..<checksAt.lowerBound]) + "\nchecks:\n" + checks
    return try TopologyLoader.parse(yaml: yaml, source: "faults-test.yaml")
}

extension Labs {
    @Suite struct FaultsMTUTests {
        func results(_ lab: Lab, _ t: Topology, runner: CheckRunner? = nil) -> [String: CheckResult] {
            let runner = runner ?? CheckRunner(lab: lab)
            var out: [String: CheckResult] = [:]
            for c in t.checks {
                let r = runner.run(c)
                out[c.name] = r
                print(RunReport.text(of: r, verbose: !r.passed))
            }
            return out
        }

        func inMember(_ lab: Lab, _ member: String, _ argv: [String]) throws -> String {
            try run(["ip", "netns", "exec", LabNames.namespace(lab: lab.name, member: member)] + argv).stdoutText
        }

        @Test func sizedProbesPassAtTheMTUAndGetFragNeededAbove() throws {
            let t = try faultsTopology(checks: """
              - name: icmp-df-at-mtu
                from: pod1
                to: pod2.ip
                protocol: icmp
                size: 1432
                dontFragment: true
                expect: {reply: true}
              - name: icmp-df-above-mtu
                from: pod1
                to: pod2.ip
                protocol: icmp
                size: 1433
                dontFragment: true
                timeout: 0.5
                expect:
                  reply: false
                  packets:
                    - {at: pod1/eth0, match: {icmp: echo-request, src: pod1.ip}, absent: true}
              - name: icmp-df-router-mtu
                from: pod1
                to: pod2.ip
                protocol: icmp
                size: 1432
                dontFragment: true
                timeout: 0.5
                faults:
                  - mtu: {at: node1/eth0, value: 1400}
                expect:
                  reply: false
                  packets:
                    - {at: pod1/eth0, match: {icmp: packet-too-big, dst: pod1.ip}}
              - name: icmp-df-at-mtu-again
                from: pod1
                to: pod2.ip
                protocol: icmp
                size: 1432
                dontFragment: true
                expect: {reply: true}
              - name: udp-df-router-mtu
                from: pod2
                to: svc-udp.clusterIP
                port: svc-udp.port
                protocol: udp
                size: 1432
                dontFragment: true
                timeout: 0.5
                faults:
                  - mtu: {at: node2/eth0, value: 1400}
                expect: {reply: false}
              - name: udp-2000-clusterip
                from: pod2
                to: svc-udp.clusterIP
                port: svc-udp.port
                protocol: udp
                size: 2000
                expect: {reply: true, serverPod: webpod1}
              - name: udp-2000-nodeport
                from: client
                to: node2.externalIP
                port: svc-udp.nodePort
                protocol: udp
                size: 2000
                expect: {reply: true, serverPod: webpod1, serverSaw: node2.ip}
              - name: http-2000-nodeport
                from: client
                to: node2.externalIP
                port: svc-webport.nodePort
                protocol: http
                size: 2000
                expect: {reply: true, status: 200, serverPod: webpod1}

            """)
            let lab = try Lab.up(name: uniqueLab("t-mtu"), topology: t, persistent: false)
            defer { try? lab.down() }
            let r = results(lab, t)
            for (name, res) in r.sorted(by: { $0.key < $1.key }) { #expect(res.passed, "\(name): \(RunReport.text(of: res, verbose: true))") }
            // Above the pod's own MTU, the kernel refuses it at once: nothing leaves pod1.
            let above = r["icmp-df-above-mtu"]?.probe
            #expect(above?.errorClass == .fragNeeded && above?.pathMTU == 1460, "\(String(describing: above))")
            #expect(above?.failure?.contains("EMSGSIZE") == true, "\(above?.failure ?? "")")
            // node1, a router on the way, answers frag-needed with its eth0's MTU; pod1 learns it.
            let router = r["icmp-df-router-mtu"]?.probe
            #expect(router?.errorClass == .fragNeeded && router?.pathMTU == 1400, "\(String(describing: router))")
            #expect(router?.failure?.contains("fragmentation needed (MTU 1400)") == true, "\(router?.failure ?? "")")
            let udp = r["udp-df-router-mtu"]?.probe
            #expect(udp?.errorClass == .fragNeeded && udp?.pathMTU == 1400, "\(String(describing: udp))")
            #expect(udp?.failure?.contains("MTU 1400") == true, "\(udp?.failure ?? "")")
            // The big answers came back whole; the MTU faults are undone.
            #expect(r["udp-2000-nodeport"]?.probe?.replyBytes == 2000 && r["http-2000-nodeport"]?.probe?.replyBytes == 2000)
            for node in ["node1", "node2"] {
                #expect(try inMember(lab, node, ["ip", "-o", "link", "show", "eth0"]).contains("mtu 1460"))
            }
        }
    }
}

extension Labs.FaultsMTUTests {
    @Test func faultsBreakTheDatapathForTheCheckAndAreUndoneAfterIt() throws {
        let podToPod = """
            from: pod1
            to: pod2.ip
            protocol: icmp
            timeout: 0.5
        """
        let nodePort = """
            from: client
            to: node1.externalIP
            port: svc-webport.nodePort
            protocol: http
            timeout: 0.5
        """
        let t = try faultsTopology(checks: """
          - name: link-down
        \(podToPod)
            faults: [{linkDown: node2/eth0}]
            expect: {reply: false}
          - name: pod-to-pod-after-link-down
        \(podToPod)
            expect: {reply: true, replyTTL: 62}
          - name: drop-icmp
        \(podToPod)
            faults: [{drop: {at: node1/eth0, match: {icmp: echo-request, dst: pod2.ip}}}]
            expect: {reply: false}
          - name: drop-other-port
        \(podToPod)
            faults: [{drop: {at: node1/eth0, match: {proto: udp, dst: pod2.ip, dport: 53}}}]
            expect: {reply: true}
          - name: loss-every-2
        \(podToPod)
            eventually: 3
            faults: [{loss: {at: pod2/eth0, every: 2}}]
            expect: {reply: false}
          - name: flush-proxy
        \(nodePort)
            faults: [{flushProxy: node1}]
            expect: {reply: false}
          - name: nodeport-after-flush
        \(nodePort)
            expect: {reply: true, status: 200}
          - name: flush-then-restart
        \(nodePort)
            eventually: 2
            faults: [{flushProxy: node1}, {restartAgent: {node: node1, agent: netlab-proxy}}]
            expect: {reply: true, status: 200}
          - name: proxy-killed
        \(nodePort)
            faults: [{killAgent: {node: node1, agent: netlab-proxy}}]
            expect: {reply: true, status: 200}

        """)
        let lab = try Lab.up(name: uniqueLab("t-fault"), topology: t, persistent: false)
        defer { try? lab.down() }
        let runner = CheckRunner(lab: lab)
        // The loss table's counters, read while the fault is in place.
        var counters: [String] = []
        runner.afterAttempt = { _, _ in
            if let s = try? self.inMember(lab, "pod2", ["nft", "list", "table", "netdev", FaultRules.table]) {
                counters.append(s)
            }
        }
        let r = results(lab, t, runner: runner)
        for (name, res) in r.sorted(by: { $0.key < $1.key }) { #expect(res.passed, "\(name): \(RunReport.text(of: res, verbose: true))") }
        #expect(r["link-down"]?.probe?.failure?.contains("no echo reply") == true, "\(r["link-down"]?.probe?.failure ?? "")")
        // every: 2 drops the second echo request arriving at pod2: the first attempt is answered.
        #expect(r["loss-every-2"]?.attempts == 2)
        let lossCounters = counters.last { $0.contains("loss every 2") } ?? ""
        #expect(lossCounters.contains("numgen inc mod 2 1 counter packets 1 "), "\(lossCounters)")
        // Flushed KUBE-* chains: the NodePort has no DNAT and node1 answers it with a reset.
        #expect(r["flush-proxy"]?.probe?.failure?.contains("ECONNREFUSED") == true, "\(r["flush-proxy"]?.probe?.failure ?? "")")
        // Nothing is left: no fault table, every agent running, node2's routes back.
        for m in ["pod2", "node1"] {
            #expect(try inMember(lab, m, ["nft", "list", "tables"]).contains(FaultRules.table) == false)
        }
        #expect(Lab.agentStates(topology: t, store: lab.store).allSatisfy { $0.running })
        #expect(try inMember(lab, "node2", ["ip", "route", "show", "default"]).contains("via 10.0.0.1"))
        // Faults live in the lab's namespaces and journal: down leaves nothing of them.
        try lab.down()
        #expect(leftovers(of: lab.name).isEmpty)
    }

    /// kube-proxy restarting keeps established flows: a TCP connection to the ClusterIP, opened
    /// before netlab-proxy on node1 is restarted, carries its request after.
    @Test func anEstablishedConnectionOutlivesAProxyRestart() throws {
        let t = try faultsTopology(checks: "  []\n")
        let lab = try Lab.up(name: uniqueLab("t-estab"), topology: t, persistent: false)
        defer { try? lab.down() }
        let facts = LabFacts(topology: lab.topology, pods: lab.record.pods)
        let connection = try HeldConnection(from: try lab.namespace("pod1"), to: try facts.address("svc-webport.clusterIP"),
                                            port: try facts.port("svc-webport.port"))
        let oldPID = Lab.agentStates(topology: t, store: lab.store).first { $0.instance.node == "node1" }?.pid
        let applied = Lab.AppliedFaults()
        try lab.applyFaults([Fault(.restartAgent(node: "node1", agent: "netlab-proxy"))], into: applied, facts: facts, family: .ipv4)
        #expect(lab.undoFaults(applied).isEmpty)
        let newPID = Lab.agentStates(topology: t, store: lab.store).first { $0.instance.node == "node1" }?.pid
        #expect(oldPID != nil && newPID != nil && oldPID != newPID)
        let answer = connection.request(timeout: 2)
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(answer.contains("\"pod\":\"webpod1\""), "\(answer)")
    }
}

/// A TCP connection opened now, whose HTTP request is sent later (netlab's server waits 5 s for it).
final class HeldConnection {
    let fd: Int32
    init(from ns: NetworkNamespace, to address: IPAddress, port: Int) throws {
        fd = try ns.socket(domain: AF_INET, type: Int32(SOCK_STREAM.rawValue), protocol: 0)
        let sa = SocketAddress(address, port)
        if sa.with({ connect(fd, $0, $1) }) != 0 { let e = errno; close(fd); throw SystemError("connect to \(address):\(port)", errno: e) }
    }
    deinit { close(fd) }

    func request(timeout: Double) -> String {
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let req = Array("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
        guard req.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == req.count else { return "write: \(SystemError.name(of: errno))" }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { return out.isEmpty ? "read: \(n < 0 ? SystemError.name(of: errno) : "the connection closed")" : String(decoding: out, as: UTF8.self) }
            out += buf[0..<n]
        }
    }
}

extension Labs.FaultsMTUTests {
    /// A stream's faults come at their `at:`; two on one member share its table, and the undo
    /// removes it once.
    @Test func timedFaultsAddToTheMembersTableAndAreUndoneOnce() throws {
        let t = try faultsTopology(checks: "  []\n")
        let lab = try Lab.up(name: uniqueLab("t-timed"), topology: t, persistent: false)
        defer { try? lab.down() }
        let facts = LabFacts(topology: lab.topology, pods: lab.record.pods)
        let eth0 = InterfaceRef(member: "pod2", interface: "eth0")
        let applied = Lab.AppliedFaults()
        let hook = lab.timedFaultHook([Fault(.loss(at: eth0, .every(2)), at: 0.2),
                                       Fault(.drop(at: eth0, PacketPattern(proto: .udp, dport: "53")), at: 0.5)],
                                      into: applied, facts: facts, family: .ipv4)
        hook(0.1)
        #expect(applied.isEmpty)
        hook(0.3)
        hook(0.6)
        let table = try inMember(lab, "pod2", ["nft", "list", "table", "netdev", FaultRules.table])
        #expect(table.contains("loss every 2 at pod2/eth0") && table.contains("udp dport 53"), "\(table)")
        #expect(lab.undoFaults(applied).isEmpty)
        #expect(try inMember(lab, "pod2", ["nft", "list", "tables"]).contains(FaultRules.table) == false)
    }
}
