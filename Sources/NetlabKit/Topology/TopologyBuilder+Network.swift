import Foundation
import Yams

// The top level: name, vpc, clusterCIDR and serviceCIDR, external.
extension TopologyBuilder {
    func readName(_ top: Fields) {
        name = defaultTopologyName(source)
        guard let n = top.optional("name"), let s = r.string(n, "name", example: "gke-vpc-native") else { return }
        if s.value.trimmingCharacters(in: .whitespaces).isEmpty {
            r.error(s.loc, "name is blank; give the topology a name like gke-vpc-native or remove the key to use the file name")
        } else {
            name = s.value
        }
    }

    func readVPC(_ top: Fields) {
        guard let node = top.required("vpc", expected: "a mapping with subnet, and optionally gateway and mtu"),
              let vpc = r.fields(node, "vpc", allowed: keys["vpc"]!) else { return }
        var subnetValue: DualStack<IPv4Prefix, IPv6Prefix>?
        if let n = vpc.required("subnet", expected: "the VPC's IPv4 prefix like 10.0.0.0/24") {
            subnetValue = r.dualPrefix(n, "vpc.subnet", example: "10.0.0.0/24", exampleV6: "2001:db8:0:1::/64", network: true)
        }
        if let s = subnetValue?.v4 {
            if s.value.length > 30 {
                r.error(s.loc, "vpc.subnet \(s.value) is too small: it needs room for the gateway and at least one node; use a /30 or larger, e.g. /24")
            } else {
                subnet = s
            }
        }
        let gatewayValue = vpc.optional("gateway").flatMap { r.dualAddress($0, "vpc.gateway", example: "10.0.0.1", exampleV6: "2001:db8:0:1::1") }
        let gateway = gatewayValue?.v4
        if let subnet {
            if let gateway {
                if checkHost(gateway, in: subnet.value, what: "vpc.gateway", rangeName: "vpc.subnet") { vpcGateway = gateway.value }
            } else {
                vpcGateway = subnet.value.first.advanced(by: 1)
            }
        }
        readVPCV6(subnet: subnetValue, gateway: gatewayValue)
        if let n = vpc.optional("mtu"), let m = r.int(n, "vpc.mtu", range: TopologyLoader.vpcMTURange) { mtu = m.value }
        if let n = vpc.optional("routing"), let s = r.string(n, "vpc.routing", example: "none") {
            if let v = VPC.Routing(rawValue: s.value) { routing = v } else {
                r.error(s.loc, "vpc.routing '\(s.value)' is not one of \(VPC.Routing.allCases.map(\.rawValue).joined(separator: ", ")): podRanges routes every node's podCIDR to it (VPC-native), none leaves the pod ranges to the agents")
            }
        }
    }

    /// True when `a` is a usable host of `prefix`: inside it and not its network or broadcast address.
    func checkHost(_ a: Located<IPv4Address>, in prefix: IPv4Prefix, what: String, rangeName: String) -> Bool {
        guard prefix.contains(a.value) else {
            r.error(a.loc, "\(what) \(a.value) is outside \(rangeName) \(prefix); use an address from \(prefix.first.advanced(by: 1)) to \(prefix.last.advanced(by: -1))")
            return false
        }
        if prefix.length <= 30 && (a.value == prefix.first || a.value == prefix.last) {
            let which = a.value == prefix.first ? "network" : "broadcast"
            r.error(a.loc, "\(what) \(a.value) is the \(which) address of \(rangeName) \(prefix); use an address from \(prefix.first.advanced(by: 1)) to \(prefix.last.advanced(by: -1))")
            return false
        }
        return true
    }

    func readRanges(_ top: Fields) {
        var clusterValue: DualStack<IPv4Prefix, IPv6Prefix>?, serviceValue: DualStack<IPv4Prefix, IPv6Prefix>?
        if let n = top.required("clusterCIDR", expected: "the pods' IPv4 range like 10.32.0.0/14; every node's podCIDR lies in it") {
            clusterValue = r.dualPrefix(n, "clusterCIDR", example: "10.32.0.0/14", exampleV6: "2001:db8:32::/64", network: true)
            clusterCIDR = clusterValue?.v4
        }
        if let n = top.optional("serviceCIDR") {
            serviceValue = r.dualPrefix(n, "serviceCIDR", example: "10.36.0.0/20", exampleV6: "2001:db8:36::/112", network: true)
            serviceCIDR = serviceValue?.v4
        } else {
            serviceCIDRIsDefault = true
            serviceCIDR = Located(value: TopologyLoader.defaultServiceCIDR, loc: top.loc)
        }
        readRangesV6(top, cluster: clusterValue, service: serviceValue)
        guard let svc = serviceCIDR else { return }
        // With the default range there is no serviceCIDR line to point at, so point at the range it collides with.
        let shown = serviceCIDRIsDefault ? "the default serviceCIDR \(svc.value) (used because the file sets none)" : "serviceCIDR \(svc.value)"
        let fix = serviceCIDRIsDefault ? "set serviceCIDR to a free range" : "pick a range that overlaps neither"
        if let cluster = clusterCIDR, svc.value.overlaps(cluster.value) {
            r.error(serviceCIDRIsDefault ? cluster.loc : svc.loc, "\(shown) overlaps clusterCIDR \(cluster.value); service and pod addresses must be distinct, \(fix)")
        }
        if let subnet, svc.value.overlaps(subnet.value) {
            r.error(serviceCIDRIsDefault ? subnet.loc : svc.loc, "\(shown) overlaps vpc.subnet \(subnet.value); service addresses must not be VPC addresses, \(fix)")
        }
    }

    func readExternal(_ top: Fields) {
        externalDeclared = top.entries["external"] != nil
        guard let node = top.optional("external"),
              let ext = r.fields(node, "external", allowed: keys["external"]!) else {
            if let e = top.entries["external"], e.value.isNull {
                r.error(e.key.location, "external is empty; give it client (e.g. 198.51.100.10/24) or remove the key")
            }
            return
        }
        guard let cn = ext.required("client", expected: "the client's address with its prefix, like 198.51.100.10/24"),
              let clientValue = r.dualPrefix(cn, "external.client", example: "198.51.100.10/24", exampleV6: "2001:db8:100::10/64", network: false),
              let client = clientValue.v4 else { return }
        var gatewayValue: DualStack<IPv4Address, IPv6Address>?
        let net = client.value.network
        var ok = true
        if client.value.length > 30 {
            r.error(client.loc, "external.client \(client.value) leaves no room for the gateway in its subnet; use a /30 or shorter prefix, e.g. /24")
            return
        }
        if client.value.address == net.first || client.value.address == net.last {
            r.error(client.loc, "external.client \(client.value) is the \(client.value.address == net.first ? "network" : "broadcast") address of its subnet \(net); use a host address such as \(net.first.advanced(by: 10))/\(net.length)")
            ok = false
        }
        let ranges: [(String, Located<IPv4Prefix>?)] = [("vpc.subnet", subnet), ("clusterCIDR", clusterCIDR), ("serviceCIDR", serviceCIDR)]
        for (rangeName, range) in ranges {
            if let range, range.value.overlaps(net) {
                r.error(client.loc, "external.client subnet \(net) overlaps \(rangeName) \(range.value); the client stands for the internet, so give it an address outside the cluster's ranges (e.g. 198.51.100.10/24)")
                ok = false
            }
        }
        var gateway = net.first.advanced(by: 1)
        if let gn = ext.optional("gateway") {
            gatewayValue = r.dualAddress(gn, "external.gateway", example: net.first.advanced(by: 1).description, exampleV6: "2001:db8:100::1")
            guard let g = gatewayValue?.v4 else { return }
            guard checkHost(g, in: net, what: "external.gateway", rangeName: "the client's subnet") else { return }
            if g.value == client.value.address {
                r.error(g.loc, "external.gateway \(g.value) is the client's own address; the gateway needs a different address in \(net)")
                return
            }
            gateway = g.value
        } else if gateway == client.value.address {
            r.error(client.loc, "external.client \(client.value.address) is the first host of \(net), which is also the default gateway; set external.gateway or pick another client address")
            return
        }
        if ok {
            external = External(clientIP: client.value, gatewayIP: gateway)
            readExternalV6(client: clientValue, gateway: gatewayValue)
        }
    }
}
