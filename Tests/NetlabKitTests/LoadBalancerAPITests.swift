import Foundation
import Testing
@testable import NetlabKit

private func lbJSON(_ name: String, type: String = "LoadBalancer", etp: String? = "Local", extra: [String: JSONValue] = [:]) -> JSONValue {
    var spec: JSONValue = ["type": .string(type), "ports": [["port": 80]], "selector": ["app": "web"]]
    if let etp { spec["externalTrafficPolicy"] = .string(etp) }
    for (k, v) in extra { spec[k] = v }
    return ["apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)], "spec": spec]
}

/// Services created through the lab's API get what kube-apiserver gives a LoadBalancer.
@Suite struct LoadBalancerAPITests {
    let svc = APIResources.services

    @Test func createAllocatesAHealthCheckNodePortBesideTheNodePorts() throws {
        let store = controllerStore()
        let a = try store.create(svc, namespace: "default", lbJSON("a"))
        #expect(a[path: ["spec", "ports"]]?.at(0, "nodePort") == 30016)
        #expect(a[path: ["spec", "healthCheckNodePort"]] == 30017)
        #expect(a[path: ["spec", "allocateLoadBalancerNodePorts"]] == true)
        // Held like a node port: nobody else gets it, and it is free again once the service is gone.
        let np = lbJSON("b", type: "NodePort", etp: nil, extra: ["ports": [["port": 80, "nodePort": 30017]]])
        #expect(throws: APIStatus.self) { try store.create(svc, namespace: "default", np) }
        do { _ = try store.create(svc, namespace: "default", np) } catch {
            #expect(error.message == "Service \"b\" is invalid: spec.ports[0].nodePort: Invalid value: 30017: provided port is already allocated")
        }
        _ = try store.delete(svc, namespace: "default", name: "a")
        let b = try store.create(svc, namespace: "default", np)
        #expect(b[path: ["spec", "ports"]]?.at(0, "nodePort") == 30017)
    }

    @Test func requestedHealthCheckNodePortMustBeFree() throws {
        let store = controllerStore()
        _ = try store.create(svc, namespace: "default", lbJSON("a", type: "NodePort", etp: nil, extra: ["ports": [["port": 80, "nodePort": 30050]]]))
        #expect(throws: APIStatus(code: 500, reason: "InternalError",
                                  message: "Internal error occurred: failed to allocate requested HealthCheck NodePort 30050: provided port is already allocated")) {
            try store.create(svc, namespace: "default", lbJSON("b", extra: ["healthCheckNodePort": 30050]))
        }
        let c = try store.create(svc, namespace: "default", lbJSON("c", extra: ["healthCheckNodePort": 30051]))
        #expect(c[path: ["spec", "healthCheckNodePort"]] == 30051)
        // An update that leaves it out keeps it; a switch to Cluster gives it back.
        var same = c
        same[path: ["spec", "healthCheckNodePort"]] = nil
        let kept = try store.update(svc, namespace: "default", name: "c", same)
        #expect(kept[path: ["spec", "healthCheckNodePort"]] == 30051)
        var cluster = kept
        cluster[path: ["spec", "externalTrafficPolicy"]] = "Cluster"
        let dropped = try store.update(svc, namespace: "default", name: "c", cluster)
        #expect(dropped[path: ["spec", "healthCheckNodePort"]] == nil)
        let d = try store.create(svc, namespace: "default", lbJSON("d", extra: ["healthCheckNodePort": 30051]))
        #expect(d[path: ["spec", "healthCheckNodePort"]] == 30051)
    }

    @Test func upstreamsValidationMessages() throws {
        let store = controllerStore()
        func message(_ body: JSONValue) -> String? {
            do { _ = try store.create(svc, namespace: "default", body); return nil } catch { return error.message }
        }
        #expect(message(lbJSON("a", type: "ClusterIP", etp: nil, extra: ["loadBalancerSourceRanges": ["10.0.0.0/8"]]))
                == "Service \"a\" is invalid: spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'")
        #expect(message(lbJSON("a", extra: ["loadBalancerSourceRanges": ["10.0.0.0/8", "nope"]]))
                == "Service \"a\" is invalid: spec.LoadBalancerSourceRanges: Invalid value: \"[10.0.0.0/8 nope]\": must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 ")
        #expect(message(lbJSON("a", type: "NodePort", etp: nil, extra: ["externalIPs": ["127.0.0.1", "x"]]))
                == "Service \"a\" is invalid: [spec.externalIPs[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128), spec.externalIPs[1]: Invalid value: \"x\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)]")
        #expect(message(lbJSON("a", type: "ClusterIP", etp: "Local"))
                == "Service \"a\" is invalid: spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services")
        #expect(message(lbJSON("a", etp: "Cluster", extra: ["healthCheckNodePort": 30001]))
                == "Service \"a\" is invalid: spec.healthCheckNodePort: Invalid value: 30001: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'")
        // A ClusterIP with externalIPs is externally accessible.
        let ok = try store.create(svc, namespace: "default", lbJSON("ok", type: "ClusterIP", etp: "Local", extra: ["externalIPs": ["203.0.113.200"]]))
        #expect(ok[path: ["spec", "externalIPs"]] == ["203.0.113.200"])
    }
}
