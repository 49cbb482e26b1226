import Yams

// A dual-stack value is a list of one address or prefix per family, IPv4 first, in the spirit of
// kube-apiserver's comma lists (`--service-cluster-ip-range=10.36.0.0/20,2001:db8:36::/112`). A
// scalar stays an IPv4 value, so every single-stack file reads as it always did.

/// One value per family as the file wrote it; either may be missing (not written, or wrong and
/// already reported).
struct DualStack<V4, V6> {
    var v4: Located<V4>?
    var v6: Located<V6>?
    /// Where the value (the scalar or the list) starts.
    var loc: YAMLLocation
    /// Where the list's IPv6 item is, when it has one (even one that did not parse).
    var v6Item: YAMLLocation? = nil
}

extension YAMLReader {
    /// An IPv6 address such as 2001:db8:0:1::37.
    func address6(_ node: YNode, _ what: String, example: String) -> Located<IPv6Address>? {
        parsed(node, what, example: example, kind: "an IPv6 address", expected: "an address", hint: Self.addressHint) { IPv6Address($0) }
    }

    /// An IPv6 prefix; `network: true` rejects host bits, as `prefix` does for IPv4.
    func prefix6(_ node: YNode, _ what: String, example: String, network: Bool) -> Located<IPv6Prefix>? {
        guard let p = parsed(node, what, example: example, kind: "an IPv6 prefix", expected: "an IPv6 prefix",
                             hint: { IPv6Address($0) != nil ? "the /length is missing" : nil }, { IPv6Prefix($0) }) else { return nil }
        if network && !p.value.isNetwork {
            error(p.loc, "\(what) \(p.value) has host bits set; write the network address \(p.value.network)")
            return nil
        }
        return p
    }

    /// An address of one family or a list [IPv4, IPv6].
    func dualAddress(_ node: YNode, _ what: String, example: String, exampleV6: String) -> DualStack<IPv4Address, IPv6Address>? {
        dual(node, what, example: example, exampleV6: exampleV6,
             v4: { self.address($0, $1, example: example) }, v6: { self.address6($0, $1, example: exampleV6) })
    }

    /// A prefix of one family or a list [IPv4, IPv6]; `network` as in `prefix`.
    func dualPrefix(_ node: YNode, _ what: String, example: String, exampleV6: String, network: Bool) -> DualStack<IPv4Prefix, IPv6Prefix>? {
        dual(node, what, example: example, exampleV6: exampleV6,
             v4: { self.prefix($0, $1, example: example, network: network) },
             v6: { self.prefix6($0, $1, example: exampleV6, network: network) })
    }

    /// The list's rules: one or two items, IPv4 first, then IPv6; IPv6 alone is refused (IPv6-only
    /// clusters are not supported yet) with the list to write instead.
    private func dual<V4, V6>(_ node: YNode, _ what: String, example: String, exampleV6: String,
                              v4: (YNode, String) -> Located<V4>?, v6: (YNode, String) -> Located<V6>?) -> DualStack<V4, V6>? {
        let listed = "[\(example), \(exampleV6)]"
        guard case .sequence(let seq) = node else {
            if isIPv6Text(node) {
                error(node.location, "\(what) '\(node.scalar?.string ?? "")' is IPv6 alone; IPv6-only clusters are not supported yet (netlab's dual-stack is IPv4-first, as GKE's): list IPv4 first, like \(listed)")
                return nil
            }
            guard let a = v4(node, what) else { return nil }
            return DualStack(v4: a, v6: nil, loc: node.location)
        }
        let items = Array(seq)
        guard !items.isEmpty else {
            error(node.location, "\(what) is an empty list; give one value per family, IPv4 first, like \(listed)")
            return nil
        }
        guard items.count <= 2 else {
            error(items[2].location, "\(what) has \(items.count) values; a dual-stack value has one per family, IPv4 first, like \(listed)")
            return nil
        }
        if isIPv6Text(items[0]) {
            let message = items.count == 1
                ? "\(what) lists only IPv6; IPv6-only clusters are not supported yet (netlab's dual-stack is IPv4-first, as GKE's): list IPv4 first, like \(listed)"
                : "\(what) lists IPv6 first; dual-stack values list IPv4 first, then IPv6 (IPv4 is the primary family, as in GKE), like \(listed)"
            error(items[0].location, message)
            return nil
        }
        var out = DualStack<V4, V6>(v4: v4(items[0], "\(what)[0]"), v6: nil, loc: node.location)
        if items.count == 2 {
            if !isIPv6Text(items[1]), case .scalar(let s) = items[1], items[1].tagName == .str,
               IPv4Address(s.string) != nil || IPv4Prefix(s.string) != nil {
                error(items[1].location, "\(what) lists two IPv4 values; a dual-stack value has one per family, IPv4 first and then IPv6, like \(listed)")
                return nil
            }
            out.v6Item = items[1].location
            out.v6 = v6(items[1], "\(what)[1]")
        }
        return out
    }

    private func isIPv6Text(_ node: YNode) -> Bool {
        guard case .scalar(let s) = node, node.tagName == .str else { return false }
        return s.string.contains(":")
    }
}
