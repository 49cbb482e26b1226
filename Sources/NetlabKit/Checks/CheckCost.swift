/// A rough forecast of how long a check runs, for `netlab suite` to start its slowest labs first
/// (longest first keeps `--jobs` labs busy to the end instead of leaving one long lab alone at
/// the end). Only the order depends on it; no check is judged by it.
extension Check {
    public var estimatedSeconds: Double {
        // An answer comes in milliseconds; silence costs the whole timeout, every time.
        let silent = !expect.reply || expect.error == .timeout
        var s = Double(count) * (silent ? timeoutSeconds : 0.01)
        s += stream?.durationSeconds ?? 0
        // Each change waits for the datapath to follow, and the lab is put back after the check.
        if !changes.isEmpty || !unready.isEmpty { s += 0.25 * Double(changes.count + (unready.isEmpty ? 0 : 1) + 1) }
        s += 0.3 * Double(faults.count)
        s += consistentlySeconds ?? 0
        return s
    }
}

extension Topology {
    /// The forecast of its checks together (see Check.estimatedSeconds).
    public var estimatedCheckSeconds: Double { checks.reduce(0) { $0 + $1.estimatedSeconds } }

    /// The order in which to start `topologies`: the longest forecast first, ties in the given order.
    public static func longestFirst(_ topologies: [Topology]) -> [Int] {
        topologies.indices.sorted { a, b in
            let (x, y) = (topologies[a].estimatedCheckSeconds, topologies[b].estimatedCheckSeconds)
            return x != y ? x > y : a < b
        }
    }
}
