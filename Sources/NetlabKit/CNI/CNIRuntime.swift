import Synchronization
import Foundation

/// What `check` did: CHECK exists only from CNI 0.4.0 on and a list may switch it off.
public enum CNICheckOutcome: Hashable, Sendable {
    case checked
    case skipped(reason: String)
}

/// The plugins that ran into their timeout, shared by the runtimes of one lab. A plugin that hung
/// once (stuck on a lock, waiting for a daemon) would hang again in the DEL of the rollback and
/// of the teardown, costing a timeout each: it is not called again, its DEL is reported as
/// skipped, and what it made goes with the lab's namespaces and state directory.
public final class CNITimedOutPlugins: Sendable {
    private let seconds = Mutex<[String: Double]>([:])
    public init() {}
    func record(_ type: String, after s: Double) { seconds.withLock { $0[type] = s } }
    /// The timeout `type` ran into, or nil when it never did.
    public func timeout(of type: String) -> Double? { seconds.withLock { $0[type] } }
}

/// What `del` did besides succeeding: the plugins it did not call.
public struct CNIDelOutcome: Hashable, Sendable {
    /// One line per skipped plugin, saying why.
    public var skipped: [String] = []
}

/// Runs a network configuration list's plugins the way libcni does for containerd, through a
/// `ProcessRunner` (which on Linux runs each binary in the node's network namespace).
///
/// Unlike libcni, it keeps no result cache: `add` returns the result, the caller saves `raw` and
/// hands it back to `check` and `del`.
public struct CNIRuntime: Sendable {
    public var binDir: String
    public var runner: any ProcessRunner
    /// Seconds each plugin may run before it is stopped.
    public var timeout: Double
    /// Whether a plugin binary exists and is executable; tests replace it.
    public var pluginExists: @Sendable (String) -> Bool
    /// Plugins that timed out (here or in another runtime of the same lab): DEL skips them.
    public var timedOut: CNITimedOutPlugins

    public init(binDir: String, runner: any ProcessRunner, timeout: Double = 30, timedOut: CNITimedOutPlugins = CNITimedOutPlugins(),
                pluginExists: @escaping @Sendable (String) -> Bool = { FileManager.default.isExecutableFile(atPath: $0) }) {
        self.binDir = binDir.count > 1 && binDir.hasSuffix("/") ? String(binDir.dropLast()) : binDir
        self.runner = runner; self.timeout = timeout; self.timedOut = timedOut; self.pluginExists = pluginExists
    }

    public func pluginPath(_ type: String) -> String { binDir + "/" + type }

    /// The binaries of `list` (plugins and IPAM plugins) that are missing from binDir.
    public func missingPlugins(_ list: CNINetworkConfigList) -> [String] {
        list.pluginTypes.filter { !pluginExists(pluginPath($0)) }
    }

    /// The exact invocation of plugin `index` for `command`.
    public func invocation(_ command: CNICommand, _ list: CNINetworkConfigList, pluginIndex index: Int,
                           _ a: CNIAttachment, prevResult: JSONValue?) -> CNIInvocation {
        let type = list.types[index]
        return CNIInvocation(command: command, pluginType: type, argv: [pluginPath(type)],
                             environment: cniEnvironment(command: command, attachment: a, binDir: binDir),
                             config: list.pluginConfig(at: index, attachment: a, prevResult: prevResult))
    }

    // MARK: - Commands

    /// ADD: runs the plugins in order, each one's result becoming the next one's prevResult; the
    /// last result is the attachment's result.
    ///
    /// When plugin k fails, ADD stops (spec: the runtime MUST stop the list) and DEL is run for
    /// every plugin of the list in reverse order, without prevResult since there is no result to
    /// cache. The spec asks a runtime that handles the failure to do exactly that, and containerd's
    /// CRI does it (it tears the sandbox's network down when setup fails); libcni alone would leave
    /// it to its caller. The error is `CNIAddFailed`, carrying the cleanup's own error if any.
    /// Missing binaries and an invalid attachment are reported before anything runs, without DEL.
    /// A plugin that timed out is left out of that DEL (`CNITimedOutPlugins`).
    /// `afterPlugin` is called after each plugin's ADD succeeded, with its index (`netlab
    /// cni-check` looks at the node there, to tell which plugin made what).
    public func add(_ list: CNINetworkConfigList, _ a: CNIAttachment, afterPlugin: ((Int) throws -> Void)? = nil) throws -> CNIResult {
        try preflight(list, a, .add)
        var prev: JSONValue?
        var result: CNIResult?
        for i in list.plugins.indices {
            do {
                let r = try runWithResult(invocation(.add, list, pluginIndex: i, a, prevResult: prev), list: list, a)
                prev = r.raw
                result = r
                try afterPlugin?(i)
            } catch {
                var cleanupError: (any Error)?
                var skipped: [String] = []
                do { skipped = try runDel(list, a, prevResult: nil).skipped } catch let e { cleanupError = e }
                throw CNIAddFailed(failure: error, pluginIndex: i, cleanupError: cleanupError, cleanupSkipped: skipped)
            }
        }
        return result!   // plugins is never empty (validated by CNINetworkConfigList)
    }

    /// CHECK: runs every plugin in order with the ADD result as prevResult. Skipped (and says so)
    /// for versions before 0.4.0, where libcni refuses it, and when the list sets disableCheck.
    @discardableResult
    public func check(_ list: CNINetworkConfigList, _ a: CNIAttachment, prevResult: CNIResult) throws -> CNICheckOutcome {
        guard list.cniVersion.supportsCheck else {
            return .skipped(reason: "cniVersion \(list.cniVersion) has no CHECK (it exists from 0.4.0 on)")
        }
        if list.disableCheck { return .skipped(reason: "the configuration list sets disableCheck") }
        try preflight(list, a, .check)
        for i in list.plugins.indices {
            try runWithoutResult(invocation(.check, list, pluginIndex: i, a, prevResult: prevResult.raw), a)
        }
        return .checked
    }

    /// DEL: runs the plugins in reverse order. The ADD result goes along as prevResult only from
    /// 0.4.0 on, as in libcni. Like libcni's DelNetworkList it stops at the first plugin that fails
    /// (the spec says the runtime MUST stop the list); plugins are expected to make DEL succeed
    /// when resources are already gone, so calling `del` again after fixing the cause is safe.
    /// A plugin that timed out in this lab is skipped (and named in the outcome). An empty
    /// `netnsPath` (the pod's namespace is gone) is allowed: the plugins get no CNI_NETNS, as the
    /// spec allows for DEL, and still release what they hold outside it (IPAM, host-side rules).
    @discardableResult
    public func del(_ list: CNINetworkConfigList, _ a: CNIAttachment, prevResult: CNIResult?) throws -> CNIDelOutcome {
        try preflight(list, a, .del)
        return try runDel(list, a, prevResult: prevResult?.raw)
    }

    /// STATUS (spec 1.1.0): every plugin in order, as libcni's GetStatusNetworkList, with its
    /// configuration (name and cniVersion injected) and no container variables: it succeeds when
    /// the plugin is ready for ADD.
    public func status(_ list: CNINetworkConfigList) throws {
        try runWithoutContainer(.status, list) { $0 }
    }

    /// GC (spec 1.1.0): every plugin in order, as libcni's GCNetworkList, its configuration
    /// carrying "cni.dev/valid-attachments" (container ID and interface of each attachment that is
    /// still wanted); a plugin releases what it holds for any other.
    public func gc(_ list: CNINetworkConfigList, validAttachments: [CNIAttachment]) throws {
        let valid = JSONValue.array(validAttachments.map { .object(["containerID": .string($0.containerID), "ifname": .string($0.ifName)]) })
        try runWithoutContainer(.gc, list) { conf in
            var c = conf
            c["cni.dev/valid-attachments"] = valid
            return c
        }
    }

    private func runWithoutContainer(_ command: CNICommand, _ list: CNINetworkConfigList, _ config: (JSONValue) -> JSONValue) throws {
        let missing = missingPlugins(list)
        if !missing.isEmpty { throw CNIPluginNotFound(pluginTypes: missing, binDir: binDir) }
        for (i, type) in list.types.enumerated() {
            var conf = list.plugins[i]
            conf["name"] = .string(list.name)
            conf["cniVersion"] = .string(list.cniVersion.description)
            let env = ["CNI_COMMAND": command.rawValue, "CNI_PATH": binDir, "PATH": cniSearchPath]
            let ctx = ErrorContext(type: type, command: command, podName: "-", podNamespace: "-", netns: "-")
            try ensureSucceeded(try start([pluginPath(type)], env, config(conf).encoded(), ctx), ctx)
        }
    }

    /// Asks a plugin which spec versions it supports (CNI_COMMAND=VERSION), for preflight checks:
    /// the installed 1.1.1 plugins stop at 1.0.0.
    public func supportedVersions(pluginType: String, asking version: CNIVersion) throws -> [String] {
        guard pluginExists(pluginPath(pluginType)) else { throw CNIPluginNotFound(pluginTypes: [pluginType], binDir: binDir) }
        let env = ["CNI_COMMAND": CNICommand.version.rawValue, "CNI_PATH": binDir, "PATH": cniSearchPath]
        let stdin = JSONValue.object(["cniVersion": .string(version.description)]).encoded()
        let ctx = ErrorContext(type: pluginType, command: .version, podName: "-", podNamespace: "-", netns: "-")
        let outcome = try start([pluginPath(pluginType)], env, stdin, ctx)
        try ensureSucceeded(outcome, ctx)
        guard let json = try? JSONValue.decode(outcome.stdout), let list = json["supportedVersions"]?.arrayValue else {
            throw ctx.error(outcome, problem: "printed no supportedVersions list: " + excerpt(outcome.stdout, cut: outcome.stdoutBytesCut))
        }
        return list.compactMap(\.stringValue)
    }

    // MARK: - Running

    private func preflight(_ list: CNINetworkConfigList, _ a: CNIAttachment, _ command: CNICommand) throws {
        try a.validate(for: command)
        let missing = missingPlugins(list)
        if !missing.isEmpty { throw CNIPluginNotFound(pluginTypes: missing, binDir: binDir) }
    }

    private func runDel(_ list: CNINetworkConfigList, _ a: CNIAttachment, prevResult: JSONValue?) throws -> CNIDelOutcome {
        let prev = list.cniVersion.passesPrevResultOnDel ? prevResult : nil
        var outcome = CNIDelOutcome()
        for i in list.plugins.indices.reversed() {
            let type = list.types[i]
            if let t = timedOut.timeout(of: type) {
                outcome.skipped.append("DEL of plugin \(type) was skipped: it did not finish within \(t.formatted()) s earlier in this lab, and what it made goes with the lab's namespaces")
                continue
            }
            try runWithoutResult(invocation(.del, list, pluginIndex: i, a, prevResult: prev), a)
        }
        return outcome
    }

    private func runWithResult(_ inv: CNIInvocation, list: CNINetworkConfigList, _ a: CNIAttachment) throws -> CNIResult {
        let ctx = ErrorContext(inv, a)
        let outcome = try start(inv.argv, inv.environment, inv.stdin, ctx)
        try ensureSucceeded(outcome, ctx)
        do {
            return try CNIResult(data: outcome.stdout, expected: list.cniVersion)
        } catch {
            throw ctx.error(outcome, problem: "printed output that is not a valid CNI result (\(error)); output begins: "
                + excerpt(outcome.stdout, cut: outcome.stdoutBytesCut))
        }
    }

    private func runWithoutResult(_ inv: CNIInvocation, _ a: CNIAttachment) throws {
        let ctx = ErrorContext(inv, a)
        try ensureSucceeded(try start(inv.argv, inv.environment, inv.stdin, ctx), ctx)
    }

    private func start(_ argv: [String], _ env: [String: String], _ stdin: Data, _ ctx: ErrorContext) throws -> ProcessOutcome {
        do {
            let outcome = try runner.run(argv: argv, environment: env, stdin: stdin, timeout: timeout)
            if case .timedOut(let s) = outcome.termination { timedOut.record(ctx.type, after: s) }
            return outcome
        } catch {
            throw CNIPluginError(pluginType: ctx.type, command: ctx.command, podName: ctx.podName, podNamespace: ctx.podNamespace,
                                 netnsPath: ctx.netns, termination: nil, problem: "could not be started: \(error)")
        }
    }

    /// A non-zero exit, a signal or a timeout is a failure; the plugin's error JSON on stdout (the
    /// spec's error format) is used when it printed one, as libcni's invoke does.
    private func ensureSucceeded(_ o: ProcessOutcome, _ ctx: ErrorContext) throws {
        if o.succeeded { return }
        if case .exited = o.termination, let json = try? JSONValue.decode(o.stdout), let code = json["code"]?.intValue {
            throw ctx.error(o, code: code, msg: json["msg"]?.stringValue ?? "", details: json["details"]?.stringValue)
        }
        var problem: String?
        if case .exited = o.termination {
            let out = o.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
            problem = out.isEmpty ? "printed no CNI error on stdout" : "printed no CNI error on stdout but: " + excerpt(o.stdout, cut: o.stdoutBytesCut)
        } else if !o.stdout.isEmpty {
            problem = "output before it ended: " + excerpt(o.stdout, cut: o.stdoutBytesCut)
        }
        throw ctx.error(o, problem: problem)
    }

    private struct ErrorContext {
        var type: String, command: CNICommand, podName: String, podNamespace: String, netns: String
        init(type: String, command: CNICommand, podName: String, podNamespace: String, netns: String) {
            self.type = type; self.command = command; self.podName = podName; self.podNamespace = podNamespace; self.netns = netns
        }
        init(_ inv: CNIInvocation, _ a: CNIAttachment) {
            self.init(type: inv.pluginType, command: inv.command, podName: a.podName, podNamespace: a.podNamespace, netns: a.netnsPath)
        }
        func error(_ o: ProcessOutcome, code: Int? = nil, msg: String? = nil, details: String? = nil, problem: String? = nil) -> CNIPluginError {
            CNIPluginError(pluginType: type, command: command, podName: podName, podNamespace: podNamespace, netnsPath: netns,
                           termination: o.termination, code: code, msg: msg, details: details, problem: problem,
                           stderr: o.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}

/// The first 200 bytes of `data`, quoted, control characters escaped, marked when cut (`cut`: bytes
/// the runner already dropped from the middle of the output).
func excerpt(_ data: Data, limit: Int = 200, cut: Int = 0) -> String {
    let head = String(decoding: data.prefix(limit), as: UTF8.self)
    var s = ""
    for u in head.unicodeScalars {
        switch u {
        case "\n": s += "\\n"
        case "\t": s += "\\t"
        case "\r": s += "\\r"
        case "\"": s += "\\\""
        case "\\": s += "\\\\"
        default: s += u.value < 0x20 || u.value == 0x7f ? String(format: "\\u%04x", u.value) : String(u)
        }
    }
    if data.isEmpty { return "(nothing)" }
    let all = cut > 0 ? " … (and \(BoundedOutput.grouped(cut)) bytes from its middle that netlab did not keep)"
        : data.count > limit ? " … (\(data.count) bytes in all)" : ""
    return "\"" + s + "\"" + all
}
