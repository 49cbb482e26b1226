/// How a topology becomes a datapath: which members the lab has besides its nodes and pods,
/// how they are linked, addressed and routed. Today's one is GKE's VPC-native datapath; an
/// overlay or a routed VPC would be a sibling.
public protocol DatapathShape: Sendable {
    /// The members the shape adds itself, in creation order; nodes and pods cannot take their names.
    var ownMembers: [Member] { get }
    /// The interface a pod's CNI ADD is asked to create (CNI_IFNAME).
    var podInterface: String { get }
    func datapath(for topology: Topology) -> Datapath
}

extension Datapath {
    /// The shape every lab has today.
    public static let shape: any DatapathShape = VPCNativeShape()

    public init(topology: Topology) { self = Self.shape.datapath(for: topology) }
}
