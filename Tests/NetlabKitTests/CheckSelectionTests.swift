import Testing
@testable import NetlabKit

@Suite struct CheckSelectionTests {
    let checks = ["pod-to-pod", "nodeport-local", "nodeport-remote", "clusterip", "hairpin"].map {
        Check(name: $0, from: "pod1", to: "pod2.ip", kind: .icmp, expect: Expectations())
    }

    @Test func namesAndGlobsKeepFileOrder() throws {
        #expect(try CheckSelection(patterns: ["nodeport-*"]).select(from: checks).map(\.name) == ["nodeport-local", "nodeport-remote"])
        #expect(try CheckSelection(patterns: ["hairpin", "pod-to-pod"]).select(from: checks).map(\.name) == ["pod-to-pod", "hairpin"])
        #expect(try CheckSelection(patterns: ["*-re?ote", "c[a-l]*"]).select(from: checks).map(\.name) == ["nodeport-remote", "clusterip"])
        #expect(try CheckSelection().select(from: checks).count == 5)
    }

    @Test func aPatternThatMatchesNothingIsAnError() {
        #expect(throws: CheckSelection.NoMatch.self) { try CheckSelection(patterns: ["nodeport-*", "typo"]).select(from: checks) }
    }

    @Test func shardsSplitEveryCheckExactlyOnce() throws {
        for n in 1...6 {
            var seen: [String] = []
            for k in 1...n {
                let part = try CheckSelection(shard: .init("\(k)/\(n)")!).select(from: checks).map(\.name)
                #expect(part.count <= (checks.count + n - 1) / n, "balanced")
                seen += part
            }
            #expect(seen.sorted() == checks.map(\.name).sorted(), "n=\(n)")
        }
        #expect(try CheckSelection(shard: .init("2/2")!).select(from: checks).map(\.name) == ["nodeport-local", "clusterip"])
        #expect(try CheckSelection(patterns: ["nodeport-*"], shard: .init("2/2")!).select(from: checks).map(\.name) == ["nodeport-remote"])
    }

    @Test func shardSyntax() {
        #expect(CheckSelection.Shard("1/3") != nil)
        for bad in ["0/3", "4/3", "1/0", "1", "a/b", "1/3/4", "-1/2"] { #expect(CheckSelection.Shard(bad) == nil, "\(bad)") }
    }
}
