import Foundation
import NetlabKit

/// The lab's Kubernetes API: `netlab apiserver` in the API member's network namespace, started
/// through the Supervisor once the pods have their addresses (the seed lists them) and before the
/// proxy and the agents, which may read it. It is a journaled process like the agents: `down`
/// stops it (TERM, then KILL), `clean` kills what a crashed netlab left, and a `run` lab's dies
/// with netlab. Its kubeconfig sits in the state directory for `netlab kubectl` and `{{kubeconfig}}`.
extension Lab {
    public static let apiServerJournalName = "apiserver"
    public static let apiServerLogFile = "apiserver.log"
    static let apiSeedFile = "api-seed.json"
    static let kubeconfigFile = "kubeconfig"

    /// The lab's kubeconfig (0600, root's, like every file of the state directory).
    public var kubeconfigPath: String { store.directory + "/" + Self.kubeconfigFile }

    /// The API member of the lab's plan.
    public static func apiMember(of plan: LabPlan) -> LabPlan.Namespace? { plan.namespaces.first { $0.role == .api } }

    func startAPIServer() throws {
        guard let member = Self.apiMember(of: plan) else { return }
        try Interrupts.check()
        let seed = LabSeed.list(topology: topology, pods: record.pods, created: Date(timeIntervalSince1970: record.createdAt))
        try store.writeStateFile(Self.apiSeedFile, seed.encoded(pretty: true))
        let api = topology.api
        var tlsFlags: [String] = []
        if api.tls {
            let credentials = try makeAPICredentials()
            try store.writeStateFile(Self.kubeconfigFile, Data(LabSeed.kubeconfig(lab: name, api: api, certificateAuthority: credentials.caPEM,
                                                                                  token: credentials.token).utf8))
            tlsFlags = apiTLSFlags
        } else {
            try store.writeStateFile(Self.kubeconfigFile, Data(LabSeed.kubeconfig(lab: name, api: api).utf8))
        }
        // The controllers allocate from the topology's ranges, as kube-apiserver from its flags.
        // Dual-stack: both ranges, comma-separated like --service-cluster-ip-range.
        let serviceRanges = ["\(topology.serviceCIDR)"] + (topology.serviceCIDRv6.map { ["\($0)"] } ?? [])
        let controllerFlags = ["--service-cidr", serviceRanges.joined(separator: ","),
                               "--node-port-range", "\(TopologyLoader.nodePortRange.lowerBound)-\(TopologyLoader.nodePortRange.upperBound)"]
        let argv = [tools.netlab, "apiserver", "--listen", "\(api.address):\(api.port)", "--seed", store.directory + "/" + Self.apiSeedFile]
            + controllerFlags + tlsFlags
        logStep("start API server", member: member.member, ["listen": "\(api.address):\(api.port)"])
        let process = SupervisedProcess(name: Self.apiServerJournalName, argv: argv, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                                        namespace: try namespace(member.member), readiness: .line("ready"), readinessTimeout: 15,
                                        logFile: Self.apiServerLogFile, diesWithNetlab: !record.persistent, waitsForStart: false)
        do {
            try supervisor.start(process)
        } catch let e as Supervisor.StartFailure {
            throw LabError.workload("the lab's API server (\(argv.joined(separator: " "))) did not start: \(e.why)"
                                    + (e.log.isEmpty ? " (its log \(store.directory)/\(Self.apiServerLogFile) is empty)" : "; the end of its log:\n" + e.log))
        }
    }

    /// The API server as `status` sees it.
    public struct APIServerState: Sendable {
        public var url: String
        public var pid: Int32?
        /// Its pid is alive and still the process that started then.
        public var running: Bool
        public var kubeconfig: String
        public var logPath: String
    }

    /// The lab's API server, from the journal (pid and start time); nil before it was started.
    public static func apiServerState(topology: Topology, store: LabStore) -> APIServerState? {
        guard let e = store.readJournal().last(where: { $0.kind == .process && $0.name == apiServerJournalName }) else { return nil }
        var running = false
        if let pid = e.pid, let start = e.startTime { running = processStartTime(pid) == start && !isZombie(pid) }
        return APIServerState(url: topology.api.url, pid: e.pid, running: running, kubeconfig: store.directory + "/" + kubeconfigFile,
                              logPath: store.directory + "/" + apiServerLogFile)
    }
}
