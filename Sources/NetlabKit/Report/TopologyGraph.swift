import Foundation

/// `netlab graph`: the lab drawn as boxes and links — the client, the gateway, the VPC bridge, nodes and
/// their pods with addresses and pod ranges — as a Mermaid flowchart and as an SVG. Pod
/// addresses come from a lab that is up; without one each pod shows its node's range.
public struct TopologyGraph: Sendable {
    public struct Box: Hashable, Sendable {
        /// `gw`: the datapath's gateway; `api`: the lab's Kubernetes API; `router`: a routed VPC.
        public enum Kind: Hashable, Sendable { case client, gw, api, bridge, router, node, pod, service }
        public var id: String
        public var kind: Kind
        public var title: String
        public var lines: [String]
    }

    public struct Link: Hashable, Sendable {
        public var a: String, b: String
        /// "client/eth0 — gw/eth1"
        public var label: String
        public var dashed: Bool
    }

    public var name: String
    public var boxes: [Box]
    public var links: [Link]

    /// `plan` is the lab's; a graph is the same for every lab of a topology, so it is drawn from
    /// the topology's datapath.
    public init(topology t: Topology, datapath d: Datapath, pods: [String: LabRecord.PodAddress] = [:]) {
        name = t.name
        var boxes: [Box] = []
        var links: [Link] = []
        func addresses(_ member: String) -> [String] {
            d.addresses.filter { $0.at.member == member }.map { "\($0.at.interface) \($0.prefix)" }
        }
        if let e = t.external, let client = d.the(.client) {
            let defaults = ["default via \(e.gatewayIP)"] + (e.gatewayIPv6.map { ["default via \($0)"] } ?? [])
            boxes.append(Box(id: client.name, kind: .client, title: client.name, lines: addresses(client.name) + defaults))
        }
        if let gw = d.the(.gateway) {
            var gwLines = addresses(gw.name)
            gwLines += d.nat.filter { $0.at == gw.name }.map { "1:1 NAT \($0.external) ↔ \($0.internalAddress)" }
            boxes.append(Box(id: gw.name, kind: .gw, title: "\(gw.name) (\(d.the(.router) == nil ? "VPC" : "NAT") gateway)", lines: gwLines))
        }
        for br in d.bridges {
            boxes.append(Box(id: br.at.member, kind: .bridge, title: "\(br.at.member): bridge \(br.at.interface)",
                             lines: ["subnet \(([t.vpc.subnet.description] + (t.vpc.subnetV6.map { [$0.description] } ?? [])).joined(separator: ", ")), mtu \(br.mtu), L2 only"]))
        }
        if let router = d.the(.router) {
            // Its host links share one address (the subnet's gateway): one line for them all.
            var lines: [String] = []
            for a in d.addresses where a.at.member == router.name {
                let on = d.addresses.filter { $0.at.member == router.name && $0.prefix == a.prefix }.map(\.at.interface)
                let line = "\(a.prefix) on \(on.joined(separator: ", "))"
                if !lines.contains(line) { lines.append(line) }
            }
            lines += d.routes.filter { $0.member == router.name && $0.gateway != nil }.map { "\($0.destination) via \($0.gateway!)" }
            boxes.append(Box(id: router.name, kind: .router, title: "\(router.name): VPC router (subnet \(t.vpc.subnet), L3)", lines: lines))
        }
        if let api = d.the(.apiServer) {
            boxes.append(Box(id: api.name, kind: .api, title: "\(api.name) (Kubernetes API)", lines: addresses(api.name) + [t.api.url]))
        }
        for v in d.veths {
            // A veth into a bridge's member links its owner to the bridge; others link the two namespaces.
            let a = v.a.member, b = v.b.member
            let bridge = d.bridges.first { $0.at.member == b && $0.ports.contains(v.b.interface) }
            links.append(Link(a: a, b: b, label: "\(v.a) — \(bridge.map { "\($0.at.interface) port \(v.b.interface)" } ?? v.b.description)", dashed: false))
        }
        for n in t.nodes {
            let uplink = d.uplink(of: n.name)
            let address = d.addresses.first { $0.at == uplink }.map { "\($0.prefix)" } ?? "\(n.ip)/\(t.vpc.subnet.length)"
            var lines = ["\(uplink?.interface ?? "") \(address)"]
            // A dual-stack node's IPv6 address on the same link.
            lines += d.addresses.filter { $0.at == uplink && $0.prefix.family == .ipv6 }.map { "\(uplink?.interface ?? "") \($0.prefix)" }
            if let e = n.externalIP { lines.append("external \(e)") }
            lines.append("pods \(n.podCIDR)")
            if let p6 = n.podCIDRv6 { lines.append("pods \(p6)") }
            let bridges = t.cni.nodeBridges
            lines += bridges.map { "bridge \($0) (CNI plugin)" }
            boxes.append(Box(id: n.name, kind: .node, title: n.name, lines: lines))
            for p in t.pods(on: n.name) {
                var pl: [String]
                if let a = pods[p.name] {
                    pl = ["\(d.podInterface) \(a.address)"] + (a.addressV6.map { ["\(d.podInterface) \($0)"] } ?? [])
                        + (a.gateway.map { ["gw \($0)"] } ?? []) + (a.gatewayV6.map { ["gw \($0)"] } ?? [])
                } else {
                    pl = ["\(d.podInterface) from \(n.podCIDR)"] + (n.podCIDRv6.map { ["\(d.podInterface) from \($0)"] } ?? [])
                }
                if !p.labels.isEmpty { pl.append(p.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")) }
                boxes.append(Box(id: p.name, kind: .pod, title: p.name, lines: pl))
                links.append(Link(a: n.name, b: p.name, label: bridges.first.map { "veth (CNI), \($0) port" } ?? "veth (CNI)", dashed: false))
            }
        }
        for s in t.services {
            let ports = s.ports.map { p in "\(p.port)→\(p.targetPort)" + (p.nodePort.map { " nodePort \($0)" } ?? "") + "/\(p.proto.rawValue)" }
            boxes.append(Box(id: "svc:" + s.name, kind: .service, title: "\(s.name) (\(s.type.rawValue))",
                             lines: s.clusterIPs.map(\.description) + ports))
            for p in t.pods where !s.selector.isEmpty && s.selector.allSatisfy({ p.labels[$0.key] == $0.value }) {
                links.append(Link(a: "svc:" + s.name, b: p.name, label: "selects", dashed: true))
            }
        }
        self.boxes = boxes
        self.links = links
    }

    // MARK: Mermaid

    /// A Mermaid `flowchart`: each node and its pods in a subgraph.
    public func mermaid() -> String {
        var ids: [String: String] = [:]
        for (i, b) in boxes.enumerated() { ids[b.id] = "n\(i)" }
        func label(_ b: Box) -> String {
            "\"" + ([b.title] + b.lines).map(DiagramText.mermaid).joined(separator: "<br/>") + "\""
        }
        func shape(_ b: Box) -> String {
            let l = label(b)
            switch b.kind {
            case .bridge: return "[[\(l)]]"
            case .pod: return "([\(l)])"
            case .service: return "{{\(l)}}"
            case .gw: return "[/\(l)\\]"
            case .router: return ">\(l)]"
            case .api: return "[(\(l))]"
            default: return "[\(l)]"
            }
        }
        var o = ["flowchart TB"]
        for b in boxes where b.kind != .node && b.kind != .pod { o.append("    \(ids[b.id]!)\(shape(b))") }
        for b in boxes where b.kind == .node {
            o.append("    subgraph sg_\(ids[b.id]!)[\"\(DiagramText.mermaid(b.title))\"]")
            o.append("        \(ids[b.id]!)\(shape(b))")
            for l in links where l.a == b.id && !l.dashed {
                if let p = boxes.first(where: { $0.id == l.b && $0.kind == .pod }) { o.append("        \(ids[p.id]!)\(shape(p))") }
            }
            o.append("    end")
        }
        for l in links {
            guard let a = ids[l.a], let b = ids[l.b] else { continue }
            o.append("    \(a) \(l.dashed ? "-.-" : "---")|\"\(DiagramText.mermaid(l.label))\"| \(b)")
        }
        o.append("    classDef pod fill:#ecfdf5,stroke:#047857")
        o.append("    classDef node fill:#e0e7ff,stroke:#3730a3")
        o.append("    classDef nat fill:#fef3c7,stroke:#d97706")
        let podIDs = boxes.filter { $0.kind == .pod }.compactMap { ids[$0.id] }
        let nodeIDs = boxes.filter { $0.kind == .node }.compactMap { ids[$0.id] }
        if !podIDs.isEmpty { o.append("    class \(podIDs.joined(separator: ",")) pod") }
        if !nodeIDs.isEmpty { o.append("    class \(nodeIDs.joined(separator: ",")) node") }
        for b in boxes where b.kind == .gw { o.append("    class \(ids[b.id]!) nat") }
        return o.joined(separator: "\n") + "\n"
    }

    // MARK: SVG

    /// Where each box goes: client and gw on top, the bridge across, each node in its own
    /// column with its pods in a row under it, services at the bottom.
    public struct Layout: Sendable {
        public var frames: [String: DiagramBox]
        public var width: Double, height: Double
    }

    static let size = 12.0, titleSize = 13.0

    static func boxSize(_ b: Box) -> (Double, Double) {
        let w = max(DiagramText.width(b.title, size: titleSize), b.lines.map { DiagramText.width($0, size: size) }.max() ?? 0) + 20
        return (w, 26 + Double(b.lines.count) * 16)
    }

    public func layout() -> Layout {
        let m = 20.0, vgap = 46.0, hgap = 24.0
        var frames: [String: DiagramBox] = [:]
        let nodes = boxes.filter { $0.kind == .node }
        // Each node's column: as wide as the node or its pods side by side.
        var columns: [(node: Box, pods: [Box], width: Double)] = []
        for n in nodes {
            let pods = links.filter { $0.a == n.id && !$0.dashed }.compactMap { l in boxes.first { $0.id == l.b && $0.kind == .pod } }
            let podsW = pods.map { Self.boxSize($0).0 }.reduce(0, +) + hgap * Double(max(pods.count - 1, 0))
            columns.append((n, pods, max(Self.boxSize(n).0, podsW)))
        }
        let columnsW = columns.map(\.width).reduce(0, +) + hgap * 2 * Double(max(columns.count - 1, 0))
        let tops = boxes.filter { $0.kind == .client || $0.kind == .gw }
        // The API sits on the bridge beside the gateway, not above it: its link drops straight down.
        let apis = boxes.filter { $0.kind == .api }
        let services = boxes.filter { $0.kind == .service }
        let servicesW = services.map { Self.boxSize($0).0 }.reduce(0, +) + hgap * Double(max(services.count - 1, 0))
        let topsW = (tops.map { Self.boxSize($0).0 }.max() ?? 0) + apis.map { 2 * (Self.boxSize($0).0 + hgap * 2) }.reduce(0, +)
        let inner = max(columnsW, topsW, servicesW, 300)
        let cx = m + inner / 2
        var y = m + 28
        var lastTop: DiagramBox?
        for b in tops {
            let (w, h) = Self.boxSize(b)
            let f = DiagramBox(x: cx - w / 2, y: y, width: w, height: h)
            frames[b.id] = f
            lastTop = f
            y += h + vgap
        }
        var beside = (lastTop?.maxX ?? cx) + hgap * 2
        var besideBottom = y
        for b in apis {
            let (w, h) = Self.boxSize(b)
            let top = lastTop.map { $0.y } ?? y
            frames[b.id] = DiagramBox(x: beside, y: top, width: w, height: h)
            beside += w + hgap * 2
            besideBottom = max(besideBottom, top + h + vgap)
        }
        y = besideBottom
        for b in boxes where b.kind == .bridge || b.kind == .router {
            let (_, h) = Self.boxSize(b)
            frames[b.id] = DiagramBox(x: m, y: y, width: inner, height: h)
            y += h + vgap
        }
        var x = m + (inner - columnsW) / 2
        var bottom = y
        for c in columns {
            let (nw, nh) = Self.boxSize(c.node)
            frames[c.node.id] = DiagramBox(x: x + (c.width - nw) / 2, y: y, width: nw, height: nh)
            let podsW = c.pods.map { Self.boxSize($0).0 }.reduce(0, +) + hgap * Double(max(c.pods.count - 1, 0))
            var px = x + (c.width - podsW) / 2
            let py = y + nh + vgap
            for p in c.pods {
                let (pw, ph) = Self.boxSize(p)
                frames[p.id] = DiagramBox(x: px, y: py, width: pw, height: ph)
                px += pw + hgap
                bottom = max(bottom, py + ph)
            }
            bottom = max(bottom, y + nh)
            x += c.width + hgap * 2
        }
        y = bottom + vgap
        x = m + (inner - servicesW) / 2
        for s in services {
            let (w, h) = Self.boxSize(s)
            frames[s.id] = DiagramBox(x: x, y: y, width: w, height: h)
            x += w + hgap
            bottom = y + h
        }
        return Layout(frames: frames, width: inner + 2 * m, height: bottom + m)
    }

    public func svg() -> String {
        let l = layout()
        let f = DiagramText.fmt, x = DiagramText.xml
        var o: [String] = []
        var right = l.width
        // Links first, so boxes cover their ends. A link into the bridge drops straight onto it.
        for link in links {
            guard var a = l.frames[link.a], var b = l.frames[link.b] else { continue }
            if a.y > b.y { swap(&a, &b) }
            func spans(_ id: String) -> Bool { boxes.first { $0.id == id }.map { $0.kind == .bridge || $0.kind == .router } ?? false }
            let bridge = spans(link.a) || spans(link.b)
            // Onto the bridge (or the router, as wide): straight down from the box above or up from the box below.
            let other = bridge ? (spans(link.a) ? l.frames[link.b]! : l.frames[link.a]!) : b
            let bx = other.x + other.width / 2
            let ax = bridge ? bx : a.x + a.width / 2
            let (ay, by) = (a.maxY, b.y)
            o.append("<line x1=\"\(f(ax))\" y1=\"\(f(ay))\" x2=\"\(f(bx))\" y2=\"\(f(by))\" stroke=\"\(link.dashed ? "#a16207" : "#475569")\" stroke-width=\"1.5\"\(link.dashed ? " stroke-dasharray=\"5 4\"" : "")/>")
            // Pod links fan out from their node; their labels would collide, and the pod's box names its eth0.
            let toPod = boxes.contains { $0.id == link.b && $0.kind == .pod }
            if !link.dashed && !toPod {
                let lx = (ax + bx) / 2 + 6, ly = (ay + by) / 2 + 4
                o.append("<text x=\"\(f(lx))\" y=\"\(f(ly))\" font-size=\"10\" fill=\"#64748b\">\(x(link.label))</text>")
                right = max(right, lx + DiagramText.width(link.label, size: 10) + 12)
            }
        }
        let head = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(right))\" height=\"\(f(l.height))\" viewBox=\"0 0 \(f(right)) \(f(l.height))\" font-family=\"\(x(DiagramText.font))\">",
                 "<title>\(x(name)) topology</title>",
                 "<rect x=\"0\" y=\"0\" width=\"\(f(right))\" height=\"\(f(l.height))\" fill=\"#ffffff\"/>",
                 "<text x=\"20\" y=\"30\" font-size=\"15\" font-weight=\"bold\" fill=\"#0f172a\">\(x(name))</text>"]
        // The header goes first; its width is known once the link labels are placed.
        o.insert(contentsOf: head, at: 0)
        for b in boxes {
            guard let r = l.frames[b.id] else { continue }
            let (fill, stroke) = Self.colours(b.kind)
            o.append("<rect x=\"\(f(r.x))\" y=\"\(f(r.y))\" width=\"\(f(r.width))\" height=\"\(f(r.height))\" rx=\"\(b.kind == .pod ? 12 : 5)\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"1.5\"/>")
            o.append("<text x=\"\(f(r.x + 10))\" y=\"\(f(r.y + 18))\" font-size=\"13\" font-weight=\"bold\" fill=\"#0f172a\">\(x(b.title))</text>")
            for (i, line) in b.lines.enumerated() {
                o.append("<text x=\"\(f(r.x + 10))\" y=\"\(f(r.y + 34 + 16 * Double(i)))\" font-size=\"12\" fill=\"#334155\" xml:space=\"preserve\">\(x(line))</text>")
            }
        }
        o.append("</svg>")
        return o.joined(separator: "\n") + "\n"
    }

    static func colours(_ k: Box.Kind) -> (String, String) {
        switch k {
        case .client: return ("#f1f5f9", "#475569")
        case .gw: return ("#fef3c7", "#d97706")
        case .api: return ("#f5f3ff", "#6d28d9")
        case .bridge: return ("#e2e8f0", "#334155")
        case .router: return ("#e0f2fe", "#0369a1")
        case .node: return ("#e0e7ff", "#3730a3")
        case .pod: return ("#ecfdf5", "#047857")
        case .service: return ("#fff7ed", "#c2410c")
        }
    }
}
