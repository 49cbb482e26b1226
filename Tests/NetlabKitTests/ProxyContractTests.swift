import Foundation
import Testing
@testable import NetlabKit

@Suite struct ProxyContractTests {
    /// The documentation's environment table and the code's names are the same list: a variable
    /// added in code but not documented (or the other way round) fails here.
    @Test func docsTableListsExactlyTheContractVariables() throws {
        let doc = try String(contentsOf: repoRoot.appendingPathComponent("docs/proxy-contract.md"), encoding: .utf8)
        let documented = doc.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `") else { return nil }
            return line.dropFirst(3).split(separator: "`").first.map(String.init)
        }
        #expect(documented == ProxyContract.variables)
    }

    @Test func environmentSetsEveryVariable() {
        let env = ProxyContract.environment(node: "node1", nodeIP: IPv4Address("10.0.0.37")!, podCIDR: IPv4Prefix("10.32.0.0/24")!,
                                            clusterCIDR: IPv4Prefix("10.32.0.0/14")!, serviceCIDR: IPv4Prefix("10.36.0.0/20")!,
                                            servicesPath: "/run/netlab/lab/services.json")
        #expect(env.keys.sorted() == ProxyContract.variables.sorted())
        #expect(env[ProxyContract.podCIDR] == "10.32.0.0/24")
    }
}
