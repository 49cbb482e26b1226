import Foundation
import Glibc
import NetlabKit

/// Runs checks against a lab that is up: flush neighbour caches (so ARP happens on the wire),
/// open captures on every interface the check names (plus the hops a packet of it crosses), run
/// netlab's own probe, drain the captures and judge; `writeArtifacts` keeps the check's pcaps.
public final class CheckRunner {
    public let lab: Lab
    /// Each check's packet path diagram, by check name, for the run's Markdown summary.
    public private(set) var diagrams: [String: PacketPathDiagram] = [:]
    /// The last check's packets, for `writeArtifacts` (only one check's are held in memory).
    private var lastCapture: (check: String, packets: [CapturedPacket], hops: [InterfaceRef], diagram: PacketPathDiagram)?
    /// Called after each attempt is judged, with its number and whether it passed (tests change
    /// the datapath between the attempts of an `eventually:` check through it).
    var afterAttempt: ((Int, Bool) -> Void)?
    public init(lab: Lab) { self.lab = lab }

    /// Runs one check. A failure of the check (or of the lab under it) is in the result; writing
    /// its artifacts is the caller's choice, and a failure to write them is not the check's.
    public func run(_ check: Check) -> CheckResult {
        let start = DispatchTime.now().uptimeNanoseconds
        lastCapture = nil
        var result = CheckResult(name: check.name, description: check.description, passed: false, durationMs: 0)
        result.group = check.group
        let faults = Lab.AppliedFaults()
        var changed = EndpointChangeState()
        do {
            let facts = LabFacts(topology: lab.topology, pods: lab.record.pods)
            let target = try facts.address(check.to)
            let port = try check.port.map(facts.port)
            if !check.unready.isEmpty {
                // The endpoints change for this check, through the lab's API; the proxy follows.
                try lab.changeReadiness(unready: check.unready)
            }
            // With a stream, a fault that says `at:` comes during it (the stream's hook); the others now.
            try lab.applyFaults(check.stream == nil ? check.faults : check.faults.filter { $0.at == nil }, into: faults, facts: facts, family: target.family)
            let faultHook = check.stream == nil ? nil : lab.timedFaultHook(check.faults, into: faults, facts: facts, family: target.family)
            try applyUntimedChanges(check, state: &changed)
            let points = CapturePoints(check: check, target: target, datapath: Datapath(topology: lab.topology), pods: lab.record.pods)
            let hops = points.hops
            let evaluator = CheckEvaluator(facts: facts)
            // With `eventually:`, probe again (after a short, growing pause) until the expectations
            // hold or the window is over; the result is the last attempt's, whose packets explain it.
            // With `consistently:`, probe again while it passes, until the window is over.
            let window = (check.eventuallySeconds ?? check.consistentlySeconds).map { Double(start) / 1e9 + $0 }
            var pause = 0.05
            var attempts = 0
            var packets: [CapturedPacket] = []
            while true {
                attempts += 1
                try flushNeighbours(in: points.flush)
                var captures: [Capture] = []
                for h in hops {
                    captures.append(try Capture(namespace: try lab.namespace(h.member), member: h.member, interface: h.interface))
                }
                let source = try lab.namespace(check.from)
                let probe = try check.stream.map { try runStream(check, $0, from: source, to: target, port: port ?? 80, state: &changed, result: &result,
                                                                 faultHook: faultHook) }
                    ?? Self.probe(check, from: source, to: target, port: port)
                packets = captures.flatMap { $0.stop() }.sorted { $0.timestampNanoseconds < $1.timestampNanoseconds }
                result.probe = probe
                result.expectations = evaluator.evaluate(check, probe: probe, packets: packets)
                    + (result.stream.map { evaluator.evaluateStream(check.expect, stream: $0) } ?? [])
                result.passed = result.expectations.allSatisfy(\.passed)
                afterAttempt?(attempts, result.passed)
                let now = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
                guard result.passed == (check.consistentlySeconds != nil), let end = window, now + pause < end else { break }
                try Interrupts.pause(seconds: pause)
                if check.consistentlySeconds == nil { pause = min(pause * 2, 0.4) }
            }
            if let seconds = check.consistentlySeconds {
                result.expectations.append(Self.consistently(seconds, attempts: attempts, passed: result.passed,
                                                             afterMs: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6))
            }
            if check.eventuallySeconds != nil {
                result.attempts = attempts
                if result.passed { result.convergedAfterMs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 }
            }
            let formatter = TcpdumpFormatter(includeTimestamp: true, includeHop: true, includeTTL: true)
            result.transcript = (result.stream?.timeline ?? []) + packets.map(formatter.format)
            let diagram = PacketPathDiagram.build(result: result, source: check.from, target: target, packets: packets,
                                                  hops: hops.map(\.label), geography: LabGeography(topology: lab.topology, pods: lab.record.pods))
            diagrams[check.name] = diagram
            lastCapture = (check.name, packets, hops, diagram)
        } catch {
            result.error = "\(error)"
            result.passed = false
        }
        for failure in lab.undoFaults(faults) {
            result.error = (result.error.map { $0 + "; " } ?? "") + failure
            result.passed = false
        }
        if !check.unready.isEmpty {
            do { try lab.changeReadiness(unready: []) } catch {
                result.error = (result.error.map { $0 + "; " } ?? "") + "making every endpoint ready again after the check failed: \(error)"
                result.passed = false
            }
        }
        do { try lab.restoreEndpoints(from: changed) } catch {
            result.error = (result.error.map { $0 + "; " } ?? "") + "putting the lab's endpoints and Services back after the check failed: \(error)"
            result.passed = false
        }
        result.durationMs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        return result
    }

    func flushNeighbours(in members: [String]) throws {
        for m in members {
            guard let ns = try? lab.namespace(m) else { continue }
            let nl = try RouteNetlink(namespaceFD: ns.fd, name: ns.name)
            for link in try nl.listLinks() where link.name != Datapath.loopback {
                _ = try nl.flushNeighbours(on: .index(link.index))
            }
        }
    }

    /// One probe of `kind`; a shaped one (a check's `size:`/`dontFragment:`) also reports the
    /// answer's size and the path MTU its socket learned.
    static func probe(_ kind: Check.Kind, from ns: NetworkNamespace, to ip: IPAddress, port: Int?, timeout: Double,
                      shape: ProbeShape = .plain, echoID: UInt16 = UInt16(truncatingIfNeeded: getpid())) -> ProbeObservation {
        let shown = ip.family == .ipv6 ? "[\(ip)]" : "\(ip)"
        let shaped = !shape.isPlain
        switch kind {
        case .icmp:
            let r = Probe.echo(from: ns, to: ip, shape: shape, timeout: timeout, id: echoID)
            return ProbeObservation(target: "\(ip)", replied: r.ttl != nil, replyTTL: r.ttl, failure: r.failure, errorClass: r.errorClass,
                                    pathMTU: r.pathMTU, replyBytes: shaped ? r.replyBytes : nil)
        case .http:
            // TCP sets DF on every segment and learns the path MTU itself; only the body is sized.
            let r = Probe.http(from: ns, to: ip, port: port ?? 80, path: shaped ? CheckPayload.httpPath(size: shape.bodyBytes) : "/", timeout: timeout)
            return ProbeObservation(target: "\(shown):\(port ?? 80)", replied: r.status != nil, status: r.status, serverPod: r.serverPod,
                                    serverSaw: r.clientSeenByServer, local: r.local, failure: r.failure, errorClass: r.errorClass,
                                    replyBytes: shaped && r.status != nil ? r.body.utf8.count : nil)
        case .udp:
            let r = Probe.udp(from: ns, to: ip, port: port ?? 53, shape: shape, timeout: timeout)
            let answer = r.reply.flatMap(ServerAnswer.init(decoding:))
            return ProbeObservation(target: "\(shown):\(port ?? 53)", replied: r.reply != nil, serverPod: answer?.pod,
                                    serverSaw: answer?.client, local: r.local, failure: r.failure, errorClass: r.errorClass,
                                    pathMTU: r.pathMTU, replyBytes: shaped ? r.replyBytes : nil)
        }
    }

    /// The check just run, kept in the directory `directory()` gives (asked only when there is
    /// something to keep): one pcapng with every interface (names kept), one classic pcap per
    /// interface, and the packet path diagram as SVG, HTML and Mermaid; each a new 0644 file
    /// (see SafeDirectory.createFile). Returns their paths.
    public func writeArtifacts(of check: String, into directory: () throws -> SafeDirectory) throws -> [String] {
        guard let c = lastCapture, c.check == check else { return [] }
        let dir = try directory()
        var files: [String] = []
        func keep(_ name: String, _ data: Data) throws { files.append(try dir.createFile(name, contents: data, mode: 0o644)) }
        var ng = PcapNGWriter()
        for p in c.packets { ng.append(p) }
        try keep("\(check).pcapng", ng.data)
        for hop in c.hops {
            var w = PcapWriter()
            for p in c.packets where p.hopLabel == hop.label { w.append(p) }
            try keep("\(check)-\(hop.member)-\(hop.interface).pcap", w.data)
        }
        for (ext, text) in [("svg", c.diagram.svg()), ("html", c.diagram.html()), ("mmd", c.diagram.mermaid())] {
            try keep("\(check).\(ext)", Data(text.utf8))
        }
        return files
    }
}
