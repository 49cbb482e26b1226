import Dispatch
import Foundation
import NetlabKit
import NetlabKubeClient
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

func logLine(_ s: String) { FileHandle.standardError.write(Data("netlab-proxy: \(s)\n".utf8)) }

/// Agent mode: list and watch the API, keep the caches, and on every change render the List the
/// one-shot mode would be given and apply it with the same NodeProgrammer, at most once per
/// --min-sync-period, skipping an apply whose rules are unchanged; /healthz as kube-proxy's.
final class ProxyAgent: Sendable {
    struct State {
        var health: ProxierHealth
        var lastRendered: String?
        var lastNode: ProxyNode?
        /// When an iptables-restore last ran (the periodic resync counts from it).
        var lastApplied: Date?
        var synced = false
        var waitingLogged = false
        /// --testing-omit's broken views of the API (terminating-fallback, service-deletion, ...).
        var view: ProxyViewOmissions
    }

    let options: Options
    let nodeName: String
    let clusterCIDR: IPv4Prefix
    let clusterCIDRv6: IPv6Prefix?
    let nodeIPOverride: IPv4Address?
    let programmer: NodeProgrammer
    let stop = StopToken()
    let state: Mutex<State>
    let watch: ProxyWatch
    let runner: SyncRunner
    let healthChecks: HealthCheckServer

    /// The agent the watch's and the runner's callbacks reach, bound once init is done (they
    /// are made before self exists, and must not keep it alive).
    final class Binding: Sendable {
        struct Ref: Sendable { weak var agent: ProxyAgent? }
        let ref = Mutex(Ref())
        var agent: ProxyAgent? { ref.withLock { $0.agent } }
    }

    init(options: Options, client: KubeClient) {
        self.options = options
        nodeName = options.hostnameOverride ?? Self.hostname()
        let ranges = dualRanges(options.clusterCIDR!)!
        clusterCIDR = ranges.v4
        clusterCIDRv6 = ranges.v6
        nodeIPOverride = options.bindAddress.flatMap(IPv4Address.init).flatMap { "\($0)" == "0.0.0.0" ? nil : $0 }
        // Without --service-cidr the agent knows no service range (kube-proxy reads ServiceCIDR
        // objects): the nftables mode then leaves out its drop of unallocated cluster IPs.
        let services = options.serviceCIDR.flatMap(dualRanges)
        programmer = NodeProgrammer(detectLocalMode: options.detectLocalMode, mode: options.proxyMode, serviceCIDR: services?.v4,
                                    serviceCIDRv6: services?.v6, omissions: options.omissions, flags: options.proxierFlags)
        // kube-proxy: unhealthy when a queued change waits longer than twice the sync period.
        state = Mutex(State(health: ProxierHealth(healthTimeout: 2 * max(options.syncPeriod, 1)), view: ProxyViewOmissions(options.omissions)))
        // Tests only: a proxy that ignores watch updates, to prove a check notices (docs/api.md).
        let ignoreUpdates = ProcessInfo.processInfo.environment["NETLAB_PROXY_TEST_IGNORE_WATCH"] == "1"
        if ignoreUpdates { logLine("NETLAB_PROXY_TEST_IGNORE_WATCH=1: ignoring every watch event (a test's broken proxy)") }
        let binding = Binding()
        healthChecks = HealthCheckServer { binding.agent?.state.withLock { $0.health.healthz(now: Date()).code == 200 } ?? false }
        let runner = SyncRunner(minInterval: options.minSyncPeriod, maxInterval: options.syncPeriod > 0 ? options.syncPeriod : nil) {
            binding.agent?.sync() ?? false
        }
        self.runner = runner
        watch = ProxyWatch(client: client, nodeName: nodeName, watchUpdates: !ignoreUpdates, onChange: {
            binding.agent?.state.withLock { $0.health.queuedUpdate(now: Date()) }
            runner.request()
        }, log: { logLine($0) })
        binding.ref.withLock { $0.agent = self }
    }

    /// kube-proxy's default node name: the hostname (the node's own, in netlab's agents' UTS namespace).
    static func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, buf.count)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).lowercased()
    }

    /// Runs until SIGTERM or SIGINT; the rules stay as they are (kube-proxy does not clean up on exit).
    func run() throws {
        var healthz: HealthzServer?
        if !options.healthzBindAddress.isEmpty {
            guard let (host, port) = HealthzServer.bindAddress(options.healthzBindAddress) else {
                throw Failure("--healthz-bind-address wants ADDR:PORT such as 0.0.0.0:10256, not \(options.healthzBindAddress)")
            }
            do {
                healthz = try HealthzServer(host: host, port: port, stop: stop) { [unowned self] path in
                    let s = self.state.withLock { $0.health }
                    switch path {
                    case "/healthz": let a = s.healthz(now: Date()); return (a.code, a.body)
                    case "/livez": let a = s.livez(now: Date()); return (a.code, a.body)
                    default: return nil
                    }
                }
            } catch { throw Failure(error.description) }
        }
        if options.omissions.contains(.keepFlowsOnStart) { ConntrackCleaner.flushAll(families: [.ipv4, .ipv6]) }
        let signals = TerminationSignals()
        if let healthz { Thread { healthz.serve() }.start() }
        let runnerDone = DispatchSemaphore(value: 0)
        let runner = self.runner
        Thread { runner.run(); runnerDone.signal() }.start()
        logLine("agent for node \(nodeName): watching services, endpointslices and node \(nodeName)" +
                (healthz.map { ", healthz on \(options.healthzBindAddress.split(separator: ":").dropLast().joined(separator: ":")):\($0.port)" } ?? ""))
        watch.start(stop: stop)
        signals.wait()
        logLine("stopping (the rules stay as they are)")
        stop.stop()
        runner.stop()
        healthChecks.stopAll()
        // A sync in progress finishes (its restore is one transaction), within the commands' bound.
        _ = runnerDone.wait(timeout: .now() + commandTimeout)
    }

    /// One sync on the runner's thread; false when there was nothing to sync from yet (the caches
    /// not listed, the Node not known), which the runner does not count against its rate.
    @discardableResult func sync() -> Bool {
        guard watch.hasSynced else { return false }
        let snapshotAt = Date()
        let snap = watch.snapshot()
        let facts = snap.node.map(NodeFacts.init)
        if let facts { state.withLock { $0.health.nodeEligible = facts.eligible } }
        guard let ip = nodeIPOverride ?? facts?.internalIP else {
            let first = state.withLock { s -> Bool in defer { s.waitingLogged = true }; return !s.waitingLogged }
            if first { logLine("waiting for Node \(nodeName) with an InternalIP address in the API (or give --bind-address)") }
            return false
        }
        if options.detectLocalMode == "NodeCIDR", facts?.podCIDR == nil {
            let first = state.withLock { s -> Bool in defer { s.waitingLogged = true }; return !s.waitingLogged }
            if first { logLine("waiting for Node \(nodeName)'s spec.podCIDR (--detect-local-mode NodeCIDR needs it)") }
            return false
        }
        // ClusterCIDR detection never reads the pod range; the node's /32 stands in when the Node has none.
        // The IPv6 proxier runs once the Node has an IPv6 InternalIP and --cluster-cidr an IPv6 range.
        let node = ProxyNode(name: nodeName, ip: ip, podCIDR: facts?.podCIDR ?? IPv4Prefix("\(ip)/32")!, clusterCIDR: clusterCIDR,
                             ipv6: clusterCIDRv6 == nil ? nil : facts?.internalIPv6, podCIDRv6: facts?.podCIDRv6, clusterCIDRv6: clusterCIDRv6)
        for s in snap.skipped { logLine("left out \(s)") }
        let start = Date()
        let list = state.withLock { $0.view.view(snap.list) }
        let rendered = programmer.render(list, node: node)
        let unchanged = state.withLock { $0.lastRendered == rendered && $0.lastNode == node }
        // The periodic resync (--sync-period) applies even unchanged rules: it repairs what someone else changed.
        let resyncDue = options.syncPeriod > 0 && Date().timeIntervalSince(state.withLock { $0.lastApplied } ?? .distantPast) >= options.syncPeriod
        let applies = !unchanged || resyncDue
        if applies {
            do {
                try programmer.apply(list, node: node)
            } catch {
                logLine("sync failed: \(error); retrying")
                // Not in a tight loop: a failing iptables-restore is retried at most once a second.
                if stop.sleep(max(1, options.minSyncPeriod)) { runner.request() }
                return true
            }
        }
        healthChecks.update(HealthCheckNodePorts(list, node: node, onlyLocal: !options.omissions.contains(.healthCheckLocal)))
        let ms = Int(Date().timeIntervalSince(start) * 1000)
        // The log lines come first: whoever sees healthz move (the sync probe) finds them written.
        logLine("synced \(snap.list.services.count) services, \(snap.endpointCount) endpoints in \(ms) ms" + (applies ? "" : " (rules unchanged, not applied)"))
        if !state.withLock({ $0.synced }) { logLine("ready: the first sync is applied") }
        state.withLock { s in
            s.health.updated(now: Date(), snapshotAt: snapshotAt, resourceVersions: snap.resourceVersions)
            s.lastRendered = rendered; s.lastNode = node
            if applies { s.lastApplied = Date() }
            s.synced = true
        }
        return true
    }
}
