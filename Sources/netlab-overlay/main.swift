// netlab-overlay: netlab's reference overlay agent, flannel's vxlan backend with its Kubernetes
// subnet manager (`flanneld --kube-subnet-mgr`), run per node as a topology `agents:` entry. It
// lists and watches the lab's API (docs/api.md) and programs the node's VTEP; the pure part
// (annotations, peers, wanted entries, the diff) is NetlabKit's VXLANOverlay.
import Foundation
import NetlabKit
import NetlabKubeClient
import NetlabLinux
#if canImport(Glibc)
import Glibc
#endif

func main() throws {
    signal(SIGPIPE, SIG_IGN)
    let options = try parseOptions(Array(CommandLine.arguments.dropFirst()))
    let client: KubeClient
    do { client = try KubeClient.forAgent(kubeconfig: options.kubeconfig, master: options.master, userAgent: "netlab-overlay/\(NetlabVersion.current)") }
    catch { throw Failure("\(error)") }
    // The agent runs inside its node's network namespace: a socket of its own is the node's.
    let netlink: RouteNetlink
    do { netlink = RouteNetlink(socket: try MnlNetlinkSocket.inCallersNamespace(label: "of node \(options.nodeName!)")) }
    catch { throw Failure("cannot open a netlink socket: \(error) (netlab-overlay needs CAP_NET_ADMIN)") }
    try OverlayAgent(options: options, client: client, netlink: netlink).run()
}

do {
    try main()
} catch {
    FileHandle.standardError.write(Data("netlab-overlay: \(error)\n".utf8))
    exit(1)
}
