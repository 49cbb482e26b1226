import Foundation
import NetlabKit

/// How CheckRunner runs a check's `changes:` and `stream:` (kept here so the runner's loop stays
/// one probe, one judgement).
extension CheckRunner {
    /// The changes without `at`, made before the probe (or before the stream starts).
    func applyUntimedChanges(_ check: Check, state: inout EndpointChangeState) throws {
        for change in check.changes where change.at == nil { _ = try lab.applyEndpointChange(change, state: &state) }
    }

    /// Runs the check's stream while its timed changes are made at their times. The stream's
    /// observation goes into `result.stream`; the returned probe is its last request's outcome.
    func runStream(_ check: Check, _ spec: StreamSpec, from ns: NetworkNamespace, to target: IPAddress, port: Int,
                   state: inout EndpointChangeState, result: inout CheckResult,
                   faultHook: ((Double) -> Void)? = nil) throws -> ProbeObservation {
        let stream = try Stream(check.kind, from: ns, to: target, port: port, spec: spec, timeout: check.timeoutSeconds)
        let start = Date()
        let done = DispatchSemaphore(value: 0)
        let outcome = OutcomeBox()
        NetlabThreads.start(name: "stream") {
            outcome.value = stream.run(start: start)
            done.signal()
        }
        var applied: [StreamObservation.AppliedChange] = []
        var failure: Error?
        // The timed changes and faults on one timeline, in time order (a fault first at a tie: the
        // change then happens on the broken datapath, as the file says both at once).
        var timedChanges = check.changes.filter { $0.at != nil }
        let times = Set(timedChanges.compactMap(\.at) + (faultHook == nil ? [] : check.faults.compactMap(\.at))).sorted()
        timeline: for t in times {
            do {
                try Interrupts.pause(seconds: max(0, t - Date().timeIntervalSince(start)))
                faultHook?(t)
                while let change = timedChanges.first, let at = change.at, at <= t {
                    timedChanges.removeFirst()
                    let (written, synced) = try lab.applyEndpointChange(change, state: &state)
                    applied.append(.init(summary: change.summary, at: written.timeIntervalSince(start), syncedAt: synced.timeIntervalSince(start)))
                }
            } catch { failure = error; break timeline }
        }
        // The stream ends by its duration (or the interrupt); its socket closes with it.
        done.wait()
        if let failure { throw failure }
        let (answers, lastClient) = outcome.value ?? ([], nil)
        let observation = StreamObservation(local: stream.local, answers: answers, changes: applied)
        result.stream = observation
        return observation.lastProbe(target: stream.target, serverSaw: lastClient)
    }
}

/// The stream thread's result, handed over once (the semaphore orders the write before the read).
private final class OutcomeBox: @unchecked Sendable {
    var value: (answers: [StreamObservation.Answer], lastClient: SocketEndpoint?)?
}
