import Foundation

// MARK: - Mermaid

extension PacketPathDiagram {
    /// A Mermaid `sequenceDiagram` (GitHub renders it in Markdown, step summaries and PR
    /// comments). Participants get short ids (L0, L1, ...) with the hop as alias, since hop names
    /// contain `/`; rewrites and failures sit in tinted `rect` blocks so they stand out.
    public func mermaid() -> String {
        var ids: [String: String] = [:]
        var out = ["sequenceDiagram"]
        for (i, l) in lifelines.enumerated() {
            ids[l.id] = "L\(i)"
            out.append("    participant L\(i) as \(DiagramText.mermaid(l.captured ? l.id : "\(l.id) (not captured)"))")
        }
        func over(_ ls: [String]) -> String {
            let ix = ls.compactMap { id in lifelines.firstIndex { $0.id == id } }.sorted()
            guard let a = ix.first, let b = ix.last else { return "L0" }
            return a == b ? "L\(a)" : "L\(a),L\(b)"
        }
        func note(_ ls: [String], _ lines: [String], tint: String?) {
            let text = lines.map(DiagramText.mermaid).joined(separator: "<br/>")
            if let tint { out.append("    rect \(tint)") }
            out.append("    \(tint == nil ? "" : "    ")Note over \(over(ls)): \(text)")
            if tint != nil { out.append("    end") }
        }
        for s in steps {
            switch s {
            case .arrow(let a):
                out.append("    \(ids[a.from] ?? "L0")\(a.reply ? "-->>" : "->>")\(ids[a.to] ?? "L0"): \(DiagramText.mermaid(a.label))")
            case .rewrite(let r):
                note(r.at, r.changes.map(\.text), tint: "rgb(255, 236, 179)")
            case .note(let n):
                // Mermaid does not wrap notes: long observations (full tcpdump lines) are cut;
                // the summary's table and the SVG carry them whole.
                let lines = n.lines.map { $0.count > 120 ? String($0.prefix(119)) + "…" : $0 }
                note(n.over, lines, tint: n.kind == .failure ? "rgb(255, 205, 210)" : nil)
            case .stop(let x):
                if x.from == x.missing {
                    note([x.from], [x.label], tint: "rgb(255, 205, 210)")
                } else {
                    out.append("    \(ids[x.from] ?? "L0")-x\(ids[x.missing] ?? "L0"): \(DiagramText.mermaid(x.label))")
                }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }
}

// MARK: - Layout

/// A rectangle in SVG user units (pixels).
public struct DiagramBox: Hashable, Sendable {
    public var x: Double, y: Double, width: Double, height: Double
    public init(x: Double, y: Double, width: Double, height: Double) { self.x = x; self.y = y; self.width = width; self.height = height }
    public var maxX: Double { x + width }
    public var maxY: Double { y + height }
    public func intersects(_ o: DiagramBox) -> Bool { x < o.maxX && o.x < maxX && y < o.maxY && o.y < maxY }
}

/// Where everything of a sequence diagram goes: one row per step, so no two texts share a row,
/// and lifelines far enough apart that every arrow's label fits between its two ends.
public struct SequenceLayout: Hashable, Sendable {
    public enum Style: Hashable, Sendable { case forward, reply, rewrite, arp, failure, stop }

    public struct Item: Hashable, Sendable {
        public var style: Style
        public var lines: [String]
        public var fontSize: Double
        /// The text's box (an arrow's label above the arrow, or a note's box).
        public var box: DiagramBox
        /// For arrows: the ends and the line's height.
        public var x1: Double?, x2: Double?, lineY: Double?
    }

    public var width: Double, height: Double
    public var titleText: String
    public var subtitle: String?
    public var titleBox: DiagramBox
    public var lifelineX: [Double]
    public var headers: [DiagramBox]
    public var lifelineBottom: Double
    public var items: [Item]

    /// Every box holding text: the title, the lifeline headers, labels and notes.
    public var textBoxes: [DiagramBox] { [titleBox] + headers + items.map(\.box) }

    static let margin = 16.0, labelSize = 12.0, noteSize = 12.0, arpSize = 11.0, headerSize = 13.0, lineHeight = 16.0
    static let headerHeight = 44.0, wrapAt = 110

    public init(_ d: PacketPathDiagram) {
        let m = Self.margin
        let n = max(d.lifelines.count, 1)
        let index = Dictionary(d.lifelines.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
        let minHeader: Double = DiagramText.width("not captured", size: 11)
        let headerW: [Double] = d.lifelines.map { l in
            let w: Double = DiagramText.width(l.id, size: Self.headerSize)
            return max(w, minHeader) + 24
        }

        // Items without positions yet: the lifelines they span and their text.
        struct Pending { var style: Style; var a: Int; var b: Int; var lines: [String]; var size: Double; var isArrow: Bool }
        var pending: [Pending] = []
        func span(_ ids: [String]) -> (Int, Int) {
            let ix = ids.compactMap { index[$0] }.sorted()
            return (ix.first ?? 0, ix.last ?? 0)
        }
        func wrapped(_ lines: [String]) -> [String] { lines.flatMap { DiagramText.wrap($0, limit: Self.wrapAt) } }
        for s in d.steps {
            switch s {
            case .arrow(let a):
                pending.append(Pending(style: a.reply ? .reply : .forward, a: index[a.from] ?? 0, b: index[a.to] ?? 0,
                                       lines: [a.label], size: Self.labelSize, isArrow: true))
            case .rewrite(let r):
                let (a, b) = span(r.at)
                pending.append(Pending(style: .rewrite, a: a, b: b, lines: wrapped(r.changes.map(\.text)), size: Self.noteSize, isArrow: false))
            case .note(let note):
                let (a, b) = span(note.over)
                pending.append(Pending(style: note.kind == .arp ? .arp : .failure, a: a, b: b, lines: wrapped(note.lines),
                                       size: note.kind == .arp ? Self.arpSize : Self.noteSize, isArrow: false))
            case .stop(let x):
                if x.from == x.missing {
                    let (a, b) = span([x.from])
                    pending.append(Pending(style: .failure, a: a, b: b, lines: [x.label], size: Self.noteSize, isArrow: false))
                } else {
                    pending.append(Pending(style: .stop, a: index[x.from] ?? 0, b: index[x.missing] ?? 0, lines: [x.label],
                                           size: Self.labelSize, isArrow: true))
                }
            }
        }

        // Gaps between neighbouring lifelines: room for both headers, then widened (narrowest
        // spans first) until each arrow's label fits between its ends.
        var gaps: [Double] = (0..<max(n - 1, 0)).map { (k: Int) -> Double in
            let both: Double = headerW[k] / 2 + headerW[k + 1] / 2 + 24
            return max(110, both)
        }
        for p in pending.filter({ $0.isArrow && $0.a != $0.b }).sorted(by: { abs($0.a - $0.b) < abs($1.a - $1.b) }) {
            let lo = min(p.a, p.b), hi = max(p.a, p.b)
            let need = DiagramText.width(p.lines[0], size: p.size) + 28
            let have = gaps[lo..<hi].reduce(0, +)
            if have < need { for k in lo..<hi { gaps[k] += (need - have) / Double(hi - lo) } }
        }
        var xs = [m + (headerW.first ?? 100) / 2]
        for g in gaps { xs.append(xs.last! + g) }

        let titleText = (d.passed ? "✓ " : "✗ ") + d.check + (d.passed ? " passed" : " FAILED")
        let sub = d.description
        let titleH = sub == nil ? 24.0 : 42.0
        var y = m + titleH + 8
        let headerY = y
        y += Self.headerHeight + 18

        var items: [Item] = []
        for p in pending {
            let lh = p.size + 4
            if p.isArrow && p.a != p.b {
                let x1 = xs[p.a], x2 = xs[p.b]
                let w = DiagramText.width(p.lines[0], size: p.size) + 8
                let box = DiagramBox(x: (x1 + x2) / 2 - w / 2, y: y, width: w, height: lh)
                items.append(Item(style: p.style, lines: p.lines, fontSize: p.size, box: box, x1: x1, x2: x2, lineY: y + lh + 5))
                y += lh + 5 + 14
            } else {
                let w0 = p.lines.map { DiagramText.width($0, size: p.size) }.max() ?? 0
                let spanW = xs[max(p.a, p.b)] - xs[min(p.a, p.b)]
                let w = max(w0 + 16, p.a == p.b ? 0 : spanW + 40)
                let h = Double(p.lines.count) * lh + 10
                let box = DiagramBox(x: (xs[p.a] + xs[p.b]) / 2 - w / 2, y: y, width: w, height: h)
                items.append(Item(style: p.style, lines: p.lines, fontSize: p.size, box: box, x1: nil, x2: nil, lineY: nil))
                y += h + 10
            }
        }
        let bottom = y + 6

        // Notes centred on the first lifeline may stick out on the left: shift everything right.
        var headers = xs.enumerated().map { k, x in DiagramBox(x: x - headerW[k] / 2, y: headerY, width: headerW[k], height: Self.headerHeight) }
        let titleW = max(DiagramText.width(titleText, size: 15), DiagramText.width(sub ?? "", size: 12)) + 4
        var title = DiagramBox(x: m, y: m, width: titleW, height: titleH)
        let minX = (headers + items.map(\.box)).map(\.x).min() ?? m
        let shift = max(0, m - minX)
        xs = xs.map { $0 + shift }
        headers = headers.map { var b = $0; b.x += shift; return b }
        items = items.map { var i = $0; i.box.x += shift; i.x1 = i.x1.map { $0 + shift }; i.x2 = i.x2.map { $0 + shift }; return i }
        title.x = m
        self.width = ((headers + items.map(\.box) + [title]).map(\.maxX).max() ?? 200) + m
        self.height = bottom + m
        self.titleText = titleText
        self.subtitle = sub
        self.titleBox = title
        self.lifelineX = xs
        self.headers = headers
        self.lifelineBottom = bottom
        self.items = items
    }
}

// MARK: - SVG and HTML

extension PacketPathDiagram {
    public func layout() -> SequenceLayout { SequenceLayout(self) }

    /// A self-contained SVG: no scripts, no external fonts or images.
    public func svg() -> String {
        let l = layout()
        let f = DiagramText.fmt, x = DiagramText.xml
        var o: [String] = []
        o.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(l.width))\" height=\"\(f(l.height))\" viewBox=\"0 0 \(f(l.width)) \(f(l.height))\" font-family=\"\(x(DiagramText.font))\">")
        o.append("<title>\(x(check)) packet path</title>")
        o.append("""
        <defs>
        <marker id="h-forward" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1d4ed8"/></marker>
        <marker id="h-reply" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#15803d"/></marker>
        </defs>
        """)
        o.append("<rect x=\"0\" y=\"0\" width=\"\(f(l.width))\" height=\"\(f(l.height))\" fill=\"#ffffff\"/>")
        let tb = l.titleBox
        o.append("<text x=\"\(f(tb.x))\" y=\"\(f(tb.y + 17))\" font-size=\"15\" font-weight=\"bold\" fill=\"\(passed ? "#15803d" : "#b91c1c")\">\(x(l.titleText))</text>")
        if let sub = l.subtitle {
            o.append("<text x=\"\(f(tb.x))\" y=\"\(f(tb.y + 36))\" font-size=\"12\" fill=\"#475569\">\(x(sub))</text>")
        }
        for (k, h) in l.headers.enumerated() {
            let ll = lifelines[k]
            let cx = l.lifelineX[k]
            o.append("<line x1=\"\(f(cx))\" y1=\"\(f(h.maxY))\" x2=\"\(f(cx))\" y2=\"\(f(l.lifelineBottom))\" stroke=\"#94a3b8\" stroke-width=\"1.2\"\(ll.captured ? "" : " stroke-dasharray=\"4 4\"")/>")
            o.append("<rect x=\"\(f(h.x))\" y=\"\(f(h.y))\" width=\"\(f(h.width))\" height=\"\(f(h.height))\" rx=\"5\" fill=\"\(ll.captured ? "#e0e7ff" : "#f8fafc")\" stroke=\"\(ll.captured ? "#3730a3" : "#64748b")\"\(ll.captured ? "" : " stroke-dasharray=\"4 3\"")/>")
            o.append("<text x=\"\(f(cx))\" y=\"\(f(h.y + (ll.captured ? 27 : 19)))\" font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#1e1b4b\">\(x(ll.id))</text>")
            if !ll.captured {
                o.append("<text x=\"\(f(cx))\" y=\"\(f(h.y + 35))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#64748b\">not captured</text>")
            }
        }
        for it in l.items {
            let b = it.box
            switch it.style {
            case .forward, .reply, .stop:
                guard let x1 = it.x1, let x2 = it.x2, let ly = it.lineY else { continue }
                let colour = it.style == .forward ? "#1d4ed8" : it.style == .reply ? "#15803d" : "#b91c1c"
                if it.style == .stop {
                    // The packet's way to the hop that never saw it, ending in a red cross.
                    let dir = x2 > x1 ? 1.0 : -1.0
                    o.append("<line x1=\"\(f(x1))\" y1=\"\(f(ly))\" x2=\"\(f(x2 - dir * 9))\" y2=\"\(f(ly))\" stroke=\"\(colour)\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>")
                    o.append("<path d=\"M\(f(x2 - 8)),\(f(ly - 8)) L\(f(x2 + 8)),\(f(ly + 8)) M\(f(x2 - 8)),\(f(ly + 8)) L\(f(x2 + 8)),\(f(ly - 8))\" stroke=\"\(colour)\" stroke-width=\"3.5\" stroke-linecap=\"round\"/>")
                } else {
                    o.append("<line x1=\"\(f(x1))\" y1=\"\(f(ly))\" x2=\"\(f(x2))\" y2=\"\(f(ly))\" stroke=\"\(colour)\" stroke-width=\"1.6\"\(it.style == .reply ? " stroke-dasharray=\"6 3\"" : "") marker-end=\"url(#h-\(it.style == .reply ? "reply" : "forward"))\"/>")
                }
                o.append("<rect x=\"\(f(b.x))\" y=\"\(f(b.y))\" width=\"\(f(b.width))\" height=\"\(f(b.height))\" fill=\"#ffffff\" fill-opacity=\"0.9\"/>")
                o.append("<text x=\"\(f(b.x + b.width / 2))\" y=\"\(f(b.y + it.fontSize))\" font-size=\"\(f(it.fontSize))\" text-anchor=\"middle\" fill=\"\(colour)\"\(it.style == .stop ? " font-weight=\"bold\"" : "")>\(x(it.lines[0]))</text>")
            case .rewrite, .arp, .failure:
                let (fill, stroke, ink) = it.style == .rewrite ? ("#fef3c7", "#d97706", "#78350f")
                    : it.style == .arp ? ("#f1f5f9", "#94a3b8", "#475569") : ("#fee2e2", "#b91c1c", "#7f1d1d")
                o.append("<rect x=\"\(f(b.x))\" y=\"\(f(b.y))\" width=\"\(f(b.width))\" height=\"\(f(b.height))\" rx=\"4\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"\(it.style == .arp ? "1" : "1.6")\"/>")
                let lh = it.fontSize + 4
                for (i, line) in it.lines.enumerated() {
                    let bold = it.style == .rewrite || (it.style == .failure && i == 0)
                    o.append("<text x=\"\(f(b.x + 8))\" y=\"\(f(b.y + 5 + lh * Double(i) + it.fontSize))\" font-size=\"\(f(it.fontSize))\" fill=\"\(ink)\"\(bold ? " font-weight=\"bold\"" : "") xml:space=\"preserve\">\(x(line))</text>")
                }
            }
        }
        o.append("</svg>")
        return o.joined(separator: "\n") + "\n"
    }

    /// The SVG in a page with the check's failed expectations as a table, for opening the
    /// artifacts in a browser.
    public func html() -> String {
        let x = DiagramText.xml
        var o = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
                 "<title>\(x(check)): \(passed ? "passed" : "FAILED")</title>",
                 "<style>body{font-family:system-ui,sans-serif;margin:16px;color:#0f172a}table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #cbd5e1;padding:4px 8px;text-align:left;vertical-align:top;font-family:\(DiagramText.font);font-size:12px}th{background:#f1f5f9}.legend span{margin-right:16px;font-size:13px}</style>",
                 "</head><body>"]
        if !failedExpectations.isEmpty || error != nil {
            o.append("<table><tr><th>failed</th><th>expected</th><th>observed</th></tr>")
            if let e = error { o.append("<tr><td>error</td><td></td><td>\(x(e))</td></tr>") }
            for e in failedExpectations { o.append("<tr><td>\(x(e.name))</td><td>\(x(e.expected))</td><td>\(x(e.observed))</td></tr>") }
            o.append("</table>")
        }
        o.append("<p class=\"legend\"><span style=\"color:#1d4ed8\">→ request</span><span style=\"color:#15803d\">⇢ answer</span><span style=\"background:#fef3c7\">address rewrite (NAT)</span><span style=\"background:#f1f5f9\">ARP</span><span style=\"color:#b91c1c\">✗ where it stopped</span></p>")
        o.append(svg())
        o.append("</body></html>")
        return o.joined(separator: "\n") + "\n"
    }
}
