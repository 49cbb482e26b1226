import Foundation
import NetlabAPIServer
import NetlabKit
import Testing

/// The lab's controllers behind the HTTP server, seen by a real kubectl: `apply` of a NodePort
/// Service gets a clusterIP, a nodePort and an EndpointSlice, as against a cluster.
@Suite(.serialized) struct ControllerKubectlTests {
    @Test(.enabled(if: !Clients.kubectls.isEmpty, "no kubectl: ci/setup.sh unpacks Debian's kubernetes-client to /opt/netlab-kubectl"),
          arguments: Clients.kubectls)
    func applyANodePortServiceAndGetItsSlice(kubectl: String) throws {
        let home = try Clients.privateDirectory()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let store = APIStore(APIStore.Configuration(controllers: LabControllers()))
        _ = try store.create(APIResources.pods, namespace: "default", [
            "metadata": ["name": "web-1", "labels": ["app": "web"]],
            "spec": ["nodeName": "node1", "containers": [["name": "c", "image": "i", "ports": [["name": "http", "containerPort": 8080]]]]],
            "status": ["podIP": "10.32.0.7", "conditions": [["type": "Ready", "status": "True"]]]])
        let server = try APIServer(store: store, host: "127.0.0.1", port: 0, bookmarkInterval: nil)
        defer { server.stop() }
        func k(_ args: [String]) throws -> ProcessOutcome {
            try Clients.run([kubectl, "--server", "http://127.0.0.1:\(server.port)"] + args, home: home)
        }
        let file = home + "/svc.yaml"
        func write(_ name: String, nodePort: Int? = nil) throws {
            try Data("""
                apiVersion: v1
                kind: Service
                metadata:
                  name: \(name)
                spec:
                  type: NodePort
                  selector:
                    app: web
                  ports:
                  - name: http
                    port: 80
                    targetPort: http\(nodePort.map { "\n    nodePort: \($0)" } ?? "")

                """.utf8).write(to: URL(fileURLWithPath: file))
        }
        try write("web")
        let applied = try k(["apply", "--validate=false", "-f", file])
        #expect(applied.succeeded && applied.stdoutText.contains("service/web created"), "\(applied.stderrText)")

        let got = try k(["get", "svc", "web", "-o", "json"])
        #expect(got.succeeded, "\(got.stderrText)")
        let svc = try JSONValue.decode(got.stdout)
        let clusterIP = try #require(svc[path: ["spec", "clusterIP"]]?.stringValue.flatMap { IPv4Address($0) })
        #expect(IPv4Prefix("10.96.0.0/12")!.contains(clusterIP))
        let port = try #require(svc[path: ["spec", "ports"]]?.arrayValue?.first)
        let nodePort = try #require(port["nodePort"]?.intValue)
        #expect((30000...32767).contains(nodePort))
        #expect(port["protocol"] == "TCP")
        #expect(svc[path: ["spec", "externalTrafficPolicy"]] == "Cluster")

        let slices = try k(["get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "json"])
        #expect(slices.succeeded, "\(slices.stderrText)")
        let items = try JSONValue.decode(slices.stdout)["items"]?.arrayValue ?? []
        #expect(items.count == 1)
        #expect(items.first?[path: ["metadata", "labels", "endpointslice.kubernetes.io/managed-by"]] == "endpointslice-controller.k8s.io")
        #expect(items.first?["ports"] == [["name": "http", "port": 8080, "protocol": "TCP"]])
        #expect(items.first?["endpoints"]?.arrayValue?.first?["addresses"] == ["10.32.0.7"])
        #expect(items.first?["endpoints"]?.arrayValue?.first?[path: ["conditions", "ready"]] == true)

        // Applying the same file again keeps what was allocated.
        let again = try k(["apply", "--validate=false", "-f", file])
        #expect(again.succeeded, "\(again.stderrText)")
        let kept = try store.get(APIResources.services, namespace: "default", name: "web")
        #expect(kept[path: ["spec", "clusterIP"]]?.stringValue == clusterIP.description)
        #expect(kept[path: ["spec", "ports"]]?.arrayValue?.first?["nodePort"]?.intValue == nodePort)

        // Another service asking for the same nodePort gets upstream's 422, which kubectl prints.
        try write("web2", nodePort: nodePort)
        let refused = try k(["apply", "--validate=false", "-f", file])
        #expect(!refused.succeeded)
        #expect(refused.stderrText.contains(#"The Service "web2" is invalid: spec.ports[0].nodePort: Invalid value: \#(nodePort): provided port is already allocated"#),
                "\(refused.stderrText)")

        let deleted = try k(["delete", "svc", "web"])
        #expect(deleted.succeeded, "\(deleted.stderrText)")
        let none = try k(["get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "name"])
        #expect(none.succeeded && none.stdoutText.isEmpty, "\(none.stdoutText) \(none.stderrText)")
    }
}
