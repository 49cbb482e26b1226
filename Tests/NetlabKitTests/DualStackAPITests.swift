import Foundation
import Synchronization
import Testing
@testable import NetlabKit

/// The lab API in a dual-stack cluster: ServiceAllocation per family as kube-apiserver's
/// alloc.go, the EndpointSlice controller's slice per address type, the seed.
@Suite struct DualStackAPITests {
    let svc = APIResources.services, pods = APIResources.pods, slices = APIResources.endpointSlices

    func store() -> APIStore {
        let counter = Mutex(0)
        return APIStore(.init(now: { Date(timeIntervalSince1970: 1_800_000_000) }, makeUID: { "uid-\(counter.withLock { $0 += 1; return $0 })" },
                              controllers: LabControllers(services: ServiceAllocator(serviceCIDR: IPv4Prefix("10.96.0.0/24")!,
                                                                                     serviceCIDRv6: IPv6Prefix("2001:db8:36::/112")!))))
    }

    func service(_ name: String, _ spec: [String: JSONValue] = [:]) -> JSONValue {
        var s: [String: JSONValue] = ["ports": [["port": 80]], "selector": ["app": "web"]]
        for (k, v) in spec { s[k] = v }
        return ["apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)], "spec": .object(s)]
    }

    func pod(_ name: String, _ ips: [String]) -> JSONValue {
        ["metadata": ["name": .string(name), "labels": ["app": "web"]],
         "spec": ["nodeName": "node1", "containers": [["name": "c", "image": "x"]]],
         "status": ["phase": "Running", "conditions": [["type": "Ready", "status": "True"]], "podIP": .string(ips[0]),
                    "podIPs": .array(ips.map { ["ip": .string($0)] })]]
    }

    func invalid(_ s: APIStore, _ body: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        do {
            _ = try s.create(svc, namespace: "default", body)
            Issue.record("expected a 422", sourceLocation: sourceLocation)
            return ""
        } catch { return error.message }
    }

    @Test func policiesGiveTheFamiliesUpstreamGives() throws {
        let s = store()
        let single = try s.create(svc, namespace: "default", service("single"))
        #expect(single[path: ["spec", "ipFamilies"]] == ["IPv4"] && single[path: ["spec", "ipFamilyPolicy"]] == "SingleStack")
        #expect(single[path: ["spec", "clusterIPs"]]?.arrayValue?.count == 1)
        let prefer = try s.create(svc, namespace: "default", service("prefer", ["ipFamilyPolicy": "PreferDualStack"]))
        #expect(prefer[path: ["spec", "ipFamilies"]] == ["IPv4", "IPv6"])
        let ips = (prefer[path: ["spec", "clusterIPs"]]?.arrayValue ?? []).compactMap(\.stringValue)
        #expect(ips.count == 2 && IPv4Address(ips[0]) != nil && IPv6Prefix("2001:db8:36::/112")!.contains(IPv6Address(ips[1])!))
        #expect(prefer[path: ["spec", "clusterIP"]] == .string(ips[0]))
        // /112: the upper band first, as for IPv4 (the lower 256 kept for static requests).
        #expect(ips[1] == "2001:db8:36::101")
        // IPv6 primary, as the user asked.
        let v6first = try s.create(svc, namespace: "default", service("v6first", ["ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv6", "IPv4"]]))
        #expect(v6first[path: ["spec", "ipFamilies"]] == ["IPv6", "IPv4"])
        #expect(v6first.at("spec", "clusterIPs", 0)?.stringValue?.contains(":") == true)
        // Two addresses without a policy: RequireDualStack; the families follow the addresses.
        let given = try s.create(svc, namespace: "default", service("given", ["clusterIPs": ["10.96.0.5", "2001:db8:36::5"]]))
        #expect(given[path: ["spec", "ipFamilyPolicy"]] == "RequireDualStack" && given[path: ["spec", "ipFamilies"]] == ["IPv4", "IPv6"])
        #expect(given[path: ["spec", "clusterIP"]] == "10.96.0.5")
    }

    @Test func requestsThatUpstreamRefuses() throws {
        let s = store()
        _ = try s.create(svc, namespace: "default", service("a", ["clusterIPs": ["10.96.0.5", "2001:db8:36::5"]]))
        #expect(invalid(s, service("b", ["ipFamilyPolicy": "SingleStack", "clusterIPs": ["10.96.0.6", "2001:db8:36::6"]]))
            .contains("must be RequireDualStack or PreferDualStack when multiple 'clusterIPs' are specified"))
        #expect(invalid(s, service("c", ["clusterIPs": ["10.96.0.7", "2001:db8:36::5"]])).contains("provided IP is already allocated"))
        #expect(invalid(s, service("d", ["clusterIPs": ["10.96.0.8", "2001:db8:99::1"]])).contains("The range of valid IPs is 2001:db8:36::/112"))
        #expect(invalid(s, service("e", ["clusterIPs": ["10.96.0.9", "10.96.0.10"]])).contains("may specify no more than one IP for each IP family"))
        #expect(invalid(s, service("f", ["ipFamilies": ["IPv6"], "clusterIPs": ["10.96.0.11"]])).contains("expected an IPv6 value as indicated by `ipFamilies[0]`"))
        // A single-stack cluster says what kube-apiserver says.
        let single = controllerStore()
        #expect(invalid(single, service("g", ["ipFamilyPolicy": "RequireDualStack"])).contains("this cluster is not configured for dual-stack services"))
    }

    @Test func upgradeAddsTheSecondaryFamilyAndDowngradeDropsIt() throws {
        let s = store()
        let a = try s.create(svc, namespace: "default", service("a"))
        var up = a
        up[path: ["spec", "ipFamilyPolicy"]] = "PreferDualStack"
        let upgraded = try s.update(svc, namespace: "default", name: "a", up)
        #expect(upgraded[path: ["spec", "ipFamilies"]] == ["IPv4", "IPv6"])
        #expect(upgraded.at("spec", "clusterIPs", 0) == a.at("spec", "clusterIPs", 0))
        var down = upgraded
        down[path: ["spec", "ipFamilyPolicy"]] = "SingleStack"
        let downgraded = try s.update(svc, namespace: "default", name: "a", down)
        #expect(downgraded[path: ["spec", "ipFamilies"]] == ["IPv4"] && downgraded[path: ["spec", "clusterIPs"]] == .array([a.at("spec", "clusterIPs", 0)!]))
        // The primary clusterIP stays immutable.
        var moved = downgraded
        moved[path: ["spec", "clusterIP"]] = "10.96.0.99"; moved[path: ["spec", "clusterIPs"]] = ["10.96.0.99"]
        #expect(throws: APIStatus.self) { try s.update(svc, namespace: "default", name: "a", moved) }
    }

    @Test func theControllerWritesASliceOfEachFamilyWithThePodsAddressesOfIt() throws {
        let s = store()
        _ = try s.create(pods, namespace: "default", pod("web-1", ["10.32.0.7", "2001:db8:32::7"]))
        _ = try s.create(pods, namespace: "default", pod("web-2", ["10.32.1.3"]))
        let created = try s.create(svc, namespace: "default", service("web", ["ipFamilyPolicy": "PreferDualStack"]))
        let all = try s.list(slices, namespace: "default")["items"]?.arrayValue ?? []
        let byType = Dictionary(uniqueKeysWithValues: all.map { ($0["addressType"]?.stringValue ?? "", $0) })
        #expect(Set(byType.keys) == ["IPv4", "IPv6"])
        #expect(byType["IPv4"]?.at("endpoints", 0, "addresses") == ["10.32.0.7"] && byType["IPv4"]?["endpoints"]?.arrayValue?.count == 2)
        #expect(byType["IPv6"]?["endpoints"]?.arrayValue?.count == 1 && byType["IPv6"]?.at("endpoints", 0, "addresses") == ["2001:db8:32::7"])
        #expect(byType["IPv6"]?[path: ["metadata", "name"]] == .string(EndpointSlices.sliceName(namespace: "default", service: "web", family: .ipv6)))
        #expect(byType["IPv6"]?[path: ["metadata", "labels"]] == byType["IPv4"]?[path: ["metadata", "labels"]])
        #expect(byType["IPv6"]?.at("metadata", "ownerReferences", 0, "uid") == created[path: ["metadata", "uid"]])
        // Downgraded, the IPv6 slice goes.
        var down = created
        down[path: ["spec", "ipFamilyPolicy"]] = "SingleStack"
        _ = try s.update(svc, namespace: "default", name: "web", down)
        #expect((try s.list(slices, namespace: "default")["items"]?.arrayValue ?? []).compactMap { $0["addressType"]?.stringValue } == ["IPv4"])
    }
}
