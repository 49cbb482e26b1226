import Yams

extension TopologyBuilder {
    /// `overlay: {type: vxlan, vni: 1, port: 8472}`: what the agents build. It needs a VPC that
    /// does not route the pod ranges itself, or pod traffic would bypass the overlay.
    func readOverlay(_ top: Fields) {
        guard let n = top.optional("overlay"), let f = r.fields(n, "overlay", allowed: keys["overlay"]!) else { return }
        var o = Overlay()
        var ok = true
        if let t = f.required("type", expected: "the overlay's kind: vxlan") {
            if let v = r.enumeration(t, "overlay.type", Overlay.Kind.self) { o.kind = v.value } else { ok = false }
        } else { ok = false }
        if let v = f.optional("vni") {
            if let i = r.int(v, "overlay.vni", range: 1...0xffffff) { o.vni = UInt32(i.value) } else { ok = false }
        }
        if let v = f.optional("port") {
            if let i = r.int(v, "overlay.port", range: 1...65535) { o.port = UInt16(i.value) } else { ok = false }
        }
        if routing != .none {
            r.error(f.loc, "overlay needs vpc.routing: none: with the VPC routing the pod ranges (\(routing.rawValue)), pod traffic would cross it unencapsulated and bypass the overlay")
            ok = false
        }
        if shape != .vpcNative {
            r.error(f.loc, "overlay is for shape vpcNative (a bridged VPC the nodes share), not \(shape.rawValue)")
            ok = false
        }
        if ok { overlay = o }
    }
}

extension TopologyBuilder {
    /// A match's `vxlan: {vni: 1, src: node1.ip, dst: node2.ip, dport: 8472}`: the outer layer.
    func readVXLANPattern(_ node: YNode, what: String) -> VXLANPattern? {
        guard let f = r.fields(node, what, allowed: keys["checks[].expect.packets[].match.vxlan"]!) else { return nil }
        var p = VXLANPattern()
        var ok = true
        if let n = f.optional("vni") { if let v = r.int(n, "\(what).vni", range: 0...0xffffff) { p.vni = v.value } else { ok = false } }
        for (key, kind) in [("src", LabFacts.ValueKind.address), ("dst", .address), ("dport", .port)] {
            guard let n = f.optional(key) else { continue }
            guard let ref = readRef(n, "\(what).\(key)", kind: kind) else { ok = false; continue }
            switch key {
            case "src": p.src = ref
            case "dst": p.dst = ref
            default: p.dport = ref
            }
        }
        return ok ? p : nil
    }
}
