/// How netlab names what it creates, so that every object carries the lab's name and `clean` can
/// tell netlab's objects from everyone else's.
public enum LabNames {
    public static let namespacePrefix = "netlab-"
    public static let netnsDirectory = "/run/netns"
    public static let stateRoot = "/run/netlab"
    public static let defaultLab = "default"

    /// Lab names become part of namespace names and paths: lowercase letters, digits and inner
    /// dashes, at most 32 characters, so `../x` can never become a path.
    public static func validateLab(_ name: String) -> String? {
        if name.isEmpty { return "the lab name is empty: use letters, digits and '-', e.g. --name ci-1" }
        if name.count > 32 { return "the lab name '\(name)' is \(name.count) characters long: use at most 32" }
        let ok = name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        if !ok || name.hasPrefix("-") || name.hasSuffix("-") {
            return "the lab name '\(name)' may only hold lowercase letters, digits and inner '-' (e.g. 'ci-1')"
        }
        return nil
    }

    /// `netlab-<lab>.<member>`, where member is a node, a pod, `vpc`, `gw` or `client`. Lab and
    /// member names hold only `[a-z0-9-]` (validateLab; the topology's node and pod names), so the
    /// first `.` is where the lab ends: no two (lab, member) pairs share a name, whereas with a
    /// `-` lab `a`'s member `b-c` and lab `a-b`'s member `c` were both `netlab-a-b-c`.
    public static func namespace(lab: String, member: String) -> String { "\(namespacePrefix)\(lab).\(member)" }
    public static func namespacePath(lab: String, member: String) -> String { "\(netnsDirectory)/\(namespace(lab: lab, member: member))" }
    public static func stateDirectory(lab: String) -> String { "\(stateRoot)/\(lab)" }

    /// The lab and member a namespace name stands for, or nil when it is not a lab's name at all.
    public static func parseNamespace(_ name: String) -> (lab: String, member: String)? {
        guard name.hasPrefix(namespacePrefix) else { return nil }
        let rest = name.dropFirst(namespacePrefix.count)
        guard let dot = rest.firstIndex(of: ".") else { return nil }
        let lab = String(rest[..<dot]), member = String(rest[rest.index(after: dot)...])
        guard validateLab(lab) == nil, !member.isEmpty,
              member.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else { return nil }
        return (lab, member)
    }

    /// Names a person might take for netlab's: anything with netlab's prefix. `clean` deletes only
    /// what a journal proves netlab made; the rest it names and leaves alone.
    public static func looksLikeNetlab(_ namespace: String) -> Bool { namespace.hasPrefix(namespacePrefix) }

    /// The CNI container ID of a pod: the pod's namespace name, so it is unique on the host (a
    /// plugin that keeps host-wide state by container ID never mixes two labs up) and stable across
    /// up/down so host-local can release it.
    public static func containerID(lab: String, pod: String) -> String { namespace(lab: lab, member: pod) }

    /// `netlab doctor`'s scratch state, `doctor.<pid>` under the state root: a dot is never in a
    /// lab name, so it is no lab (`status` does not show it) and its namespaces,
    /// `netlab-doctor.<pid>.<member>`, are no lab's either.
    public static func doctorScratch(pid: Int32) -> String { "\(doctorScratchPrefix)\(pid)" }
    public static let doctorScratchPrefix = "doctor."

    /// The pid of a doctor scratch state directory's name, or nil when it is not one.
    public static func doctorScratchPID(_ entry: String) -> Int32? {
        guard entry.hasPrefix(doctorScratchPrefix) else { return nil }
        let digits = entry.dropFirst(doctorScratchPrefix.count)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int32(digits)
    }
}
