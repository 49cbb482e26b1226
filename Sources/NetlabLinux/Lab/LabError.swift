/// What went wrong with a lab, with its cause in the message: which object, what to do.
public enum LabError: Error, CustomStringConvertible {
    case usage(String)
    case notFound(String)
    case broken(String, String)
    case cni(String)
    case workload(String)
    case proxy(String)
    case teardown(String, [String])
    case delFailed(String, [String])
    case cleanFailed([String])

    public var description: String {
        switch self {
        case .usage(let s): return s
        case .notFound(let lab):
            let labs = LabStore.labs()
            return "no lab named '\(lab)' is up" + (labs.isEmpty ? " (no labs are up: start one with `netlab up`)" : " (labs: \(labs.joined(separator: ", ")))")
        case .broken(let lab, let s): return "lab '\(lab)' is broken: \(s)"
        case .cni(let s), .workload(let s), .proxy(let s): return s
        case .delFailed(let lab, let errs):
            return "lab '\(lab)' is down, but CNI DEL failed (its namespaces and state were removed all the same):\n  " + errs.joined(separator: "\n  ")
        case .teardown(let lab, let errs):
            return "lab '\(lab)' could not be taken down completely; run `netlab clean --name \(lab)` to retry:\n  " + errs.joined(separator: "\n  ")
        case .cleanFailed(let errs):
            return "clean could not remove everything; run it again to retry:\n  " + errs.joined(separator: "\n  ")
        }
    }
}
