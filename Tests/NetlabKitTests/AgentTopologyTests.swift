import Foundation
import Testing
@testable import NetlabKit

/// `agents:` in the topology: what is accepted, its defaults, and every mistake located.
@Suite struct AgentTopologyTests {
    func load(_ agents: String) throws -> Topology {
        try TopologyLoader.parse(yaml: baseTopology + agents, source: "/labs/t.yaml")
    }

    @Test func aFullAgentLoadsWithItsNodesReadinessAndPrivateDirectories() throws {
        let t = try load("""
        agents:
          - name: kube-proxy
            command: [/usr/local/bin/kube-proxy, "--hostname-override={{nodeName}}", "--cluster-cidr={{clusterCIDR}}"]
            env: {NODE_IP: "{{nodeIP}}", STATE: "{{stateDir}}/x"}
            nodes: [node2]
            ready: {http: "http://127.0.0.1:10256/healthz"}
            sync: {http: "http://127.0.0.1:10256/healthz"}
            timeoutSeconds: 12
            privateDirs: [/run/flannel/, /var/lib/calico]
          - name: netlab-proxy
            command: [netlab-proxy]
            nodes: [node1]
          - name: flanneld
            command: [./bin/flanneld, "--pod-cidr={{podCIDR}}", "--svc={{serviceCIDR}}"]
            ready: {log: "^I.* running"}

        """)
        #expect(t.agents.count == 3)
        let a = t.agents[0]
        #expect(a.name == "kube-proxy" && a.nodes == ["node2"] && a.timeoutSeconds == 12)
        #expect(a.ready == .http(IPv4Address("127.0.0.1")!, port: 10256, path: "/healthz"))
        #expect(a.privateDirs == ["/run/flannel", "/var/lib/calico"])
        #expect(a.environment == ["NODE_IP": "{{nodeIP}}", "STATE": "{{stateDir}}/x"])
        #expect(a.baseDirectory == "/labs")
        #expect(a.sync == .healthz(IPv4Address("127.0.0.1")!, port: 10256, path: "/healthz"))
        // A bare program name is looked up next to netlab, then in the system's directories.
        #expect(t.agents[1].command == ["netlab-proxy"] && t.agents[1].sync == nil)
        let b = t.agents[2]
        #expect(b.nodes == ["node1", "node2"] && b.ready == .log("^I.* running") && b.timeoutSeconds == Agent.defaultTimeout)
        #expect(b.privateDirs.isEmpty && b.environment.isEmpty)
    }

    /// proxy.mode agent leaves the services to an agent: it needs one, and no one-shot settings.
    @Test func proxyModeAgentNeedsAnAgentAndNoOneShotSettings() throws {
        #expect(try load("").proxy.mode == .oneShot)
        let t = try load("proxy: {mode: agent}\nagents:\n  - {name: netlab-proxy, command: [netlab-proxy]}\n")
        #expect(t.proxy.mode == .agent)
        #expect(diagnostics(baseTopology + "proxy: {mode: agent}\n") == [
            "t.yaml:13:15: proxy.mode agent leaves the services to an agent, but the topology has no agents; add one, e.g. netlab-proxy: {name: netlab-proxy, command: [netlab-proxy, \"--kubeconfig={{kubeconfig}}\", \"--hostname-override={{nodeName}}\"]}",
        ])
        #expect(diagnostics(baseTopology + "proxy: {mode: agent, command: [x], timeoutSeconds: 3}\nagents:\n  - {name: a, command: [/bin/a]}\n") == [
            "t.yaml:13:31: proxy.command is for proxy.mode oneShot; with mode agent the agent that programs the services is under agents:, with its own command and timeoutSeconds",
            "t.yaml:13:52: proxy.timeoutSeconds is for proxy.mode oneShot; with mode agent the agent that programs the services is under agents:, with its own command and timeoutSeconds",
        ])
        #expect(diagnostics(baseTopology + "proxy: {mode: daemon}\n") == [
            "t.yaml:13:15: proxy.mode 'daemon' is not one of oneShot, agent: oneShot runs proxy.command once per node per change (docs/proxy-contract.md), agent leaves the services to an agent that watches the lab's API",
        ])
    }

    @Test func readinessForms() throws {
        func ready(_ r: String) throws -> Agent.Readiness {
            try load("agents:\n  - {name: a, command: [/bin/a], ready: \(r)}\n").agents[0].ready
        }
        #expect(try ready(#"{tcp: "127.0.0.1:9099"}"#) == .tcp(IPv4Address("127.0.0.1")!, port: 9099))
        #expect(try ready(#"{http: "http://10.0.0.37"}"#) == .http(IPv4Address("10.0.0.37")!, port: 80, path: "/"))
        #expect(try ready("{file: /run/x/ready}") == .file("/run/x/ready"))
        #expect(try load("agents:\n  - {name: a, command: [/bin/a]}\n").agents[0].ready == .started)
    }

    @Test func placeholdersExpandPerNode() throws {
        let t = try load("agents:\n  - {name: a, command: [/bin/a, \"--n={{nodeName}}@{{nodeIP}} {{podCIDR}}\"]}\n")
        let values = Agent.values(node: t.nodes[1], topology: t, stateDir: "/run/netlab/l/agents/a/node2", kubeconfig: "/run/netlab/l/kubeconfig")
        #expect(Agent.expand(t.agents[0].command[1], values) == "--n=node2@10.0.0.38 10.32.1.0/24")
        #expect(Agent.expand("{{stateDir}}/{{clusterCIDR}},{{serviceCIDR}}", values) == "/run/netlab/l/agents/a/node2/10.32.0.0/14,10.96.0.0/16")
        #expect(Agent.placeholderNames(in: "a{{x}}b{{y}}") == ["x", "y"])
    }

    /// The lab's API endpoint: the kubeconfig netlab writes and the server's URL, the subnet's last
    /// usable host on 6443 unless `api:` says otherwise.
    @Test func apiPlaceholdersNameTheKubeconfigAndTheServer() throws {
        let yaml = "agents:\n  - {name: a, command: [/bin/a, \"--kubeconfig={{kubeconfig}}\"], env: {API: \"{{apiServer}}/api\"}}\n"
        let t = try load(yaml)
        let values = Agent.values(node: t.nodes[0], topology: t, stateDir: "/s", kubeconfig: "/run/netlab/l/kubeconfig")
        #expect(Agent.expand(t.agents[0].command[1], values) == "--kubeconfig=/run/netlab/l/kubeconfig")
        #expect(Agent.expand(t.agents[0].environment["API"]!, values) == "http://10.0.0.254:6443/api")
        let moved = try TopologyLoader.parse(yaml: baseTopology + "api: {address: 10.0.0.9, port: 8080}\n" + yaml, source: "/labs/t.yaml")
        #expect(Agent.expand("{{apiServer}}", Agent.values(node: moved.nodes[0], topology: moved, stateDir: "/s", kubeconfig: "/k")) == "http://10.0.0.9:8080")
    }

    @Test func everyMistakeIsLocated() {
        #expect(diagnostics(baseTopology + """
        agents:
          - name: Kube_Proxy
            command: [kube-proxy, "{{kubeconfig}}", "--x={{nodename}}"]
            nodes: [node3, node1, node1]
            ready: {http: "https://127.0.0.1/healthz"}
            privateDirs: [run/flannel, /run/a, /run/a/b, /]
          - name: b
            command: []
            env: {1X: y, OK: "{{apiServer}}"}
            ready: {tcp: "127.0.0.1", log: x}
          - name: b
            command: ["/bin/{{nodeName}}"]
            ready: {log: "(unclosed"}
            timeoutSeconds: 0
            nodes: []
          - name: c
            command: [/bin/c]
            ready: {file: /run/../x}
            bogus: 1
            sync: {http: "https://127.0.0.1:10256/healthz"}

        """) == [
            "t.yaml:14:11: agent 'Kube_Proxy' name 'Kube_Proxy' cannot be used: it names the agent's log and state files, so it must be at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. 'kube-proxy')",
            "t.yaml:15:45: agent 'Kube_Proxy' command uses unknown placeholder {{nodename}} (did you mean {{nodeName}}?); known: {{nodeName}}, {{nodeIP}}, {{podCIDR}}, {{clusterCIDR}}, {{serviceCIDR}}, {{stateDir}}, {{kubeconfig}}, {{apiServer}}, {{nodeIPv6}}, {{podCIDRv6}}, {{clusterCIDRv6}}, {{serviceCIDRv6}}",
            "t.yaml:16:13: agent 'Kube_Proxy' nodes names 'node3', which is not a node of this topology (nodes: node1, node2)",
            "t.yaml:16:27: agent 'Kube_Proxy' nodes names 'node1' twice; an agent runs once per node",
            "t.yaml:17:19: agent 'Kube_Proxy' ready http 'https://127.0.0.1/healthz' must be an http:// URL with an IPv4 address, like http://127.0.0.1:10256/healthz (netlab probes it from inside the node)",
            "t.yaml:18:19: agent 'Kube_Proxy' privateDirs 'run/flannel' must be an absolute path without '.', '..' or placeholders, like /run/flannel",
            "t.yaml:18:40: agent 'Kube_Proxy' privateDirs /run/a/b overlaps /run/a; list each directory once, none inside another",
            "t.yaml:18:50: agent 'Kube_Proxy' privateDirs cannot be / itself; name the directories the agent keeps its state in, like /run/flannel",
            "t.yaml:20:14: agent 'b' command is empty; give the agent's argv, e.g. [/usr/local/bin/kube-proxy, --hostname-override={{nodeName}}]",
            "t.yaml:21:11: agent 'b' env name '1X' is not a variable name; use letters, digits and '_', not starting with a digit",
            "t.yaml:22:12: agent 'b' ready gives tcp and log; give exactly one way to tell the agent is ready",
            "t.yaml:23:11: agent name 'b' is already used by the agent at line 19; give every agent a unique name",
            "t.yaml:24:15: agent 'b' program '/bin/{{nodeName}}' holds a placeholder; the program is the same on every node, so write its path out",
            "t.yaml:25:18: agent 'b' ready log '(unclosed' is not a regular expression (expected ')'); escape special characters with \\ to match them literally",
            "t.yaml:26:21: agent 'b' timeoutSeconds 0 is outside 1-3600",
            "t.yaml:27:12: agent 'b' nodes is empty; name the nodes it runs on, or leave nodes out to run it on every node",
            "t.yaml:30:19: agent 'c' ready file '/run/../x' must be an absolute path without '.', '..' or placeholders, like /run/flannel",
            "t.yaml:31:5: agent 'c' has unknown key 'bogus'; allowed keys: name, command, env, nodes, ready, sync, timeoutSeconds, privateDirs",
            "t.yaml:32:18: agent 'c' sync http 'https://127.0.0.1:10256/healthz' must be an http:// URL with an IPv4 address, like http://127.0.0.1:10256/healthz (netlab probes it from inside the node)",
        ])
    }

    @Test func twoAgentsThatWouldShareALogFileAreRefused() {
        #expect(diagnostics("""
        vpc:
          subnet: 10.0.0.0/24
        clusterCIDR: 10.32.0.0/14
        cni:
          conflist: {cniVersion: 0.3.1, name: net, plugins: [{type: ptp}]}
        nodes:
          - {name: b-c, ip: 10.0.0.37, podCIDR: 10.32.0.0/24}
          - {name: c, ip: 10.0.0.38, podCIDR: 10.32.1.0/24}
        agents:
          - {name: a, command: [/bin/a]}
          - {name: a-b, command: [/bin/a]}

        """) == ["t.yaml:11:5: agent 'a-b' on node 'c' would write the same log file, agent-a-b-c.log, as agent 'a' (line 10); rename one of them"])
    }
}
