import NetlabKit

// The exit category of each of the edge's error types, in one place (ExitCategoryTests lists
// them all).

extension LabError: NetlabError {
    public var exitCategory: ExitCategory {
        switch self {
        case .usage, .notFound: return .usage
        case .broken, .cni, .workload, .proxy, .teardown, .delFailed, .cleanFailed: return .failure
        }
    }
}

/// Another live netlab holds the lab: the user picked a name in use.
extension LabStore.InUse: NetlabError { public var exitCategory: ExitCategory { .usage } }
extension NamespaceTaken: NetlabError { public var exitCategory: ExitCategory { .usage } }
extension LabStatus.NeedsRoot: NetlabError { public var exitCategory: ExitCategory { .environment } }
extension Capabilities.Missing: NetlabError { public var exitCategory: ExitCategory { .environment } }
extension EnvironmentProblem: NetlabError { public var exitCategory: ExitCategory { .environment } }
extension EnvironmentProblems: NetlabError { public var exitCategory: ExitCategory { .environment } }
/// A path the user named that netlab cannot or will not write.
extension SafeFiles.Failure: NetlabError { public var exitCategory: ExitCategory { .environment } }
/// Its exit code is 128 + the signal, set by the CLI before categories apply.
extension Interrupts.Interrupted: NetlabError { public var exitCategory: ExitCategory { .failure } }
extension SystemError: NetlabError { public var exitCategory: ExitCategory { .failure } }
extension NetlinkError: NetlabError { public var exitCategory: ExitCategory { .failure } }
extension IPTables.Failed: NetlabError { public var exitCategory: ExitCategory { .failure } }
extension BoundedRead.Failure: NetlabError { public var exitCategory: ExitCategory { .failure } }
/// A pod's server (or, next, an agent) that did not come up: the lab failed.
extension Supervisor.StartFailure: NetlabError { public var exitCategory: ExitCategory { .failure } }
