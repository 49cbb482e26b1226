import Foundation
import Glibc
import NetlabKit

/// What `netlab status` prints about the labs under a state root. Labs come and go while it reads
/// them (a `run` ends, a `down` finishes): one that vanished after it was listed is skipped, one
/// being made has no record yet and says so; only a record that exists and cannot be read is broken.
public enum LabStatus {
    /// Reading the state needs root: lab directories are root's alone.
    public struct NeedsRoot: Error, CustomStringConvertible {
        public var stateRoot: String
        public var description: String { "netlab status needs root to read \(stateRoot): run it with sudo" }
    }

    public struct Output {
        public var text: String
        /// Labs whose state exists but cannot be read.
        public var broken: [String]
        /// The same, for `status --json`: one object per lab.
        public var labs: [JSONValue] = []

        /// `{"labs": [...]}`: per lab its phase, the pid of a live owner, the topology, its
        /// namespaces by member, and the pods' addresses from their CNI results.
        public var json: JSONValue { .object(["labs": .array(labs)]) }
    }

    /// `names`: the labs asked for (`--name`), or nil for every lab under `stateRoot`.
    public static func render(names: [String]?, stateRoot: String = LabNames.stateRoot) throws -> Output {
        if geteuid() != 0 && access(stateRoot, F_OK) == 0 { throw NeedsRoot(stateRoot: stateRoot) }
        return try render(labs: names ?? LabStore.labs(root: stateRoot), asked: names != nil, stateRoot: stateRoot)
    }

    /// `labs` as listed a moment ago; `asked`: the user named them, so a missing one is an error.
    static func render(labs: [String], asked: Bool, stateRoot: String) throws -> Output {
        let names: [String]? = asked ? labs : nil
        var blocks: [String] = [], broken: [String] = [], objects: [JSONValue] = []
        for n in labs {
            let store = LabStore(lab: n, root: stateRoot)
            guard store.exists else {
                if names != nil { throw LabError.notFound(n) }
                continue // taken down since it was listed
            }
            let record: LabRecord
            do { record = try store.readRecord() } catch {
                if !store.exists { if names != nil { throw LabError.notFound(n) }; continue }
                if !LabStore.isUnlocked(store.directory), access(store.recordPath, F_OK) != 0 {
                    let pid = LabStore.holder(store.directory).map { " (pid \($0))" } ?? ""
                    blocks.append("lab \(n): creating\(pid)")
                    objects.append(.object(["lab": .string(n), "phase": .string(LabRecord.Phase.creating.rawValue),
                                            "pid": LabStore.holder(store.directory).map { .number(Double($0)) } ?? .null]))
                    continue
                }
                broken.append(n)
                blocks.append("lab \(n): broken: its state \(store.recordPath) cannot be read (\(error)): remove it with `netlab clean --name \(n)`")
                objects.append(.object(["lab": .string(n), "phase": .string("broken"), "error": .string("\(error)")]))
                continue
            }
            let live = LabStore.isUnlocked(store.directory) ? nil : LabStore.holder(store.directory) ?? record.ownerPID
            let owner = record.phase == .up && live == nil ? "" : " (pid \(live ?? record.ownerPID))"
            let map = LabMap.render(lab: n, topology: record.topology, pods: record.pods)
                .split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
            let agents = Lab.agentStates(topology: record.topology, store: store)
            let agentLines = agents.map { a in
                "\n  agent \(a.instance.agent) on \(a.instance.node): \(a.running ? "running" : "dead")"
                    + (a.pid.map { " (pid \($0))" } ?? "") + (a.running ? "" : ", log \(a.logPath)")
            }.joined()
            let api = Lab.apiServerState(topology: record.topology, store: store)
            let apiLine = api.map { a in
                "\n  API server \(a.url): \(a.running ? "running" : "dead")" + (a.pid.map { " (pid \($0))" } ?? "")
                    + (a.running ? ", kubeconfig \(a.kubeconfig) (netlab kubectl\(n == LabNames.defaultLab ? "" : " --name \(n)") -- get nodes)" : ", log \(a.logPath)")
            } ?? ""
            blocks.append("lab \(n): \(record.phase.rawValue)\(owner), topology \(record.topology.name)\n\(map)\(apiLine)\(agentLines)")
            objects.append(json(lab: n, record: record, livePID: live, agents: agents, api: api))
        }
        if blocks.isEmpty && names == nil { return Output(text: "no labs (start one with `sudo netlab up`)", broken: []) }
        return Output(text: blocks.joined(separator: "\n\n"), broken: broken, labs: objects)
    }

    static func json(lab: String, record r: LabRecord, livePID: Int32?, agents: [Lab.AgentState] = [], api: Lab.APIServerState? = nil) -> JSONValue {
        let plan = LabPlan(lab: lab, topology: r.topology)
        var namespaces: [String: JSONValue] = [:]
        for ns in plan.namespaces { namespaces[ns.member] = .string(ns.name) }
        var pods: [String: JSONValue] = [:]
        for p in r.topology.pods {
            let a = r.pods[p.name]
            pods[p.name] = .object(["node": .string(p.node), "ip": a.map { .string("\($0.address.address)") } ?? .null,
                                    "gateway": a?.gateway.map { .string("\($0)") } ?? .null])
        }
        return .object(["lab": .string(lab), "phase": .string(r.phase.rawValue), "persistent": .bool(r.persistent),
                        "pid": livePID.map { .number(Double($0)) } ?? .null, "topology": .string(r.topology.name),
                        "namespaces": .object(namespaces), "pods": .object(pods),
                        "api": .object(["url": .string(r.topology.api.url), "state": .string(api.map { $0.running ? "running" : "dead" } ?? "not started"),
                                        "pid": api?.pid.map { .number(Double($0)) } ?? .null,
                                        "kubeconfig": api.map { .string($0.kubeconfig) } ?? .null]),
                        "agents": .array(agents.map { a in
                            .object(["name": .string(a.instance.agent), "node": .string(a.instance.node),
                                     "state": .string(a.running ? "running" : "dead"),
                                     "pid": a.pid.map { .number(Double($0)) } ?? .null, "log": .string(a.logPath)])
                        })])
    }
}
