// libFuzzer target: `kubectl get ... -o json` style lists (KubeList.decode), and a round trip of
// what decodes.
import Foundation
import NetlabKit

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKubeList(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Data(UnsafeBufferPointer(start: data, count: size))
    guard let list = try? KubeList.decode(input) else { return 0 }
    _ = list.services
    _ = list.endpointSlices
    let json = list.encodedJSON()
    // What netlab writes it must read back, unchanged.
    guard let again = try? KubeList.decode(Data(json.utf8)) else {
        fatalError("KubeList did not decode its own encoding:\n\(json)")
    }
    precondition(again == list, "KubeList round trip changed the list:\n\(json)")
    return 0
}
