import Foundation
@testable import NetlabKit

/// A ProcessRunner that records every call and answers from a script, so the CNI runtime can be
/// driven without root or real plugins.
// @unchecked: a test drives it from one thread (the CNI runtime calls it synchronously).
final class FakeRunner: ProcessRunner, @unchecked Sendable {
    struct Call {
        var argv: [String]
        var environment: [String: String]
        var stdin: Data
        var timeout: Double?
        var command: String { environment["CNI_COMMAND"] ?? "" }
        var plugin: String { (argv.first ?? "").split(separator: "/").last.map(String.init) ?? "" }
        var config: JSONValue { try! JSONValue.decode(stdin) }
        var label: String { "\(command) \(plugin)" }
    }
    struct StartFailure: Error, CustomStringConvertible { var description: String }

    private let lock = NSLock()
    private var _calls: [Call] = []
    /// Answers a call; the default succeeds with no output.
    let script: @Sendable (Call) throws -> ProcessOutcome

    init(script: @escaping @Sendable (Call) throws -> ProcessOutcome = { _ in ProcessOutcome(termination: .exited(0)) }) {
        self.script = script
    }

    var calls: [Call] { lock.lock(); defer { lock.unlock() }; return _calls }

    func run(argv: [String], environment: [String: String], stdin: Data, timeout: Double?) throws -> ProcessOutcome {
        let call = Call(argv: argv, environment: environment, stdin: stdin, timeout: timeout)
        lock.lock(); _calls.append(call); lock.unlock()
        return try script(call)
    }
}

func ok(_ json: String) -> ProcessOutcome { ProcessOutcome(termination: .exited(0), stdout: Data(json.utf8)) }

func json(_ text: String) -> JSONValue { try! JSONValue.decode(Data(text.utf8)) }

func golden(_ name: String) throws -> Data {
    let dir = Bundle.module.url(forResource: "Golden", withExtension: nil)!
    return try Data(contentsOf: dir.appendingPathComponent("cni").appendingPathComponent(name))
}

/// A runtime whose binDir holds every plugin except `missing`.
func makeRuntime(_ runner: FakeRunner, missing: Set<String> = [], timeout: Double = 30) -> CNIRuntime {
    CNIRuntime(binDir: "/opt/cni/bin", runner: runner, timeout: timeout,
               pluginExists: { path in !missing.contains(String(path.split(separator: "/").last ?? "")) })
}

let webAttachment = CNIAttachment(containerID: "c0ffee", netnsPath: "/run/netns/netlab-web", ifName: "eth0",
                                  podName: "web", podNamespace: "default", podUID: "uid-1",
                                  capabilityArgs: ["portMappings": json(#"[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]"#),
                                                   "bandwidth": json(#"{"egressRate":1000}"#)])

func ptpPortmapList(version: String) throws -> CNINetworkConfigList {
    try CNINetworkConfigList(json("""
    {"cniVersion":"\(version)","name":"netlab","plugins":[
      {"type":"ptp","mtu":1450,"ipam":{"type":"host-local","subnet":"10.244.1.0/24","dataDir":"/tmp/x"}},
      {"type":"portmap","capabilities":{"portMappings":true,"bandwidth":false},"snat":true}
    ]}
    """))
}
