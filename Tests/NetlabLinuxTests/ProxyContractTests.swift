import Foundation
import Glibc
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// What docs/proxy-contract.md says netlab-proxy does is what it does.
extension Labs { @Suite struct ProxyContractTests {
    /// "A sync is two processes per node: one save, one restore": the iptables tools netlab-proxy
    /// starts are counted by shims first on its PATH, which log and then run the real ones.
    @Test func aSyncIsOneSaveAndOneRestorePerNode() throws {
        let dir = try TemporaryDirectory()
        let bin = "\(dir.path)/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let log = "\(dir.path)/calls"
        for tool in ["iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore", "nft"] {
            guard let real = IPTables.which(tool) else { continue }
            try dir.plugin("bin/\(tool)", """
            #!/bin/sh
            echo "$NETLAB_NODE_NAME \(tool)" >> \(log)
            exec \(real) "$@"
            """)
        }
        let proxy = URL(fileURLWithPath: netlabBinary).deletingLastPathComponent().appendingPathComponent("netlab-proxy").path
        try dir.plugin("counting-proxy", """
        #!/bin/sh
        PATH=\(bin):/usr/sbin:/usr/bin:/sbin:/bin
        export PATH
        exec \(proxy) "$@"
        """)
        let t = try TopologyLoader.load(path: try topologyFile(in: dir, adding: "proxy:\n  command: [./counting-proxy]\n"))
        let name = uniqueLab("t-sync")
        let lab = try Lab.up(name: name, topology: t, persistent: false)
        defer { try? lab.down() }
        let calls = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init).sorted()
        // Per node: one save, one restore, and the proxy's one dry `iptables-restore --test` probe for
        // MASQUERADE --random-fully (once per process, as kube-proxy checks it once at start).
        #expect(calls == ["node1 iptables-restore", "node1 iptables-restore", "node1 iptables-save",
                          "node2 iptables-restore", "node2 iptables-restore", "node2 iptables-save"],
                "one save, one restore and one probe per node, nothing else: \(calls)")
        // And the rules are in force (the shims did not get in the way).
        let r = Probe.http(from: try lab.namespace("client"), to: IPv4Address("203.0.113.38")!, port: 30007)
        #expect(r.status == 200, "\(r.failure ?? "")")
    }
} }
