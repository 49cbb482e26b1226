/// A CNI specification version as written in `cniVersion`. netlab speaks the versions whose results
/// carry an `ips` list (0.3.0 and later); the 0.1/0.2 results (`ip4`/`ip6`) are refused.
public struct CNIVersion: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int

    /// Versions netlab can drive. Debian's containernetworking-plugins 1.1.1 accept up to 1.0.0; a
    /// 1.1.0 config is still accepted here, the plugins then refuse it with CNI error code 1.
    public static let supported: [CNIVersion] = [
        CNIVersion(0, 3, 0), CNIVersion(0, 3, 1), CNIVersion(0, 4, 0), CNIVersion(1, 0, 0), CNIVersion(1, 1, 0),
    ]

    public init(_ major: Int, _ minor: Int, _ patch: Int) { self.major = major; self.minor = minor; self.patch = patch }

    /// Parses and checks that netlab supports the version.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.count <= 4 && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let a = Int(parts[0]), let b = Int(parts[1]), let c = Int(parts[2]) else {
            throw CNIConfigError("cniVersion \"\(text)\" is not a version number like \"1.0.0\"")
        }
        let v = CNIVersion(a, b, c)
        if v < CNIVersion(0, 3, 0) {
            throw CNIConfigError("cniVersion \"\(text)\" is not supported: CNI 0.1.x/0.2.x results use the legacy ip4/ip6 format; "
                + "use \"0.3.1\", \"0.4.0\" or \"1.0.0\"")
        }
        guard CNIVersion.supported.contains(v) else {
            throw CNIConfigError("cniVersion \"\(text)\" is not supported; netlab supports "
                + CNIVersion.supported.map { "\"\($0)\"" }.joined(separator: ", "))
        }
        self = v
    }

    public var description: String { "\(major).\(minor).\(patch)" }

    public static func < (a: CNIVersion, b: CNIVersion) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }

    /// CHECK exists from spec 0.4.0 on; libcni refuses CheckNetworkList below it.
    public var supportsCheck: Bool { self >= CNIVersion(0, 4, 0) }

    /// libcni's DelNetworkList hands the cached ADD result to DEL as `prevResult` only from 0.4.0 on.
    public var passesPrevResultOnDel: Bool { self >= CNIVersion(0, 4, 0) }

    /// Result formats: 0.3.0–0.4.0 share one (ips carry "version"), 1.x another. libcni decodes a
    /// plugin's output with the parser of the configuration's version, so the families must match.
    public var resultFamily: Int { major >= 1 ? 1 : 0 }
}
