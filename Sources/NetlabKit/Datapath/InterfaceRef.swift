/// An interface of a lab member, written `member/interface` ("node1/eth0"): in topology files
/// (`capture`, `expect.packets[].at`), capture points, packet hops and pcap names. The one
/// parser and printer of that form.
public struct InterfaceRef: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var member: String
    public var interface: String

    public init(member: String, interface: String) { self.member = member; self.interface = interface }

    public enum ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        case noSlash, tooManySlashes, emptyMember, emptyInterface, interfaceTooLong
        public var description: String {
            switch self {
            case .noSlash: return "it has no '/' between the member and the interface"
            case .tooManySlashes: return "it has more than one '/'"
            case .emptyMember: return "the member before '/' is empty"
            case .emptyInterface: return "the interface after '/' is empty"
            case .interfaceTooLong: return "the interface name is longer than 15 bytes"
            }
        }
    }

    /// The longest interface name Linux takes (IFNAMSIZ − 1).
    public static let maxInterfaceLength = 15

    public init(parsing text: some StringProtocol) throws(ParseError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2 else { throw .noSlash }
        guard parts.count == 2 else { throw .tooManySlashes }
        guard !parts[0].isEmpty else { throw .emptyMember }
        guard !parts[1].isEmpty else { throw .emptyInterface }
        guard parts[1].utf8.count <= Self.maxInterfaceLength else { throw .interfaceTooLong }
        self.init(member: String(parts[0]), interface: String(parts[1]))
    }

    public init?(_ text: some StringProtocol) {
        guard let r = try? InterfaceRef(parsing: text) else { return nil }
        self = r
    }

    /// The member a hop label names: the part before '/', or the whole label for a member drawn
    /// without an interface (the gateway lifeline of a path diagram).
    public static func member(ofHop hop: some StringProtocol) -> String {
        String(hop.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    public var description: String { "\(member)/\(interface)" }

    public static func < (a: InterfaceRef, b: InterfaceRef) -> Bool { (a.member, a.interface) < (b.member, b.interface) }
}
