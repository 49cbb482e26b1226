import Foundation

/// kube-proxy's BoundedFrequencyRunner: `request()` asks for a sync; the sync runs on the
/// runner's own thread at most once per `minInterval` (a burst of requests meanwhile becomes one
/// sync) and at least once per `maxInterval` (a periodic resync, nil for none).
public final class SyncRunner: @unchecked Sendable {
    // The condition guards `pending`, `stopped` and `lastRun`.
    private let condition = NSCondition()
    private var pending = false
    private var stopped = false
    private var lastRun: Date = .distantPast
    let minInterval: Double
    let maxInterval: Double?
    let sync: @Sendable () -> Void

    public init(minInterval: Double, maxInterval: Double?, sync: @escaping @Sendable () -> Void) {
        self.minInterval = minInterval; self.maxInterval = maxInterval; self.sync = sync
    }

    public func request() {
        condition.lock(); pending = true; condition.signal(); condition.unlock()
    }

    public func stop() {
        condition.lock(); stopped = true; condition.broadcast(); condition.unlock()
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
            // Not more often than minInterval: requests arriving meanwhile join this sync.
            let earliest = lastRun.addingTimeInterval(minInterval)
            while !stopped && Date() < earliest { _ = condition.wait(until: earliest) }
            if stopped { break }
            pending = false
            lastRun = Date()
            condition.unlock()
            sync()
            condition.lock()
        }
        condition.unlock()
    }
}
