/// How a topology becomes a datapath: which members the lab has besides its nodes and pods,
/// how they are linked, addressed and routed. `Topology.shape` picks one: GKE's VPC-native
/// datapath (the default), a VPC that routes at L3, or the minimal pod — node — pod.
public protocol DatapathShape: Sendable {
    /// The members the shape adds itself, in creation order; nodes and pods cannot take their names.
    var ownMembers: [Member] { get }
    /// The interface a pod's CNI ADD is asked to create (CNI_IFNAME).
    var podInterface: String { get }
    func datapath(for topology: Topology) -> Datapath
}

extension Datapath {
    /// The default shape (`shape:` left out): its pod interface is every shape's.
    public static let shape: any DatapathShape = VPCNativeShape()

    public static func shape(_ s: Topology.Shape) -> any DatapathShape {
        switch s {
        case .vpcNative: return VPCNativeShape()
        case .routed: return RoutedShape()
        case .minimal: return MinimalShape()
        }
    }

    public init(topology: Topology) { self = Self.shape(topology.shape).datapath(for: topology) }
}
