import Foundation

/// What the lab's API server starts with (`netlab apiserver --seed`): the objects a cluster of this
/// topology would have once its pods run. The namespaces its pods and services use beyond the
/// system ones (the store makes those itself, as kube-apiserver does); the Nodes with their pod ranges and
/// addresses; the Pods with the IPs their CNI ADD gave; the `kubernetes` Service and EndpointSlice
/// pointing at the API endpoint, as kube-apiserver maintains them; and the topology's Services and
/// EndpointSlices exactly as the one-shot proxy contract writes them (ServiceState.list), so both
/// describe the same cluster. Pure and deterministic: golden-tested without a lab.
public enum LabSeed {
    /// The namespaces every cluster has, which the API's store creates at start.
    public static var systemNamespaces: [String] { APIStore.Configuration().systemNamespaces }
    public static let kubernetesService = "kubernetes", kubernetesNamespace = "default"
    /// What a node's kubelet would report: the Kubernetes version the lab's API follows.
    public static let kubeletVersion = "v1.34.0-netlab"

    /// kube-apiserver gives the `kubernetes` Service the first host of the service range. The
    /// topology's automatic clusterIPs start TopologyLoader.clusterIPAllocationOffset higher (the
    /// reader refuses a service that pins this one), so it is never one of theirs.
    public static func kubernetesClusterIP(serviceCIDR: IPv4Prefix) -> IPv4Address { serviceCIDR.first.advanced(by: 1) }

    /// - Parameters:
    ///   - pods: pod name → its address from the CNI result; a pod without one is Pending.
    ///   - created: when the lab was made, the objects' timestamps (the store stamps its own
    ///     creationTimestamp; conditions keep these).
    public static func list(topology t: Topology, pods: [String: LabRecord.PodAddress], created: Date) -> JSONValue {
        let time = JSONValue.string(created.formatted(.iso8601))
        var items: [JSONValue] = []
        let used = t.pods.map(\.namespace) + t.services.map(\.namespace)
        let extra = Set(used).subtracting(systemNamespaces).sorted()
        items += extra.map(namespace)
        items += t.nodes.map { node($0, time: time) }
        items += t.pods.map { pod($0, topology: t, address: pods[$0.name], time: time) }
        items += kubernetesObjects(t)
        let services = ServiceState.list(topology: t, podIPs: pods.mapValues { $0.address.address },
                                         podIPv6s: pods.compactMapValues { $0.addressV6?.address })
        items += services.items.map(json)
        return ["apiVersion": "v1", "kind": "List", "items": .array(items)]
    }

    static func namespace(_ name: String) -> JSONValue {
        ["apiVersion": "v1", "kind": "Namespace",
         "metadata": ["name": .string(name), "labels": ["kubernetes.io/metadata.name": .string(name)]],
         "spec": ["finalizers": ["kubernetes"]], "status": ["phase": "Active"]]
    }

    static func node(_ n: Node, time: JSONValue) -> JSONValue {
        // One InternalIP per family, IPv4 first, as the kubelet of a dual-stack node reports them.
        var addresses: [JSONValue] = [["type": "InternalIP", "address": .string("\(n.ip)")]]
        if let a6 = n.ipv6 { addresses.append(["type": "InternalIP", "address": .string("\(a6)")]) }
        if let e = n.externalIP { addresses.append(["type": "ExternalIP", "address": .string("\(e)")]) }
        addresses.append(["type": "Hostname", "address": .string(n.name)])
        return [
            "apiVersion": "v1", "kind": "Node",
            // Annotations present, if empty: agents write into the map (flanneld crashed on a nil one).
            "metadata": ["name": .string(n.name), "annotations": [:],
                         "labels": ["kubernetes.io/hostname": .string(n.name), "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": .string(architecture)]],
            "spec": ["podCIDR": .string("\(n.podCIDR)"), "podCIDRs": .array(([n.podCIDR.description] + (n.podCIDRv6.map { [$0.description] } ?? [])).map(JSONValue.string))],
            "status": [
                "addresses": .array(addresses),
                "conditions": [["type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "the node's namespace is wired and its pods are attached",
                                "lastHeartbeatTime": time, "lastTransitionTime": time]],
                "nodeInfo": ["architecture": .string(architecture), "operatingSystem": "linux",
                             "osImage": "netlab node (a network namespace)", "kernelVersion": "",
                             "kubeletVersion": .string(kubeletVersion), "kubeProxyVersion": "",
                             "containerRuntimeVersion": .string("netlab://\(NetlabVersion.current)"),
                             "machineID": "", "systemUUID": "", "bootID": ""],
            ],
        ]
    }

    static func pod(_ p: Pod, topology t: Topology, address: LabRecord.PodAddress?, time: JSONValue) -> JSONValue {
        var ports: [JSONValue] = []
        for cp in p.ports {
            var port: JSONValue = ["containerPort": .number(Double(cp.containerPort)), "protocol": .string(cp.proto.rawValue)]
            if let h = cp.hostPort { port["hostPort"] = .number(Double(h)) }
            ports.append(port)
        }
        var container: JSONValue = ["name": "serve", "image": "netlab", "imagePullPolicy": "Never"]
        if !ports.isEmpty { container["ports"] = .array(ports) }
        let ready: JSONValue = address == nil ? "False" : "True"
        let conditions: [JSONValue] = ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map { type in
            let status: JSONValue = type == "PodScheduled" || type == "Initialized" ? "True" : ready
            return ["type": .string(type), "status": status, "lastProbeTime": .null, "lastTransitionTime": time]
        }
        var status: JSONValue = ["phase": address == nil ? "Pending" : "Running", "conditions": .array(conditions),
                                 "qosClass": "BestEffort", "startTime": time]
        if let node = t.node(named: p.node) {
            status["hostIP"] = .string("\(node.ip)")
            status["hostIPs"] = .array((["\(node.ip)"] + (node.ipv6.map { ["\($0)"] } ?? [])).map { ["ip": .string($0)] })
        }
        if let a = address {
            status["podIP"] = .string("\(a.address.address)")
            // podIP is the primary family's (IPv4); podIPs lists both in a dual-stack lab.
            status["podIPs"] = .array((["\(a.address.address)"] + (a.addressV6.map { ["\($0.address)"] } ?? [])).map { ["ip": .string($0)] })
        }
        return [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": .string(p.name), "namespace": .string(p.namespace), "annotations": [:],
                         "uid": .string(ServiceState.uid(kind: "Pod", namespace: p.namespace, name: p.name)),
                         "labels": .object(p.labels.mapValues(JSONValue.string))],
            "spec": ["nodeName": .string(p.node), "containers": [container], "restartPolicy": "Always",
                     "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler"],
            "status": status,
        ]
    }

    /// The `kubernetes` Service (no selector: kube-apiserver writes its endpoints itself) and its
    /// EndpointSlice, the API endpoint behind port 443 as in every cluster (the port keeps upstream's
    /// name `https`, which in-cluster clients look up, although the lab serves plain HTTP).
    static func kubernetesObjects(_ t: Topology) -> [JSONValue] {
        let name = kubernetesService, ns = kubernetesNamespace
        let svc = Service(name: name, namespace: ns, type: .clusterIP, clusterIP: kubernetesClusterIP(serviceCIDR: t.serviceCIDR),
                          selector: [:], ports: [ServicePort(name: "https", port: 443, targetPort: t.api.port)])
        let uid = ServiceState.uid(kind: "Service", namespace: ns, name: name)
        var service = json(.service(ServiceState.kubeService(svc, uid: uid)))
        service[path: ["metadata", "labels"]] = ["component": "apiserver", "provider": "kubernetes"]
        let slice: JSONValue = [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": ["name": .string(name), "namespace": .string(ns),
                         "uid": .string(ServiceState.uid(kind: "EndpointSlice", namespace: ns, name: name)),
                         "labels": [EndpointSlice.serviceNameLabel: .string(name)]],
            "endpoints": [["addresses": [.string("\(t.api.address)")], "conditions": ["ready": true]]],
            "ports": [["name": "https", "port": .number(Double(t.api.port)), "protocol": "TCP"]],
        ]
        return [service, slice]
    }

    static func json(_ o: KubeObject) -> JSONValue {
        // Encoding a value netlab made cannot fail.
        try! JSONValue.decode(JSONEncoder().encode(o))
    }

    /// As Kubernetes spells the machine's architecture (GOARCH).
    static var architecture: String {
        #if arch(x86_64)
        return "amd64"
        #elseif arch(arm64)
        return "arm64"
        #else
        return "unknown"
        #endif
    }

    /// The lab's kubeconfig: one cluster, user and context named after the lab, the API over
    /// plain HTTP without credentials (the lab's API asks for none).
    /// With TLS, `certificateAuthority` is the lab CA's PEM (embedded as kubectl and client-go
    /// read it, so the file works wherever it is copied) and `token` the bearer token.
    public static func kubeconfig(lab: String, api: APIEndpoint, certificateAuthority: Data? = nil, token: String? = nil) -> String {
        let name = "netlab-" + lab
        let ca = certificateAuthority.map { "\n    certificate-authority-data: \($0.base64EncodedString())" } ?? ""
        let user = token.map { "\n    token: \($0)" } ?? " {}"
        return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: \(name)
          cluster:
            server: \(api.url)\(ca)
        users:
        - name: \(name)
          user:\(user)
        contexts:
        - name: \(name)
          context:
            cluster: \(name)
            user: \(name)
        current-context: \(name)
        preferences: {}

        """
    }
}
