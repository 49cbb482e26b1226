import Foundation
import NetlabKit
import NetlabKubeClient

/// Changes netlab makes to a lab that is up go through its Kubernetes API, as a cluster's
/// components make them (a pod's readiness is kubelet's PATCH of pods/<p>/status), so that the
/// lab's controllers recompute the EndpointSlices and every agent sees the change by watch. Then
/// the datapath is made to follow: a one-shot proxy is run again; agents are waited for.
extension Lab {
    /// A change made through the API: when, and the highest resourceVersion among the
    /// EndpointSlices afterwards (an agent whose endpointslices cache has reached it has seen it).
    public struct APIChange: Sendable, Equatable {
        public var at: Date
        public var endpointSlicesVersion: Int64?
        /// The resourceVersion of a write to a Service (an agent whose services cache reached it has seen it).
        public var servicesVersion: Int64? = nil
    }

    /// A client of the lab's API whose sockets are opened inside the API member's namespace
    /// (netlab's threads never leave the host's; the server is reached at its own address).
    func apiClient() throws -> KubeClient {
        guard let member = Self.apiMember(of: plan) else { throw LabError.broken(name, "it has no API member") }
        let ns = try namespace(member.member)
        // With TLS, the plain listener on the API namespace's loopback (netlab's client speaks HTTP).
        let server = topology.api.tls ? ServerAddress(host: "127.0.0.1", port: APIEndpoint.localPort)
                                      : ServerAddress(host: "\(topology.api.address)", port: topology.api.port)
        var client = KubeClient(server: server, userAgent: "netlab", timeout: 10)
        client.openSocket = { family, type in try ns.socket(domain: family, type: type, protocol: 0) }
        return client
    }

    /// Marks pods ready or not, as kubelet reports a readiness probe: the Ready and
    /// ContainersReady conditions of pods/<p>/status, merged by type. Every pod is patched; for one
    /// already in that state the store changes nothing and makes no event.
    public func setReadiness(ready: Set<String>, of pods: [Pod]) throws -> APIChange {
        let client = try apiClient()
        let at = Date()
        for pod in pods {
            let status: JSONValue = .string(ready.contains(pod.name) ? "True" : "False")
            let patch: JSONValue = ["status": ["conditions": [["type": "Ready", "status": status], ["type": "ContainersReady", "status": status]]]]
            logStep("pod readiness", member: pod.name, ["ready": "\(ready.contains(pod.name))"])
            do {
                _ = try client.patch(ResourcePath.pods.path(namespace: pod.namespace, name: pod.name, subresource: "status"), patch, type: .strategicMerge)
            } catch {
                throw LabError.workload("setting pod '\(pod.name)' \(ready.contains(pod.name) ? "ready" : "unready") through the lab's API failed: \(error); see \(store.directory)/\(Self.apiServerLogFile)")
            }
        }
        let slices: ListPage
        do { slices = try client.list(ResourcePath.endpointSlices.path()) } catch {
            throw LabError.workload("listing the EndpointSlices through the lab's API failed: \(error); see \(store.directory)/\(Self.apiServerLogFile)")
        }
        let version = slices.items.compactMap { $0[path: ["metadata", "resourceVersion"]]?.stringValue.flatMap { Int64($0) } }.max()
        return APIChange(at: at, endpointSlicesVersion: version)
    }

    /// Every pod but `unready` is ready, in the API and then in the datapath: a one-shot proxy is
    /// run again with those endpoints; agents are waited for until their `sync:` probes say so.
    public func changeReadiness(unready: [String]) throws {
        let ready = Set(topology.pods.map(\.name)).subtracting(unready)
        let change = try setReadiness(ready: ready, of: topology.pods)
        switch topology.proxy.mode {
        case .oneShot: try syncServices(readyPods: ready)
        case .agent: try waitForAgentsSync(since: change)
        }
    }
}
