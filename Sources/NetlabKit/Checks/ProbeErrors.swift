/// Why a probe got no answer, in the classes Kubernetes' e2e tests tell apart: a service without
/// endpoints must refuse (kube-proxy's REJECT: a TCP RST or ICMP port unreachable, at once), while
/// a policy that drops must let the client time out.
public enum ProbeErrorClass: String, Hashable, Sendable, Codable, CaseIterable {
    /// A TCP RST, or ICMP port unreachable / administratively prohibited, came back.
    case refused
    /// Nothing came back within the probe's timeout (a silent drop).
    case timeout
    /// ICMP host or network unreachable came back (no route, or no neighbour answered).
    case unreachable
    /// The packet was larger than the path MTU and the don't-fragment bit was set: the kernel
    /// refused it (EMSGSIZE) or ICMP "fragmentation needed" / "packet too big" came back.
    case fragNeeded = "frag-needed"
}
