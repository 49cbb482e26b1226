import Dispatch
import Foundation
import NetlabKit
import NetlabKubeClient
import NetlabLinux
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

func logLine(_ s: String) { FileHandle.standardError.write(Data("netlab-overlay: \(s)\n".utf8)) }

/// Lists and watches every Node; on each change (and every --sync-period) one sync on the
/// runner's thread: make sure of the VTEP and of this Node's annotations, then bring the VTEP's
/// per-peer entries to what VXLANOverlay computes from the other Nodes.
/// Unchecked: the VTEP's netlink socket is used only by syncs, which the runner runs one at a time.
final class OverlayAgent: @unchecked Sendable {
    struct State {
        var health: ProxierHealth
        var link: Link?
        var annotated = false
        var ready = false
        var waiting: String?
    }

    let options: Options
    let nodeName: String
    let client: KubeClient
    let vtep: VTEP
    let nodes: ObjectCache
    let reflector: Reflector
    let runner: SyncRunner
    let stop = StopToken()
    let state: Mutex<State>

    final class Binding: Sendable {
        struct Ref: Sendable { weak var agent: OverlayAgent? }
        let ref = Mutex(Ref())
        var agent: OverlayAgent? { ref.withLock { $0.agent } }
    }

    init(options: Options, client: KubeClient, netlink: RouteNetlink) {
        self.options = options
        self.client = client
        nodeName = options.nodeName!
        vtep = VTEP(nl: netlink, name: VXLANOverlay.deviceName(vni: options.vni))
        state = Mutex(State(health: ProxierHealth(healthTimeout: 2 * max(options.syncPeriod, 1))))
        let binding = Binding()
        let runner = SyncRunner(minInterval: 0.1, maxInterval: options.syncPeriod > 0 ? options.syncPeriod : nil) {
            binding.agent?.sync() ?? false
        }
        self.runner = runner
        nodes = ObjectCache(onChange: {
            binding.agent?.state.withLock { $0.health.queuedUpdate(now: Date()) }
            runner.request()
        })
        reflector = Reflector(name: "nodes", lw: ClientListerWatcher(client: client, path: ResourcePath.nodes.path()),
                              store: nodes, log: { logLine($0) })
        binding.ref.withLock { $0.agent = self }
    }

    func run() throws {
        var healthz: HealthzServer?
        if !options.healthzBindAddress.isEmpty {
            guard let (host, port) = HealthzServer.bindAddress(options.healthzBindAddress) else {
                throw Failure("--healthz-bind-address wants ADDR:PORT such as 127.0.0.1:10267, not \(options.healthzBindAddress)")
            }
            do {
                healthz = try HealthzServer(host: host, port: port, stop: stop) { [unowned self] path in
                    guard path == "/healthz" else { return nil }
                    let (h, synced) = self.state.withLock { ($0.health, $0.link != nil) }
                    // Unhealthy until the VTEP exists: a caller waiting for lastUpdated sees the zero time.
                    let a = h.healthz(now: Date())
                    return (synced ? a.code : 503, a.body)
                }
            } catch { throw Failure(error.description) }
        }
        let signals = TerminationSignals()
        if let healthz { Thread { healthz.serve() }.start() }
        let runnerDone = DispatchSemaphore(value: 0)
        let runner = self.runner
        Thread { runner.run(); runnerDone.signal() }.start()
        let reflector = self.reflector, stop = self.stop
        Thread { reflector.run(stop: stop) }.start()
        logLine("agent for node \(nodeName): watching nodes; VTEP \(vtep.name), vni \(options.vni), port \(options.port)"
                + (options.omissions.isEmpty ? "" : "; testing: leaving out \(options.omissions.map(\.rawValue).sorted().joined(separator: ", ")) entries"))
        signals.wait()
        logLine("stopping (\(vtep.name) and its entries stay, as flanneld leaves them)")
        stop.stop()
        runner.stop()
        _ = runnerDone.wait(timeout: .now() + 10)
    }

    func waiting(_ why: String) -> Bool {
        let first = state.withLock { s -> Bool in defer { s.waiting = why }; return s.waiting != why }
        if first { logLine("waiting: \(why)") }
        return false
    }

    /// One sync; false when there is nothing to sync from yet (not counted against the rate).
    @discardableResult func sync() -> Bool {
        guard nodes.hasSynced else { return false }
        let snapshotAt = Date()
        let (all, rv) = nodes.snapshot()
        guard let me = all.first(where: { $0[path: ["metadata", "name"]]?.stringValue == nodeName }) else {
            return waiting("Node \(nodeName) is not in the API yet")
        }
        guard let podCIDR = (me[path: ["spec", "podCIDR"]]?.stringValue).flatMap(IPv4Prefix.init) else {
            return waiting("Node \(nodeName) has no IPv4 spec.podCIDR (flannel's kube subnet manager needs one)")
        }
        let internalIP = (me[path: ["status", "addresses"]]?.arrayValue ?? [])
            .first { $0["type"]?.stringValue == "InternalIP" }?["address"]?.stringValue.flatMap(IPv4Address.init)
        guard let publicIP = options.publicIP ?? internalIP else {
            return waiting("Node \(nodeName) has no InternalIP address (or give --public-ip)")
        }
        do {
            let link = try vtep.ensure(.init(vni: options.vni, local: publicIP, port: options.port, underlay: options.iface, podCIDR: podCIDR))
            state.withLock { $0.link = link }
            guard let mac = MACAddress(bytes: link.hardwareAddress) else { throw Failure("\(vtep.name) has no MAC address") }
            let want = VXLANOverlay.annotations(vni: options.vni, vtepMAC: mac, publicIP: publicIP)
            let have = me[path: ["metadata", "annotations"]]?.objectValue ?? [:]
            if want.contains(where: { have[$0.key]?.stringValue != $0.value }) {
                // As flanneld: a strategic-merge patch of the Node's status carrying metadata.annotations.
                let patch: JSONValue = ["metadata": ["annotations": .object(want.mapValues { .string($0) })]]
                do {
                    _ = try client.patch(ResourcePath.nodes.path(name: nodeName, subresource: "status"), patch, type: .strategicMerge, stop: stop)
                } catch { throw Failure("cannot annotate Node \(nodeName): \(error)") }
                logLine("annotated Node \(nodeName): VtepMAC \(mac), public-ip \(publicIP)")
            }
            let (peers, skipped) = VXLANOverlay.peers(nodes: all, selfName: nodeName, vni: options.vni)
            for s in skipped { logLine("left out \(s)") }
            let desired = VXLANOverlay.desired(peers, omitting: options.omissions)
            let changes = VXLANOverlay.changes(from: try vtep.current(link), to: desired)
            try vtep.apply(changes, on: link)
            let others = all.count - 1
            logLine("synced \(peers.count) of \(others) other node\(others == 1 ? "" : "s") as VXLAN peers"
                    + (changes.isEmpty ? " (nothing to change)" : ": \(changes.count) change\(changes.count == 1 ? "" : "s")"))
            // Ready once every other Node of the API is a programmed peer: checks then cross the overlay.
            let ready = peers.count == others && !state.withLock({ $0.ready })
            if ready { logLine("ready: \(peers.count) peer\(peers.count == 1 ? "" : "s") programmed on \(vtep.name)") }
            state.withLock { s in
                s.health.updated(now: Date(), snapshotAt: snapshotAt, resourceVersions: ["nodes": rv])
                if ready { s.ready = true }
                s.waiting = nil
            }
        } catch {
            logLine("sync failed: \(error); retrying")
            // Not in a tight loop: at most once a second (sleep says false once stopped).
            if stop.sleep(1) { runner.request() }
        }
        return true
    }
}
