import Foundation

/// A CNI configuration, version or attachment netlab refuses before running any plugin.
public struct CNIConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    /// Where in the configuration list the problem is, as a JSON path ("plugins[1].ipam.type"),
    /// so a topology file can point at the line; "" for the list as a whole.
    public var path: String
    public init(_ message: String, at path: String = "") { self.message = message; self.path = path }
    public var description: String { message }
}

/// A result (or saved result) that does not have the shape of a CNI result.
public struct CNIResultError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Plugin binaries that are not in the bin directory. Checked before anything runs, so a chain is
/// never half-applied because its third plugin is missing.
public struct CNIPluginNotFound: Error, Hashable, Sendable, CustomStringConvertible {
    public var pluginTypes: [String]
    public var binDir: String
    public init(pluginTypes: [String], binDir: String) { self.pluginTypes = pluginTypes; self.binDir = binDir }
    public var description: String {
        let names = pluginTypes.map { "'\($0)'" }.joined(separator: ", ")
        let paths = pluginTypes.map { binDir + "/" + $0 }.joined(separator: ", ")
        return "CNI plugin\(pluginTypes.count == 1 ? "" : "s") \(names) not found in \(binDir) (looked for \(paths)): "
            + "install containernetworking-plugins or set cni.binDir in the topology"
    }
}

/// The CNI error codes of the specification (and 999, which the reference plugins' skel library
/// uses for any plain Go error), with what they mean.
public enum CNIErrorCode {
    public static func name(_ code: Int) -> String? {
        switch code {
        case 1: return "incompatible CNI version"
        case 2: return "unsupported field in network configuration"
        case 3: return "container unknown or does not exist"
        case 4: return "invalid necessary environment variables"
        case 5: return "I/O failure"
        case 6: return "failed to decode content"
        case 7: return "invalid network configuration"
        case 11: return "try again later"
        case 50: return "plugin not available"
        case 51: return "plugin not available, existing containers may have limited connectivity"
        case 999: return "plugin internal error"
        case 100...: return "plugin-specific error"
        default: return nil
        }
    }
}

/// One plugin invocation that failed: it reported a CNI error, ended badly, or printed something
/// that is not a result. Carries everything needed to tell the user what happened.
public struct CNIPluginError: Error, Hashable, Sendable, CustomStringConvertible {
    public var pluginType: String
    public var command: CNICommand
    public var podName: String
    public var podNamespace: String
    public var netnsPath: String
    /// How the process ended; nil when it could not be started.
    public var termination: ProcessOutcome.Termination?
    /// From the plugin's error JSON on stdout (`{"code":…,"msg":…,"details":…}`), when it printed one.
    public var code: Int?
    public var msg: String?
    public var details: String?
    /// netlab's own account when the plugin gave no error JSON: the output was unparsable, the
    /// process could not start, or it exited non-zero silently.
    public var problem: String?
    /// What the plugin wrote to stderr, trimmed.
    public var stderr: String

    public init(pluginType: String, command: CNICommand, podName: String, podNamespace: String, netnsPath: String,
                termination: ProcessOutcome.Termination?, code: Int? = nil, msg: String? = nil, details: String? = nil,
                problem: String? = nil, stderr: String = "") {
        self.pluginType = pluginType; self.command = command; self.podName = podName; self.podNamespace = podNamespace
        self.netnsPath = netnsPath; self.termination = termination; self.code = code; self.msg = msg
        self.details = details; self.problem = problem; self.stderr = stderr
    }

    /// True for code 11: the plugin asks to be called again later.
    public var isTryAgainLater: Bool { code == 11 }

    public var description: String {
        var s = "CNI plugin '\(pluginType)' failed \(command.rawValue) for pod '\(podName)' ("
            + (netnsPath.isEmpty ? "its netns is gone, so no CNI_NETNS" : "netns \(netnsPath)") + "): "
        var parts: [String] = []
        if let code {
            var c = "code \(code)"
            if let n = CNIErrorCode.name(code) { c += " (\(n))" }
            parts.append(c + ": " + (msg ?? "") + (details.map { $0.isEmpty ? "" : "; details: \($0)" } ?? ""))
        }
        if let problem { parts.append(problem) }
        switch termination {
        case .exited(0)?, nil: break
        case .exited(let status)? where code != nil && status == 1: break   // the normal way to report a CNI error
        case let t?: parts.append("the plugin " + ProcessOutcome(termination: t).terminationDescription)
        }
        s += parts.isEmpty ? "unknown failure" : parts.joined(separator: "; ")
        if !stderr.isEmpty { s += "\nstderr:\n" + stderr }
        return s
    }
}

/// ADD failed at one plugin. netlab then ran DEL for the whole list (as the spec asks and as
/// containerd's CRI does after a failed RunPodSandbox); `cleanupError` says if that failed too.
public struct CNIAddFailed: Error, Sendable, CustomStringConvertible {
    /// The first failure (usually a `CNIPluginError`).
    public var failure: any Error
    /// Index in the list of the plugin whose ADD failed.
    public var pluginIndex: Int
    /// Nil when the cleanup DEL succeeded.
    public var cleanupError: (any Error)?
    /// Plugins the cleanup DEL did not call (they had timed out), one line each.
    public var cleanupSkipped: [String]

    public init(failure: any Error, pluginIndex: Int, cleanupError: (any Error)?, cleanupSkipped: [String] = []) {
        self.failure = failure; self.pluginIndex = pluginIndex; self.cleanupError = cleanupError; self.cleanupSkipped = cleanupSkipped
    }

    public var description: String {
        var s = "\(failure)"
        if let cleanupError {
            s += "\nthe cleanup DEL after the failed ADD also failed, state may be left behind:\n\(cleanupError)"
        } else {
            s += "\n(the attachment was cleaned up with DEL)"
        }
        for skipped in cleanupSkipped { s += "\n(\(skipped))" }
        return s
    }
}
