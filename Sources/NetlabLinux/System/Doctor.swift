import Foundation
import Glibc
import NetlabKit

/// One line of `netlab doctor`.
public struct DoctorResult {
    public var what: String
    public var ok: Bool
    public var fix: String

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
        return out
    }

    static func kernelCheck() -> DoctorResult {
        let name = "netlab-doctor-\(getpid())"
        let what = "kernel: network namespaces, bridge, veth across namespaces, iptables nat"
        do {
            try NetworkNamespace.prepareDirectory()
            let a = try NetworkNamespace.create(name: name + "-a")
            defer { a.close(); try? NetworkNamespace.delete(path: a.path) }
            let b = try NetworkNamespace.create(name: name + "-b")
            defer { b.close(); try? NetworkNamespace.delete(path: b.path) }
            let nl = try RouteNetlink(namespaceFD: a.fd, name: a.name)
            try nl.createBridge(name: "br0", mtu: 1500)
            try nl.createVeth(name: "v0", peerName: "v1", peerNamespaceFD: b.fd, mtu: 1500)
            if let _ = IPTables.which("iptables-restore") {
                try IPTables.restore("*nat\n-A POSTROUTING -o v0 -j MASQUERADE\nCOMMIT\n", in: a, what: "a test rule")
            }
            return DoctorResult(what: what, ok: true, fix: "")
        } catch {
            return DoctorResult(what: what, ok: false, fix: "\(error)")
        }
    }
}
