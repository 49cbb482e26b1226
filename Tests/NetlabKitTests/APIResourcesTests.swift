import Testing
@testable import NetlabKit

@Suite struct APIResourcesTests {
    @Test func theCoreResourceListIsWhatKubectlDiscovers() throws {
        let list = try #require(APIResources.resourceList(group: "", version: "v1"))
        #expect(list["kind"] == "APIResourceList")
        #expect(list["groupVersion"] == "v1")
        let entries = try #require(list["resources"]?.arrayValue)
        let services = try #require(entries.first { $0["name"] == "services" })
        #expect(services == ["name": "services", "singularName": "service", "namespaced": true, "kind": "Service",
                             "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                             "shortNames": ["svc"], "categories": ["all"]])
        #expect(entries.contains { $0["name"] == "nodes/status" && $0["verbs"] == ["get", "patch", "update"] })
        #expect(entries.first { $0["name"] == "namespaces" }?["namespaced"] == false)
        #expect(entries.first { $0["name"] == "endpoints" }?["shortNames"] == ["ep"])
        #expect(APIResources.resourceList(group: "discovery.k8s.io", version: "v1")?["resources"]?.arrayValue?.first?["kind"] == "EndpointSlice")
        #expect(APIResources.resourceList(group: "nope", version: "v1") == nil)
    }

    @Test func groupsAndLookups() {
        let groups = APIResources.groupList()["groups"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(groups == ["discovery.k8s.io", "networking.k8s.io", "events.k8s.io", "coordination.k8s.io"])
        #expect(APIResources.group(named: "networking.k8s.io")["preferredVersion"] == ["groupVersion": "networking.k8s.io/v1", "version": "v1"])
        #expect(APIResources.coreVersions(serverAddress: "10.0.0.250:6443")["versions"] == ["v1"])
        #expect(APIResources.find(group: "networking.k8s.io", version: "v1", name: "servicecidrs") == APIResources.serviceCIDRs)
        #expect(APIResources.named("svc") == APIResources.services)
        #expect(APIResources.named("netpol") == APIResources.networkPolicies)
        #expect(APIResources.named("Node") == APIResources.nodes)
        #expect(APIResources.endpointSlices.qualifiedName == "endpointslices.discovery.k8s.io")
        #expect(APIResources.leases.groupVersion == "coordination.k8s.io/v1")
        #expect(APIResources.pods.supportedFieldLabels.contains("spec.nodeName"))
    }

    @Test func invalidListsSeveralCausesInBrackets() {
        let s = APIStatus.invalid(APIResources.endpointSlices, name: "x", [
            .init(reason: "FieldValueRequired", message: "Required value", field: "addressType"),
            .init(reason: "FieldValueInvalid", message: "Invalid value: 1", field: "ports"),
        ])
        #expect(s.message == "EndpointSlice.discovery.k8s.io \"x\" is invalid: [addressType: Required value, ports: Invalid value: 1]")
        #expect(s.json[path: ["details", "causes"]]?.arrayValue?.count == 2)
        #expect(s.json[path: ["details", "kind"]] == "EndpointSlice")
    }
}
