import Foundation
import Glibc
import Logging
import NetlabKit

/// One line of `netlab doctor`.
public struct DoctorResult {
    public var what: String
    public var ok: Bool
    public var fix: String
    /// False for what only some topologies need (the nftables proxy mode): reported, but the
    /// topology runs without it.
    public var required = true

    /// Capabilities, binaries and kernel features. The kernel is asked by doing: a scratch
    /// namespace gets a bridge, a veth pair and a NAT rule, and is deleted again; the host's own
    /// namespace is not touched.
    public static func all(topology t: Topology) -> [DoctorResult] {
        var out: [DoctorResult] = []
        let missing = Capabilities.missing()
        out.append(DoctorResult(what: "capabilities CAP_NET_ADMIN and CAP_SYS_ADMIN", ok: missing.isEmpty,
                                fix: "missing \(missing.joined(separator: ", ")): run netlab with sudo"))
        let plan = LabPlan(lab: "doctor", topology: t)
        let problems = Preflight.check(topology: t, plan: plan).problems
        out.append(DoctorResult(what: "CNI plugins of \(t.source) in \(t.cni.binDir)", ok: !problems.contains { $0.what.contains("CNI") },
                                fix: problems.filter { $0.what.contains("CNI") }.map(\.description).joined(separator: "\n     ")))
        let ipt = IPTables.which("iptables-restore")
        out.append(DoctorResult(what: "iptables-restore" + (ipt.map { " (\($0))" } ?? ""), ok: ipt != nil, fix: "apt-get install iptables"))
        guard missing.isEmpty else { return out }
        out.append(kernelCheck())
        out.append(nftablesCheck(required: usesNFTablesMode(t)))
        out.append(ipv6Check(required: t.isDualStack))
        return out
    }

    /// A proxy or agent command line with kube-proxy's `--proxy-mode nftables`.
    static func usesNFTablesMode(_ t: Topology) -> Bool {
        ([t.proxy.command] + t.agents.map(\.command)).contains { argv in
            argv.contains("--proxy-mode=nftables") || zip(argv, argv.dropFirst()).contains { $0 == "--proxy-mode" && $1 == "nftables" }
        }
    }

    /// What `netlab-proxy --proxy-mode nftables` loads, for a tiny cluster (a service with an
    /// endpoint: numgen vmap, dnat, masquerade; one without: reject), in one `nft -f` transaction
    /// in a scratch namespace.
    static func nftablesCheck(required: Bool, stateRoot: String = LabNames.stateRoot) -> DoctorResult {
        let what = "nftables proxy mode: nft and the kernel load a kube-proxy table (numgen vmap, dnat, masquerade, reject)"
        guard let nft = IPTables.which("nft") else {
            return DoctorResult(what: what, ok: false, fix: "nft is not installed: apt-get install nftables", required: required)
        }
        do {
            let scratch = try DoctorScratch(stateRoot: stateRoot)
            defer { scratch.end() }
            let ns = try scratch.namespace("nft")
            let outcome = try NamespaceProcessRunner(namespace: ns).run(
                argv: [nft, "-f", "-"], environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                stdin: Data(doctorNFTables.utf8), timeout: 30)
            guard outcome.succeeded else {
                let err = outcome.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
                return DoctorResult(what: what, ok: false,
                                    fix: "\(nft) -f \(outcome.terminationDescription): \(err) (the kernel lacks nf_tables, nft_numgen, nft_nat, nft_fib or nft_reject, or nft is older than 1.0)",
                                    required: required)
            }
            return DoctorResult(what: what + " (\(nft))", ok: true, fix: "", required: required)
        } catch {
            return DoctorResult(what: what, ok: false, fix: "\(error)", required: required)
        }
    }

    /// The proxy's own rendering of a two-service cluster.
    static var doctorNFTables: String {
        let meta = { (kind: String, name: String) in "\"apiVersion\":\"\(kind == "Service" ? "v1" : "discovery.k8s.io/v1")\",\"kind\":\"\(kind)\",\"metadata\":{\"name\":\"\(name)\",\"namespace\":\"doctor\"" }
        let json = """
        {"apiVersion":"v1","kind":"List","items":[
         {\(meta("Service", "a"))},"spec":{"type":"NodePort","clusterIP":"10.96.0.10","ports":[{"name":"p","port":80,"nodePort":30080}]}},
         {\(meta("Service", "b"))},"spec":{"clusterIP":"10.96.0.11","ports":[{"name":"p","port":80}]}},
         {\(meta("EndpointSlice", "a-1")),"labels":{"kubernetes.io/service-name":"a"}},"addressType":"IPv4",
          "endpoints":[{"addresses":["10.32.0.2"]},{"addresses":["10.32.1.2"]}],"ports":[{"name":"p","port":80}]}]}
        """
        // A fixed text: a decoding failure is a bug here, caught by the doctor test.
        let list = (try? KubeList.decode(Data(json.utf8))) ?? KubeList(items: [])
        let node = ProxyNode(name: "doctor", ip: IPv4Address("10.0.0.2")!, podCIDR: IPv4Prefix("10.32.0.0/24")!, clusterCIDR: IPv4Prefix("10.32.0.0/14")!)
        return NFTablesProxier(serviceCIDR: IPv4Prefix("10.96.0.0/16")!).generate(services: list, node: node, detectLocal: .clusterCIDR(.v4(node.clusterCIDR)))
    }

    static func kernelCheck(stateRoot: String = LabNames.stateRoot) -> DoctorResult {
        let what = "kernel: network namespaces, bridge, veth across namespaces, iptables nat"
        do {
            let scratch = try DoctorScratch(stateRoot: stateRoot)
            defer { scratch.end() }
            let a = try scratch.namespace("a")
            let b = try scratch.namespace("b")
            let nl = try RouteNetlink(namespaceFD: a.fd, name: a.name)
            // Scratch names: only the kinds of link matter, not a lab's.
            try nl.createBridge(name: "b0", mtu: 1500)
            try nl.createVeth(name: "v0", peerName: "v1", peerNamespaceFD: b.fd, mtu: 1500)
            if let _ = IPTables.which("iptables-restore") {
                try IPTables.restore("*nat\n-A POSTROUTING -o v0 -j MASQUERADE\nCOMMIT\n", in: a, what: "a test rule")
            }
            return DoctorResult(what: what, ok: true, fix: "")
        } catch {
            return DoctorResult(what: what, ok: false, fix: "\(error)")
        }
    }

    init(what: String, ok: Bool, fix: String, required: Bool = true) {
        self.what = what; self.ok = ok; self.fix = fix; self.required = required
    }
}

/// `netlab doctor`'s scratch namespaces, made like a lab's: a state directory of its own
/// (`/run/netlab/doctor.<pid>`, no lab: `status` does not show it), locked while doctor runs so
/// `clean` never takes it then, and a journal, so `clean` after a crashed doctor removes exactly
/// what it made.
final class DoctorScratch {
    let store: LabStore
    let stateRoot: String
    private var namespaces: [NetworkNamespace] = []

    init(stateRoot: String = LabNames.stateRoot) throws {
        self.stateRoot = stateRoot
        store = LabStore(lab: LabNames.doctorScratch(pid: getpid()), root: stateRoot)
        try store.create(root: stateRoot)
        // As Lab.build: two netlab processes making /run/netns shared at once would stack two mounts.
        try LabStore.withGlobalLock { try NetworkNamespace.prepareDirectory(LabNames.netnsDirectory) }
    }

    /// `netlab-doctor.<pid>.<member>`, journaled in the scratch state.
    func namespace(_ member: String) throws -> NetworkNamespace {
        let ns = try OwnedNamespaces.create(name: LabNames.namespace(lab: store.lab, member: member), in: store, stateRoot: stateRoot)
        namespaces.append(ns)
        return ns
    }

    /// Deletes what the journal proves doctor made, then the scratch state (kept when a namespace
    /// could not be deleted, so `clean` can retry).
    func end() {
        namespaces.forEach { $0.close() }
        let errors = Interrupts.protecting { OwnedNamespaces.delete(store.readJournal().reversed(), logger: Logger(label: "netlab")) }.errors
        if errors.isEmpty { try? store.removeDirectory() } else { store.unlock() }
    }
}
