/// Text helpers shared by the diagram renderers: escaping for Mermaid, XML and HTML, and text
/// widths. Diagrams use a monospace font so widths can be computed without font metrics.
enum DiagramText {
    static let font = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace"
    /// Advance of one character as a fraction of the font size (DejaVu Sans Mono: 0.602; a
    /// little more so a fallback font still fits).
    static let advance = 0.62

    static func width(_ s: String, size: Double) -> Double { Double(s.count) * size * advance }

    /// Mermaid message and note text: `#` and `;` end a message or start an entity, `<`/`>`
    /// would be read as HTML; all are written as Mermaid entity codes.
    static func mermaid(_ s: String) -> String {
        var o = ""
        for c in s {
            switch c {
            case "#": o += "#35;"
            case ";": o += "#59;"
            case "<": o += "#lt;"
            case ">": o += "#gt;"
            case "\"": o += "#quot;"
            case "\n", "\r": o += " "
            default: o.append(c)
            }
        }
        return o
    }

    /// Text in XML (SVG) and HTML content and attribute values.
    static func xml(_ s: String) -> String {
        var o = ""
        for u in s.unicodeScalars {
            switch u {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            // Characters XML 1.0 cannot carry at all.
            case _ where (u.value < 0x20 && u != "\n" && u != "\t") || (0xFFFE...0xFFFF).contains(u.value): o += "?"
            default: o.unicodeScalars.append(u)
            }
        }
        return o
    }

    /// Splits a line longer than `limit` characters at spaces (a word longer than the limit is cut).
    static func wrap(_ s: String, limit: Int) -> [String] {
        guard s.count > limit else { return [s] }
        var lines: [String] = []
        var cur = ""
        let indent = String(s.prefix { $0 == " " })
        for w in s.split(separator: " ", omittingEmptySubsequences: true) {
            var word = String(w)
            while word.count > limit { lines.append(cur.isEmpty ? String(word.prefix(limit)) : cur); cur = ""; word = String(word.dropFirst(limit)) }
            if cur.isEmpty { cur = (lines.isEmpty ? indent : indent + "  ") + word }
            else if cur.count + 1 + word.count <= limit { cur += " " + word }
            else { lines.append(cur); cur = indent + "  " + word }
        }
        if !cur.isEmpty { lines.append(cur) }
        return lines
    }

    static func fmt(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
}
