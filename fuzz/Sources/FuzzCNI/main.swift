// libFuzzer target: a CNI plugin's stdout (CNIResult(data:)), for every expected version.
import Foundation
import NetlabKit

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCNIResult(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Data(UnsafeBufferPointer(start: data, count: size))
    for expected in [nil] + CNIVersion.supported.map(Optional.some) {
        if let result = try? CNIResult(data: input, expected: expected) {
            _ = result.podAddress(ifName: "eth0")
            _ = result.gateway(ifName: "eth0")
        }
    }
    return 0
}
