@testable import NetlabKit
@testable import NetlabLinux

/// The mutations of the conformance suite's area with this file's name (see ConformanceSuite).
extension ConformanceSuite {
    static let lifecycleMutations: [Mutation] = []
}
