import Foundation
import Yams

// `api:`: where the lab's Kubernetes API listens (its own member on the VPC), and what the API
// serves of its own that the topology's services must leave alone (the `kubernetes` Service).
extension TopologyBuilder {
    /// Read after the nodes, whose addresses the API's must not take.
    func readAPI(_ top: Fields) {
        guard let subnet, let vpcGateway else { return }
        let taken = Dictionary(nodes.compactMap { n in n.ip.map { ($0.value, n.label) } }, uniquingKeysWith: { a, _ in a })
        var endpoint = APIEndpoint(address: vpcGateway)
        if let e = top.entries["api"], e.value.isNull {
            r.error(e.key.location, "api is empty; give it address and/or port (e.g. {address: 10.0.0.254, port: 6443}) or remove the key")
            return
        }
        let f = top.optional("api").flatMap { r.fields($0, "api", allowed: keys["api"]!) }
        if let n = f?.optional("port"), let p = r.int(n, "api.port", range: 1...65535) {
            if p.value == APIEndpoint.localPort {
                r.error(p.loc, "api.port \(p.value) is the port the API serves netlab itself on inside its namespace; choose another, e.g. 6443")
            } else { endpoint.port = p.value }
        }
        if let n = f?.optional("tls"), let b = r.bool(n, "api.tls") { endpoint.tls = b.value; apiTLSLocation = b.loc }
        if let n = f?.optional("address") {
            guard let a = r.address(n, "api.address", example: "10.0.0.254"),
                  checkHost(a, in: subnet.value, what: "api.address", rangeName: "vpc.subnet") else { return }
            if a.value == vpcGateway {
                r.error(a.loc, "api.address \(a.value) is the VPC gateway's address; give the API another address in \(subnet.value)")
                return
            }
            if let node = taken[a.value] {
                r.error(a.loc, "api.address \(a.value) is already the ip of \(node); the API needs an address of its own in \(subnet.value)")
                return
            }
            endpoint.address = a.value
        } else {
            guard let a = APIEndpoint.defaultAddress(subnet: subnet.value, taken: Set(taken.keys).union([vpcGateway])) else {
                r.error(subnet.loc, "vpc.subnet \(subnet.value) has no address left for the lab's API after the gateway and the nodes; use a larger subnet or give api.address")
                return
            }
            endpoint.address = a
        }
        api = endpoint
    }

    /// The API serves the `kubernetes` Service in `default` at the service range's first host, as
    /// kube-apiserver does; a topology service cannot take its name or its address. (Automatic
    /// clusterIPs start TopologyLoader.clusterIPAllocationOffset into the range, so only a pinned
    /// one can collide.)
    func checkKubernetesService() {
        guard let range = serviceCIDR?.value else { return }
        let reserved = LabSeed.kubernetesClusterIP(serviceCIDR: range)
        for s in services {
            if let name = s.name, name.value == LabSeed.kubernetesService, s.namespace == LabSeed.kubernetesNamespace {
                r.error(name.loc, "\(s.label) in namespace \(s.namespace) is the lab's API's own Service (it points at the API endpoint, as in every cluster); give yours another name")
            }
            if let ip = s.clusterIP, ip.value == reserved {
                r.error(ip.loc, "\(s.label) clusterIP \(ip.value) is the `kubernetes` Service's (the first address of serviceCIDR \(range), as kube-apiserver reserves it); pick another or leave clusterIP out to get one allocated")
            }
        }
    }

    /// netlab-proxy and netlab's own client speak plain HTTP only: a TLS API needs agents that speak
    /// HTTPS (kube-proxy does).
    func checkAPITLS() {
        guard let loc = apiTLSLocation, api?.tls == true else { return }
        for a in agents where a.command.first.map({ $0 == "netlab-proxy" || $0.hasSuffix("/netlab-proxy") }) == true {
            r.error(loc, "api.tls serves HTTPS, but agent '\(a.name)' runs netlab-proxy, which speaks plain HTTP only; run the lab without tls, or an agent that speaks HTTPS (kube-proxy)")
        }
    }
}
