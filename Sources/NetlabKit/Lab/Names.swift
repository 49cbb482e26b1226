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

    /// `netlab-<lab>-<member>`, where member is a node, a pod, `vpc`, `gw` or `client`.
    public static func namespace(lab: String, member: String) -> String { "\(namespacePrefix)\(lab)-\(member)" }
    public static func namespacePath(lab: String, member: String) -> String { "\(netnsDirectory)/\(namespace(lab: lab, member: member))" }
    public static func stateDirectory(lab: String) -> String { "\(stateRoot)/\(lab)" }
    /// The CNI container ID of a pod: unique per lab, stable across up/down so host-local can release it.
    public static func containerID(lab: String, pod: String) -> String { "netlab-\(lab)-\(pod)" }
}
