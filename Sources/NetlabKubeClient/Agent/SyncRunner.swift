import Foundation

/// kube-proxy's BoundedFrequencyRunner: `request()` asks for a sync; the sync runs on the
/// runner's own thread, requests arriving meanwhile becoming one more sync; syncs are rate-limited
/// to one per `minInterval` with a burst of `burst` (kube-proxy runs its with a burst of 2, so the
/// first change after a quiet period is synced at once); and at least once per `maxInterval` (a
/// periodic resync, nil for none). A sync that returns false did nothing (its input was not ready
/// yet): it is not counted against the rate, and is tried again at the next request or resync.
public final class SyncRunner: @unchecked Sendable {
    // The condition guards every var below.
    private let condition = NSCondition()
    private var pending = false
    private var stopped = false
    private var lastRun: Date = .distantPast
    /// Syncs allowed now; refilled at one per minInterval up to `burst`.
    private var tokens: Double
    private var refilled = Date()
    let minInterval: Double
    let maxInterval: Double?
    let burst: Double
    let sync: @Sendable () -> Bool

    public init(minInterval: Double, maxInterval: Double?, burst: Int = 2, sync: @escaping @Sendable () -> Bool) {
        self.minInterval = minInterval; self.maxInterval = maxInterval; self.burst = Double(max(1, burst)); self.sync = sync
        tokens = self.burst
    }

    public func request() {
        condition.lock(); pending = true; condition.signal(); condition.unlock()
    }

    public func stop() {
        condition.lock(); stopped = true; condition.broadcast(); condition.unlock()
    }

    private func refill(_ now: Date) {
        if minInterval > 0 { tokens = min(burst, tokens + now.timeIntervalSince(refilled) / minInterval) } else { tokens = burst }
        refilled = now
    }

    /// Runs syncs until stopped (on the calling thread; start it on a thread of its own).
    public func run() {
        condition.lock()
        while true {
            // Wait for a request or the periodic resync.
            while !stopped && !pending {
                if let maxInterval {
                    let due = lastRun.addingTimeInterval(maxInterval)
                    if Date() >= due { break }
                    _ = condition.wait(until: due)
                } else {
                    condition.wait()
                }
            }
            // Rate-limited: requests arriving while it waits join this sync.
            refill(Date())
            while !stopped && tokens < 1 {
                _ = condition.wait(until: Date().addingTimeInterval((1 - tokens) * minInterval))
                refill(Date())
            }
            if stopped { break }
            pending = false
            tokens -= 1
            lastRun = Date()
            condition.unlock()
            let didSync = sync()
            condition.lock()
            // Not ready: the token is given back, and the next try waits for a request (the input
            // becoming ready makes one) or the periodic resync, counted from this try.
            if !didSync { tokens = min(burst, tokens + 1) }
        }
        condition.unlock()
    }
}
