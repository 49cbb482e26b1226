import Foundation
import NetlabKit

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The command line, with flanneld's flag names where flanneld has one.
struct Options: Sendable {
    var kubeconfig: String?
    var master: String?
    /// flanneld reads NODE_NAME; here a flag (netlab passes {{nodeName}}).
    var nodeName: String?
    /// flanneld's --public-ip: the VTEP's local address; default the Node's InternalIP.
    var publicIP: IPv4Address?
    /// flanneld's --iface: the underlay link; default the link that holds the public IP.
    var iface: String?
    var vni = VXLANOverlay.defaultVNI
    var port = VXLANOverlay.defaultPort
    /// "" disables the health server.
    var healthzBindAddress = "127.0.0.1:10267"
    var syncPeriod = 30.0
    /// Tests only (--testing-omit, not in the usage): kinds of per-peer entries left out.
    var omissions: Set<VXLANOverlay.Kind> = []
}

let usage = """
usage: netlab-overlay --kubeconfig PATH | --master URL  --node-name NAME
                      [--public-ip IP] [--iface NAME] [--vni 1] [--port 8472]
                      [--healthz-bind-address 127.0.0.1:10267] [--sync-period 30s]

netlab's reference overlay agent: flannel's vxlan backend with its Kubernetes subnet manager
(`flanneld --kube-subnet-mgr`). It makes the VTEP flannel.<VNI> in the current network namespace
(local = the public IP, MTU = the underlay's - 50, address = the Node's podCIDR network /32),
annotates its Node as flanneld does (flannel.alpha.coreos.com/backend-type, backend-data,
public-ip, kube-subnet-manager), and for every other annotated Node keeps a permanent neighbour,
an FDB entry and an onlink route on the VTEP, until SIGTERM (the device stays, as flanneld's).
  --kubeconfig            the API server from this kubeconfig's current context
  --master                the API server's URL (http://ADDR:PORT), overriding the kubeconfig's
  --node-name             this node's Node name
  --public-ip             the VTEP's local address (default: the Node's InternalIP)
  --iface                 the underlay link (default: the link holding the public IP)
  --vni                   the VXLAN network identifier (default 1)
  --port                  the VXLAN UDP port (default 8472, the Linux kernel's; 4789 is IANA's)
  --healthz-bind-address  where /healthz answers with lastUpdated ("" for nowhere)
  --sync-period           a full resync at least this often (default 30s)
"""

func parseOptions(_ args: [String]) throws -> Options {
    var o = Options()
    var i = 0
    func value(_ flag: String) throws -> String {
        let a = args[i]
        if a.hasPrefix(flag + "=") { return String(a.dropFirst(flag.count + 1)) }
        guard i + 1 < args.count else { throw Failure("\(flag) needs a value\n\(usage)") }
        i += 1
        return args[i]
    }
    while i < args.count {
        let a = args[i]
        let flag = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
        switch flag {
        case "--kubeconfig": o.kubeconfig = try value(flag)
        case "--master": o.master = try value(flag)
        case "--node-name": o.nodeName = try value(flag)
        case "--public-ip":
            let v = try value(flag)
            guard let ip = IPv4Address(v) else { throw Failure("--public-ip \(v) is not an IPv4 address such as 10.0.0.37") }
            o.publicIP = ip
        case "--iface": o.iface = try value(flag)
        case "--vni":
            let v = try value(flag)
            guard let n = UInt32(v), (1...0xffffff).contains(n) else { throw Failure("--vni \(v): a VXLAN network identifier is 1 to 16777215") }
            o.vni = n
        case "--port":
            let v = try value(flag)
            guard let n = UInt16(v), n > 0 else { throw Failure("--port \(v) is not a UDP port (1-65535)") }
            o.port = n
        case "--healthz-bind-address": o.healthzBindAddress = try value(flag)
        case "--sync-period":
            let v = try value(flag)
            guard let d = parseDuration(v), d >= 0 else { throw Failure("--sync-period wants a duration such as 30s, not \(v)") }
            o.syncPeriod = d
        case "--testing-omit":
            let v = try value(flag)
            guard let k = VXLANOverlay.Kind(rawValue: v) else {
                throw Failure("--testing-omit \(v): one of \(VXLANOverlay.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            o.omissions.insert(k)
        case "-h", "--help": print(usage); exit(0)
        default: throw Failure("unknown argument \(a)\n\(usage)")
        }
        i += 1
    }
    guard o.kubeconfig != nil || o.master != nil else { throw Failure("give --kubeconfig or --master: the agent reads the Nodes from the API\n\(usage)") }
    guard let name = o.nodeName, !name.isEmpty else { throw Failure("give --node-name: the Node this agent runs on (netlab: --node-name={{nodeName}})") }
    return o
}

/// Go's durations: "30s", "500ms", "1m", "0".
func parseDuration(_ s: String) -> Double? {
    if s == "0" { return 0 }
    for (unit, scale) in [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)] where s.hasSuffix(unit) {
        return Double(s.dropLast(unit.count)).map { $0 * scale }
    }
    return nil
}
