import Foundation
import Glibc
import Logging
import NetlabKit

/// `netlab cni-check`: the lab's conflist and plugins held to the CNI specification's rules, on the
/// node of a real pod. The test containers are extra namespaces of the lab (journaled like its
/// own, named `netlab-<lab>.cni-check-<x>`, so `down` and `clean` remove them), attached exactly
/// as the lab attaches pods: the node's namespace as the plugins' own, a unique CNI_CONTAINERID,
/// CNI_NETNS, CNI_IFNAME eth0, the K8S_POD_* CNI_ARGS and the pod's capability arguments.
///
/// Container a: ADD (plugin by plugin, the node looked at after each, so a leak names the
/// plugin that made it), CHECK, DEL, the node compared with before, DEL again. Containers b and
/// c: two ADDs side by side, c's address removed and CHECK asked to notice, c's netns deleted
/// before its DEL. From 1.1.0: STATUS, and GC with b the only valid attachment beside a container d.
extension Lab {
    public func cniConformance(pod podName: String? = nil) throws -> CNIConformanceReport {
        guard let pod = podName.map({ topology.pod(named: $0) }) ?? topology.pods.first else {
            throw LabError.usage(podName.map { "the topology \(topology.name) has no pod '\($0)' (pods: \(topology.pods.map(\.name).joined(separator: ", ")))" }
                                 ?? "the topology \(topology.name) has no pods: cni-check runs the plugins on the node of a pod")
        }
        guard let node = topology.node(named: pod.node) else { throw LabError.broken(name, "pod '\(pod.name)' is on no node of the topology") }
        let list = try renderedConflist(node: node)
        let runtime = try cniRuntime(node: node.name)
        let nodeNS = try namespace(node.name)
        let reader = NodeSnapshotReader(namespace: nodeNS, netlink: RouteNetlink(socket: try edges.netlink.socket(in: nodeNS)),
                                        runner: edges.processes.runner(in: nodeNS), which: edges.processes.which,
                                        ipamDirectories: Self.hostLocalStores(list))
        var check = CNIConformanceRun(lab: self, pod: pod, list: list, runtime: runtime, reader: reader)
        defer { check.closeContainers() }
        let results = try check.run()
        return CNIConformanceReport(lab: name, topology: topology.name, network: list.name, cniVersion: list.cniVersion.description,
                                    plugins: list.types, node: node.name, pod: pod.name, results: results)
    }

    /// The directories where the list's host-local IPAMs keep their reservations: `<dataDir>/<network>`.
    static func hostLocalStores(_ list: CNINetworkConfigList) -> [String] {
        list.plugins.compactMap { p in
            guard p["ipam"]?["type"]?.stringValue == "host-local" else { return nil }
            return (p["ipam"]?["dataDir"]?.stringValue ?? "/var/lib/cni/networks") + "/" + list.name
        }
    }

    /// Makes a test container's namespace, journaled as the lab's own.
    func makeTestContainer(_ member: String) throws -> NetworkNamespace {
        logStep("create namespace", ["netns": "\(LabNames.namespace(lab: name, member: member))"])
        return try OwnedNamespaces.create(name: LabNames.namespace(lab: name, member: member), in: store,
                                          stateRoot: edges.stateRoot, edge: edges.namespaces)
    }
}

/// The node after each plugin's ADD (filled by `CNIRuntime.add`'s callback).
final class Steps { var snapshots: [NodeSnapshot] = [] }

/// One cni-check: the containers it made and what it saw.
struct CNIConformanceRun {
    let lab: Lab
    let pod: Pod
    let list: CNINetworkConfigList
    let runtime: CNIRuntime
    let reader: NodeSnapshotReader
    var containers: [String: NetworkNamespace] = [:]

    init(lab: Lab, pod: Pod, list: CNINetworkConfigList, runtime: CNIRuntime, reader: NodeSnapshotReader) {
        self.lab = lab; self.pod = pod; self.list = list; self.runtime = runtime; self.reader = reader
    }

    var chain: String { list.types.joined(separator: " → ") }
    var hasHostLocal: Bool { !reader.ipamDirectories.isEmpty }

    /// The first member name `cni-check-<x>` the topology does not use.
    func member(_ x: String) -> String {
        var m = "cni-check-\(x)"
        while lab.plan.namespace(m) != nil { m += "-x" }
        return m
    }

    mutating func container(_ x: String) throws -> CNIAttachment {
        let m = member(x)
        let ns = try lab.makeTestContainer(m)
        containers[x] = ns
        let id = LabNames.containerID(lab: lab.name, pod: m)
        var a = CNIAttachment(pod: pod, containerID: id, netnsPath: ns.path, podUID: id)
        a.podName = m
        return a
    }

    mutating func closeContainers() {
        for ns in containers.values { ns.close() }
        containers.removeAll()
    }

    /// Deletes a test container's namespace, as a runtime does once the sandbox is gone.
    mutating func deleteNamespace(_ x: String) throws {
        guard let ns = containers.removeValue(forKey: x) else { return }
        let path = ns.path
        ns.close()
        try lab.edges.namespaces.delete(path: path)
    }

    func short(_ error: Error) -> String {
        TerminalText.escaped("\(error)").split(separator: "\n").prefix(3).joined(separator: " | ")
    }

    mutating func run() throws -> [CNIRuleResult] {
        var results: [CNIConformanceRule: CNIRuleResult] = [:]
        func put(_ r: CNIRuleResult) { results[r.rule] = r }
        func skipAll(_ rules: [CNIConformanceRule], _ why: String) { for r in rules where results[r] == nil { put(CNIRuleResult(r, .skip, [why])) } }

        // Container a: ADD, CHECK, DEL, the node compared, DEL again.
        let a = try container("a")
        let before = try reader.take()
        let steps = Steps(), reader = self.reader
        let resultA: CNIResult
        do {
            resultA = try runtime.add(list, a) { _ in steps.snapshots.append(try reader.take()) }
        } catch {
            put(CNIRuleResult(.addResult, .fail, ["ADD of test container \(a.podName) failed: \(short(error))"]))
            skipAll(CNIConformanceRule.allCases, "not run: the first ADD failed (add-result)")
            return ordered(results)
        }
        let problems = CNIResultConformance.problems(resultA.raw, declared: list.cniVersion, ifName: a.ifName, netns: a.netnsPath)
        put(.judged(.addResult, problems: problems.map { "the result of \(chain) (last plugin \(list.types.last ?? "")): \($0)" },
                    passed: ["ADD of \(a.podName) gave \(resultA.podAddress(ifName: a.ifName).map { "\($0)" } ?? "no IPv4 address") on \(a.ifName); the result has the shape of a \(list.cniVersion) result: \(resultA.raw.encodedString())"]))
        let afterPlugin = steps.snapshots
        let reservedA = afterPlugin.last?.ipamReservations(of: a.containerID) ?? []

        do {
            switch try runtime.check(list, a, prevResult: resultA) {
            case .checked: put(CNIRuleResult(.checkAfterAdd, .pass, ["CHECK of \(a.podName) right after its ADD succeeded (every plugin of \(chain))"]))
            case .skipped(let why): put(CNIRuleResult(.checkAfterAdd, .skip, [why])); put(CNIRuleResult(.checkDetectsTampering, .skip, [why]))
            }
        } catch {
            put(CNIRuleResult(.checkAfterAdd, .fail, ["CHECK of \(a.podName) right after its ADD failed: \(short(error))"]))
        }

        try Interrupts.check()
        var delFailed = false
        do {
            try runtime.del(list, a, prevResult: resultA)
        } catch {
            delFailed = true
            put(CNIRuleResult(.delRestoresNode, .fail, ["DEL of \(a.podName) failed: \(short(error))"]))
            put(CNIRuleResult(.delReleasesIPAM, .skip, ["not judged: the DEL failed (del-restores-node)"]))
        }
        if !delFailed {
            // Looked at while the container's netns still exists: deleting it would take the
            // links a DEL forgot (and their routes) with it and hide the leak.
            let after = try reader.take()
            let leaks = NodeSnapshot.differences(before: before, after: after)
            put(.judged(.delRestoresNode, problems: leaks.map { attributed($0, before: before, afterPlugin: afterPlugin) },
                        passed: ["after ADD and DEL of \(a.podName), the node's links, addresses, routes, rules, permanent neighbours, "
                                 + "iptables-save and nft rulesets, \(after.sysctls.count) sysctls and IPAM files are as before"]))
            if !hasHostLocal {
                put(CNIRuleResult(.delReleasesIPAM, .skip, ["the list has no host-local IPAM, the one store netlab knows how to read"]))
            } else {
                let left = after.ipamReservations(of: a.containerID)
                put(.judged(.delReleasesIPAM, problems: left.map { "\(ipamName(a: true)) kept reservation \($0) for \(a.podName) after its DEL" }
                            + (reservedA.isEmpty ? ["ADD of \(a.podName) reserved nothing in \(reader.ipamDirectories.joined(separator: ", ")) that names its container ID"] : []),
                            passed: ["ADD reserved \(reservedA.joined(separator: ", ")); DEL released it"]))
            }
        }
        do {
            try runtime.del(list, a, prevResult: resultA)
            put(CNIRuleResult(.delIdempotent, .pass, ["a second DEL of \(a.podName) succeeded"]))
        } catch {
            put(CNIRuleResult(.delIdempotent, .fail, ["a second DEL of \(a.podName) failed: \(short(error))"]))
        }
        try deleteNamespace("a")
        try Interrupts.check()

        // Containers b and c side by side.
        let b = try container("b"), c = try container("c")
        let beforeB = try reader.take()
        let resultB: CNIResult, resultC: CNIResult
        let afterB: NodeSnapshot, afterC: NodeSnapshot
        do {
            resultB = try runtime.add(list, b)
            afterB = try reader.take()
        } catch {
            put(CNIRuleResult(.addIndependent, .fail, ["ADD of \(b.podName) (after \(a.podName) came and went) failed: \(short(error))"]))
            skipAll(CNIConformanceRule.allCases, "not run: ADD of \(b.podName) failed (add-independent)")
            return ordered(results)
        }
        do {
            resultC = try runtime.add(list, c)
            afterC = try reader.take()
        } catch {
            put(CNIRuleResult(.addIndependent, .fail, ["ADD of \(c.podName) beside \(b.podName) failed: \(short(error))"]))
            skipAll(CNIConformanceRule.allCases, "not run: ADD of \(c.podName) failed (add-independent)")
            _ = try? runtime.del(list, b, prevResult: resultB)
            return ordered(results)
        }
        let checkWorks = results[.checkAfterAdd]?.verdict == .pass
        put(independence(b: b, c: c, resultB: resultB, resultC: resultC, beforeB: beforeB, afterB: afterB, afterC: afterC, check: checkWorks))
        try Interrupts.check()

        if results[.checkDetectsTampering] == nil {
            // A CHECK that fails untouched would "notice" anything.
            put(checkWorks ? tampering(c: c, resultC: resultC)
                : CNIRuleResult(.checkDetectsTampering, .skip, ["not judged: CHECK fails even right after ADD (check-after-add)"]))
        }
        try Interrupts.check()

        // c's netns goes first, then its DEL (no CNI_NETNS, as the lab calls DEL for a pod whose
        // namespace is gone).
        try deleteNamespace("c")
        var gone = c
        gone.netnsPath = ""
        do {
            try runtime.del(list, gone, prevResult: resultC)
            let left = hasHostLocal ? (try reader.take()).ipamReservations(of: c.containerID) : []
            put(.judged(.delWithoutNetns, problems: left.map { "\(ipamName(a: false)) kept reservation \($0) for \(c.podName) after its DEL without netns" },
                        passed: ["DEL of \(c.podName) after its netns was deleted (no CNI_NETNS) succeeded"
                                 + (hasHostLocal ? " and released its address" : "")]))
        } catch {
            put(CNIRuleResult(.delWithoutNetns, .fail, ["DEL of \(c.podName) after its netns was deleted (no CNI_NETNS) failed: \(short(error))"]))
        }
        try Interrupts.check()

        if list.cniVersion < CNIVersion(1, 1, 0) {
            skipAll([.status, .gc], "cniVersion \(list.cniVersion) has no STATUS and GC (they exist from 1.1.0 on)")
        } else {
            do {
                try runtime.status(list)
                put(CNIRuleResult(.status, .pass, ["STATUS of every plugin of \(chain) succeeded"]))
            } catch {
                put(CNIRuleResult(.status, .fail, ["STATUS failed: \(short(error))"]))
            }
            put(try garbageCollection(keeping: b, resultB: resultB))
        }

        do { try runtime.del(list, b, prevResult: resultB) } catch {
            lab.logger.warning("CNI DEL of cni-check container \(b.podName) failed: \(short(error))")
        }
        try deleteNamespace("b")
        return ordered(results)
    }

    func ordered(_ results: [CNIConformanceRule: CNIRuleResult]) -> [CNIRuleResult] {
        CNIConformanceRule.allCases.compactMap { results[$0] }
    }

    func ipamName(a: Bool) -> String {
        let types = list.plugins.compactMap { $0["ipam"]?["type"]?.stringValue }
        return types.first ?? "the IPAM plugin"
    }

    /// "ptp left route …": the plugin whose ADD made the object; a leak no ADD step showed (made
    /// by the DEL itself) says so.
    func attributed(_ d: SnapshotDifference, before: NodeSnapshot, afterPlugin: [NodeSnapshot]) -> String {
        guard let i = NodeSnapshot.step(making: d, before: before, steps: afterPlugin) else {
            return "the DEL of \(chain) \(d) (no ADD step showed it: DEL made it)"
        }
        let ipam = d.kind == "ipam" ? list.plugins[i]["ipam"]?["type"]?.stringValue.map { " (its IPAM \($0))" } ?? "" : ""
        return "\(list.types[i])\(ipam) \(d)"
    }

    func independence(b: CNIAttachment, c: CNIAttachment, resultB: CNIResult, resultC: CNIResult,
                      beforeB: NodeSnapshot, afterB: NodeSnapshot, afterC: NodeSnapshot, check: Bool) -> CNIRuleResult {
        var problems: [String] = [], seen: [String] = []
        let ipB = resultB.podAddress(ifName: b.ifName), ipC = resultC.podAddress(ifName: c.ifName)
        if let ipB, let ipC {
            if ipB.address == ipC.address { problems.append("\(b.podName) and \(c.podName) both got \(ipB.address)") }
            else { seen.append("\(b.podName) got \(ipB), \(c.podName) got \(ipC)") }
        } else {
            problems.append("no IPv4 address on \(b.ifName) in the result of \(ipB == nil ? b.podName : c.podName)")
        }
        let linksB = Set(afterB.links.keys).subtracting(beforeB.links.keys)
        let linksC = Set(afterC.links.keys).subtracting(afterB.links.keys)
        if linksC.isEmpty {
            problems.append("ADD of \(c.podName) made no interface of its own on the node (new links after \(b.podName): none)")
        } else {
            seen.append("node interfaces: \(linksB.sorted().joined(separator: ", ")) for \(b.podName), \(linksC.sorted().joined(separator: ", ")) for \(c.podName)")
        }
        let lostB = linksB.subtracting(afterC.links.keys)
        if !lostB.isEmpty { problems.append("ADD of \(c.podName) removed \(b.podName)'s node interface \(lostB.sorted().joined(separator: ", "))") }
        if let ipB, let ns = containers["b"] {
            do {
                let addrs = try RouteNetlink(socket: try lab.edges.netlink.socket(in: ns)).listAddresses()
                if addrs.contains(where: { $0.prefix.address == ipB.address }) { seen.append("\(b.podName) still has \(ipB) after the ADD of \(c.podName)") }
                else { problems.append("\(b.podName) lost its address \(ipB) when \(c.podName) was added") }
            } catch {
                problems.append("the addresses of \(b.podName) could not be read: \(short(error))")
            }
        }
        // Only where CHECK passes untouched (check-after-add): otherwise its failure is that rule's.
        if check {
            do {
                try runtime.check(list, b, prevResult: resultB)
                seen.append("CHECK of \(b.podName) after the ADD of \(c.podName) succeeded")
            } catch {
                problems.append("CHECK of \(b.podName) failed after the ADD of \(c.podName): \(short(error))")
            }
        }
        return .judged(.addIndependent, problems: problems, passed: seen)
    }

    /// GC with only b valid: d, added for it, loses its reservation; b keeps its own and its address.
    mutating func garbageCollection(keeping b: CNIAttachment, resultB: CNIResult) throws -> CNIRuleResult {
        let d = try container("d")
        let resultD: CNIResult
        do { resultD = try runtime.add(list, d) } catch {
            return CNIRuleResult(.gc, .fail, ["ADD of \(d.podName), to be collected, failed: \(short(error))"])
        }
        defer { _ = try? runtime.del(list, d, prevResult: resultD); try? deleteNamespace("d") }
        let before = try reader.take()
        do { try runtime.gc(list, validAttachments: [b]) } catch {
            return CNIRuleResult(.gc, .fail, ["GC with \(b.podName) as the only valid attachment failed: \(short(error))"])
        }
        let after = try reader.take()
        var problems: [String] = [], seen: [String] = ["GC with \(b.podName) as the only valid attachment succeeded"]
        if hasHostLocal {
            let keptD = after.ipamReservations(of: d.containerID), keptB = after.ipamReservations(of: b.containerID)
            if !keptD.isEmpty { problems.append("GC kept \(d.podName)'s reservation \(keptD.joined(separator: ", ")), which no valid attachment holds") }
            else if !before.ipamReservations(of: d.containerID).isEmpty { seen.append("it released \(d.podName)'s reservation") }
            if keptB.isEmpty { problems.append("GC released \(b.podName)'s reservation, although \(b.podName) is a valid attachment") }
            else { seen.append("it kept \(b.podName)'s \(keptB.joined(separator: ", "))") }
        }
        if let ipB = resultB.podAddress(ifName: b.ifName), let ns = containers["b"] {
            let addrs = try RouteNetlink(socket: try lab.edges.netlink.socket(in: ns)).listAddresses()
            if !addrs.contains(where: { $0.prefix.address == ipB.address }) { problems.append("\(b.podName) lost \(ipB) in the GC") }
        }
        return .judged(.gc, problems: problems, passed: seen)
    }

    /// c's pod address removed from its interface: CHECK must notice.
    func tampering(c: CNIAttachment, resultC: CNIResult) -> CNIRuleResult {
        guard let ip = resultC.podAddress(ifName: c.ifName), let ns = containers["c"] else {
            return CNIRuleResult(.checkDetectsTampering, .skip, ["the result of \(c.podName) has no IPv4 address on \(c.ifName) to remove"])
        }
        do {
            try RouteNetlink(socket: try lab.edges.netlink.socket(in: ns)).deleteAddress(ip, from: .name(c.ifName))
        } catch {
            return CNIRuleResult(.checkDetectsTampering, .fail, ["removing \(ip) from \(c.ifName) in \(c.podName) failed: \(short(error))"])
        }
        do {
            try runtime.check(list, c, prevResult: resultC)
            return CNIRuleResult(.checkDetectsTampering, .fail,
                                 ["\(list.types.first ?? "the plugin")'s CHECK (and the rest of \(chain)) passed although \(ip) was removed from \(c.ifName) in \(c.podName)"])
        } catch {
            return CNIRuleResult(.checkDetectsTampering, .pass, ["after \(ip) was removed from \(c.ifName) in \(c.podName), CHECK failed: \(short(error))"])
        }
    }
}

extension Lab {
    /// `netlab cni-check`: brings up lab `name` of `topology`, checks its CNI chain on the node of
    /// `pod` (the first pod by default) and takes the lab down again, also when the check fails
    /// or is interrupted.
    public static func cniCheck(name: String, topology: Topology, pod: String?, logger: Logger) throws -> CNIConformanceReport {
        let lab = try Lab.up(name: name, topology: topology, persistent: false, logger: logger)
        let report: CNIConformanceReport
        do {
            report = try lab.cniConformance(pod: pod)
            try Interrupts.check()
        } catch {
            try? lab.down()
            throw error
        }
        try lab.down()
        return report
    }
}
