import Foundation
import NetlabKit

/// `netlab doctor`'s IPv6 line: what netlab-proxy needs to program a dual-stack node, asked of the
/// kernel in a scratch namespace (never the host's): the ip6tables nat table (kube-proxy's IPv6
/// proxier fails without it, a real dual-stack failure) and nft's ip6 family with the proxy's own
/// IPv6 table. Required only by dual-stack topologies.
extension DoctorResult {
    static func ipv6Check(required: Bool, stateRoot: String = LabNames.stateRoot) -> DoctorResult {
        let what = "IPv6 service proxy: ip6tables nat table and nft's ip6 family (a kube-proxy ip6 table)"
        guard let restore = IPTables.which("ip6tables-restore") else {
            return DoctorResult(what: what, ok: false, fix: "ip6tables-restore is not installed: apt-get install iptables", required: required)
        }
        guard let nft = IPTables.which("nft") else {
            return DoctorResult(what: what, ok: false, fix: "nft is not installed: apt-get install nftables", required: required)
        }
        do {
            let scratch = try DoctorScratch(stateRoot: stateRoot)
            defer { scratch.end() }
            let ns = try scratch.namespace("v6")
            let runner = NamespaceProcessRunner(namespace: ns)
            let env = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
            let nat = try runner.run(argv: [restore, "--noflush"], environment: env,
                                     stdin: Data("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -d 2001:db8:36::a/128 -p tcp -j DNAT --to-destination [2001:db8:32::3]:80\nCOMMIT\n".utf8),
                                     timeout: 30)
            guard nat.succeeded else {
                let err = nat.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
                return DoctorResult(what: what, ok: false,
                                    fix: "\(restore) \(nat.terminationDescription): \(err) (the kernel lacks ip6table_nat or ip6t DNAT: kube-proxy's IPv6 proxier fails the same way)",
                                    required: required)
            }
            let table = try runner.run(argv: [nft, "-f", "-"], environment: env, stdin: Data(doctorNFTablesIPv6.utf8), timeout: 30)
            guard table.succeeded else {
                let err = table.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
                return DoctorResult(what: what, ok: false, fix: "\(nft) -f \(table.terminationDescription): \(err) (the kernel lacks nf_tables for IPv6)",
                                    required: required)
            }
            return DoctorResult(what: what + " (\(restore), \(nft))", ok: true, fix: "", required: required)
        } catch {
            return DoctorResult(what: what, ok: false, fix: "\(error)", required: required)
        }
    }

    /// The proxy's own `table ip6 kube-proxy` for a NodePort service with an IPv6 endpoint.
    static var doctorNFTablesIPv6: String {
        let svc = KubeService(metadata: ObjectMeta(name: "a", namespace: "doctor"),
                              spec: KubeServiceSpec(type: "NodePort", clusterIP: "2001:db8:36::a", clusterIPs: ["2001:db8:36::a"], ipFamilies: ["IPv6"],
                                                    ports: [KubeServicePort(name: "p", port: 80, nodePort: 30080)]))
        let slice = EndpointSlice(metadata: ObjectMeta(name: "a-1", namespace: "doctor", labels: [EndpointSlice.serviceNameLabel: "a"]),
                                  addressType: "IPv6", endpoints: [KubeEndpoint(addresses: ["2001:db8:32::3"])],
                                  ports: [EndpointPort(name: "p", port: 80, protocol: "TCP")])
        let node = ProxyNode(name: "doctor", ip: IPv4Address("10.0.0.2")!, podCIDR: IPv4Prefix("10.32.0.0/24")!, clusterCIDR: IPv4Prefix("10.32.0.0/14")!,
                             ipv6: IPv6Address("2001:db8:0:1::2")!, clusterCIDRv6: IPv6Prefix("2001:db8:32::/64")!)
        return NFTablesProxier(serviceCIDRv6: IPv6Prefix("2001:db8:36::/112")!)
            .generate(services: KubeList(items: [.service(svc), .endpointSlice(slice)]), node: node,
                      detectLocal: .clusterCIDR(.v6(node.clusterCIDRv6!)))
    }
}
