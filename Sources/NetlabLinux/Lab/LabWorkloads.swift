import Foundation
import NetlabKit

/// Workloads: the lab's long-running children, started through the Supervisor.
extension Lab {
    /// Starts netlab's server (`netlab serve`) in every pod that declares ports, and waits until
    /// it listens: it prints `ready` once every socket is bound.
    ///
    /// The server is in the journal before it serves: it starts waiting for a `start` line on
    /// stdin, is journaled by pid and start time, and only then told to start. A netlab that dies
    /// in between closes that pipe, and the server exits without having served. A `run` lab's
    /// servers die with netlab (PR_SET_PDEATHSIG); a lab left up (`up`, `run --keep`) keeps its.
    /// PR_SET_PDEATHSIG follows the thread that spawned them: the one that called `up`, which must
    /// outlive a non-persistent lab (the CLI's main thread does; so does a synchronous test).
    func startWorkloads() throws {
        for pod in topology.pods where !pod.ports.isEmpty {
            try Interrupts.check()
            logStep("start server", member: pod.name, ["pod": "\(pod.name)"])
            do {
                try supervisor.start(podServer(pod, namespace: try namespace(pod.name)))
            } catch let e as Supervisor.StartFailure {
                throw LabError.workload("netlab's server in pod '\(pod.name)' did not start: \(e.why)" + (e.log.isEmpty ? "" : ": " + e.log))
            }
        }
    }

    /// `netlab serve` for `pod`: the serve side of this contract is PodServer.run.
    func podServer(_ pod: Pod, namespace: NetworkNamespace) -> SupervisedProcess {
        var argv = [tools.netlab, "serve", "--lab", name, "--pod", pod.name, "--wait-for-start"]
        for p in pod.ports where p.proto != .sctp { argv += [p.proto == .tcp ? "--tcp" : "--udp", "\(p.containerPort)"] }
        return SupervisedProcess(name: "serve \(pod.name)", argv: argv, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"],
                                 namespace: namespace, readiness: .line(PodServer.readyLine), logFile: "serve-\(pod.name).log",
                                 diesWithNetlab: !record.persistent, waitsForStart: true)
    }
}
