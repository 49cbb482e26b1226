/// The addresses and ports a topology leaves open, handed out as the Kubernetes API server would:
/// pure functions of the range and what is taken, so they are tested on their own.
enum Allocation {
    /// The automatic clusterIPs of `range`: from its first address + `offset` (the low addresses
    /// are left to the ones users pin) to the last before broadcast. Nil when the range is
    /// smaller than the offset.
    static func automaticClusterIPs(in range: IPv4Prefix, offset: Int) -> ClosedRange<IPv4Address>? {
        let start = Int64(range.first.value) + Int64(offset), end = Int64(range.last.value) - 1
        guard start <= end else { return nil }
        return IPv4Address(UInt32(start))...IPv4Address(UInt32(end))
    }

    /// `count` clusterIPs, lowest free first, none of them in `taken`; fewer when the range runs out.
    static func clusterIPs(_ count: Int, in range: IPv4Prefix, offset: Int, taken: Set<IPv4Address>) -> [IPv4Address] {
        guard count > 0, let span = automaticClusterIPs(in: range, offset: offset) else { return [] }
        var out: [IPv4Address] = []
        var next = Int64(span.lowerBound.value)
        while out.count < count && next <= Int64(span.upperBound.value) {
            let a = IPv4Address(UInt32(next))
            if !taken.contains(a) { out.append(a) }
            next += 1
        }
        return out
    }

    /// `count` node ports, lowest free first, none of them in `used` (for any protocol, so an
    /// allocated port never surprises); fewer when the range runs out.
    static func nodePorts(_ count: Int, in range: ClosedRange<Int>, used: Set<Int>) -> [Int] {
        var out: [Int] = []
        var next = range.lowerBound
        while out.count < count && next <= range.upperBound {
            if !used.contains(next) { out.append(next) }
            next += 1
        }
        return out
    }
}
