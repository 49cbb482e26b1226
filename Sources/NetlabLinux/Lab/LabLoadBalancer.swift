import NetlabKit

extension Lab {
    /// The gateway routes each LoadBalancer VIP and externalIP to every node (LoadBalancerRoute:
    /// ECMP, passthrough). The routes live in the gateway's namespace and go with it.
    func routeLoadBalancers() throws {
        let routes = LoadBalancerRoute.routes(of: topology)
        guard let member = routes.first?.member else { return }
        let socket = try edges.netlink.socket(in: try namespace(member))
        let links = try RouteNetlink(socket: socket).listLinks()
        var batch: [NetlinkRequest] = []
        for r in routes {
            guard let index = links.first(where: { $0.name == r.device })?.index else {
                throw LabError.broken(name, "no link \(r.device) in \(member) to route \(r.what) \(r.destination.address) through")
            }
            logStep("load balancer route", member: member, ["destination": "\(r.destination)", "for": "\(r.what)"])
            batch.append(try RouteRequest.addMultipathRoute(destination: r.destination, gateways: r.nextHops, deviceIndex: index, deviceName: r.device))
        }
        try socket.perform(batch)
    }
}
