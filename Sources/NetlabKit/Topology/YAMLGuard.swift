import Yams

// Checks run on the YAML text before the real `Yams.compose`, for inputs that would make Yams (or
// the loader after it) use unbounded time or memory. Found by fuzzing (fuzz/README.md):
//
// A "billion laughs" file — anchors whose aliases nest, `l1: &l1 [*l0, *l0, ...]` — composes to a
// tree that shares its subtrees, so it is small, but everything that walks it pays for every copy.
// Yams itself does: it hashes each mapping's keys to find duplicates, so one alias to a big list
// used as a key (`? *l7` or `*l7 : x`) takes exponential time inside Yams.compose; and the loader
// does too when it converts an inline conflist to JSON. A 450-byte file was enough to hang netlab.
//
// The check composes a copy of the text in which every `*` is replaced by a character the text
// does not contain. That copy has no aliases (so composing it is linear), and each former alias is
// a plain scalar starting with that character, at the same line and column (a plain scalar cannot
// start with `*`, and quoted or block scalars keep their style). Walking the copy in document order,
// as Yams resolves anchors, gives the size the real tree would expand to.
enum YAMLGuard {
    /// Topology files are a few KiB; anything past this is not one.
    static let maxBytes = 1 << 20
    /// The most nodes (scalars, lists and mappings) a file may expand to through aliases.
    static let maxExpandedNodes = 100_000

    /// Throws a located `TopologyError` when `yaml` is too big, or would expand past
    /// `maxExpandedNodes` through aliases. Returns normally for everything else, including YAML
    /// syntax errors, which the real parse reports.
    static func check(_ yaml: String, file: String) throws {
        let bytes = yaml.utf8.count
        if bytes > maxBytes {
            throw TopologyError(file: file, line: 0, column: 0,
                                "the topology file is \(bytes) bytes, more than the \(maxBytes) netlab reads; a topology is a few KiB (is this the right file?)")
        }
        // Without an anchor there is nothing to expand, without an alias nothing expands.
        guard yaml.utf8.contains(UInt8(ascii: "&")), yaml.utf8.contains(UInt8(ascii: "*")) else { return }
        guard let marker = unusedCharacter(in: yaml) else {
            throw TopologyError(file: file, line: 0, column: 0,
                                "the topology file uses YAML aliases (*name) and too many distinct characters for netlab to check them; write the aliased values out")
        }
        let copy = String(String.UnicodeScalarView(yaml.unicodeScalars.map { $0 == "*" ? marker : $0 }))
        // The copy only differs in scalar text, so it fails where the original does; report it
        // from here, since composing the original up to that point could already take forever.
        // A Parser, not Yams.compose: nodes hold their anchors weakly and the parser keeps them,
        // so it must outlive the walk below.
        let parser: Parser
        let root: YNode?
        do {
            parser = try Parser(yaml: copy)
            root = try parser.singleRoot()
        } catch {
            let e = TopologyLoader.syntaxError(error, file: file, yaml: copy)
            throw TopologyError(diagnostics: e.diagnostics.map {
                var d = $0
                d.message = String(String.UnicodeScalarView(d.message.unicodeScalars.map { $0 == marker ? "*" : $0 }))
                return d
            })
        }
        guard let root else { return }
        var sizes: [String: Int] = [:]
        var first: Mark?
        let total = withExtendedLifetime(parser) {
            expandedSize(root, marker: marker, anchors: &sizes, limit: maxExpandedNodes, firstOver: &first)
        }
        if total > maxExpandedNodes {
            throw TopologyError(file: file, line: first?.line ?? 0, column: first?.column ?? 0,
                                "YAML aliases expand the topology file to more than \(maxExpandedNodes) values (a \"billion laughs\" file); netlab refuses it, write the values out instead of nesting aliases")
        }
    }

    /// A character from Unicode's private use area that `text` does not contain: it can start a
    /// plain scalar and cannot be mistaken for anything the user wrote.
    private static func unusedCharacter(in text: String) -> Unicode.Scalar? {
        var used = Set<UInt32>()
        for s in text.unicodeScalars where (0xE000...0xF8FF).contains(s.value) { used.insert(s.value) }
        return (UInt32(0xE000)...0xF8FF).first { !used.contains($0) }.flatMap(Unicode.Scalar.init)
    }

    /// The node count of `node` with every alias replaced by its anchor's node, saturating just past
    /// `limit`. `firstOver` receives the alias at which the running total first passed `limit`.
    private static func expandedSize(_ node: YNode, marker: Unicode.Scalar, anchors: inout [String: Int],
                                     limit: Int, firstOver: inout Mark?) -> Int {
        var size = 1
        func add(_ n: Int, at mark: Mark?) {
            size = min(size + n, limit + 1)
            if size > limit, firstOver == nil { firstOver = mark }
        }
        switch node {
        case .scalar(let s):
            if s.style == .plain, s.string.unicodeScalars.first == marker {
                let name = String(s.string.unicodeScalars.dropFirst())
                if let n = anchors[name] { size = 0; add(n, at: s.mark) }
            }
        case .sequence(let seq):
            for item in seq { add(expandedSize(item, marker: marker, anchors: &anchors, limit: limit, firstOver: &firstOver), at: item.mark) }
        case .mapping(let map):
            for (k, v) in map {
                add(expandedSize(k, marker: marker, anchors: &anchors, limit: limit, firstOver: &firstOver), at: k.mark)
                add(expandedSize(v, marker: marker, anchors: &anchors, limit: limit, firstOver: &firstOver), at: v.mark)
            }
        case .alias:
            break   // Yams.compose resolves aliases; the copy has none.
        }
        // Yams registers an anchor once its node is complete, and a later one shadows it.
        if let anchor = node.anchor { anchors[anchor.rawValue] = size }
        return size
    }
}
