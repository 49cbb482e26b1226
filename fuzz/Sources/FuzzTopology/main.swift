// libFuzzer target: TopologyLoader.parse on arbitrary bytes read as YAML text.
// cni.conflistFile is served from memory (a fixed small conflist, or an error for paths that
// mention "missing"), so the fuzzer never touches the file system.
import Foundation
import NetlabKit

let conflist = """
{"cniVersion": "0.3.1", "name": "k8s-pod-network",
 "plugins": [{"type": "ptp", "ipam": {"type": "host-local", "subnet": "{{podCIDR}}"}}, {"type": "portmap", "capabilities": {"portMappings": true}}]}
"""

struct NoSuchFile: Error {}

func readFile(_ path: String) throws -> String {
    if path.contains("missing") { throw NoSuchFile() }
    if path.contains("broken") { return "{\"cniVersion\": " }
    return conflist
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTopology(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let yaml = String(decoding: bytes, as: UTF8.self)
    do {
        let topology = try TopologyLoader.parse(yaml: yaml, source: "/fuzz/topology.yaml", readFile: readFile)
        // A topology that loads must be internally consistent enough to describe.
        _ = String(describing: topology)
    } catch let error as TopologyError {
        precondition(!error.diagnostics.isEmpty)
        _ = error.description
    } catch {
        fatalError("TopologyLoader.parse threw a non-TopologyError: \(error)")
    }
    return 0
}
