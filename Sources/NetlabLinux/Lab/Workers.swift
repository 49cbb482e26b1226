import Foundation
import Glibc

/// The lab's worker pool: per-node and per-pod work that waits on child processes.
extension Lab {
    /// Runs `body` for every item on up to `width` threads (nothing here changes a thread's
    /// namespace: children are spawned into theirs (vfork, then setns in the child), sockets opened on throw-away threads) and throws
    /// the first error in item order once all are done. The work is mostly waiting for child
    /// processes (CNI plugins, the proxy), so more threads than cores keep the cores busy.
    func forEachConcurrently<T>(_ items: [T], width: Int = Lab.parallelism, _ body: (T) throws -> Void) throws {
        if items.isEmpty { return }
        let errors = ErrorSlots(count: items.count)
        withoutActuallyEscaping(body) { body in
            let work = Workers.Work(count: items.count) { i in
                do { try body(items[i]) } catch { errors.set(i, error) }
            }
            Workers.run(work, threads: min(width, items.count))
        }
        if let e = errors.first { throw e }
    }

    /// Threads for per-node and per-pod work: NETLAB_PARALLELISM, or 4 per core.
    public static let parallelism: Int = {
        if let v = ProcessInfo.processInfo.environment["NETLAB_PARALLELISM"], let n = Int(v), n > 0 { return n }
        return max(2, 4 * ProcessInfo.processInfo.activeProcessorCount)
    }()
}

/// Errors of concurrent work, by item.
final class ErrorSlots: @unchecked Sendable {
    private var slots: [Error?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ e: Error) { lock.lock(); slots[i] = e; lock.unlock() }
    var first: Error? { lock.lock(); defer { lock.unlock() }; return slots.compactMap { $0 }.first }
}

/// A few plain pthreads that take items from a shared counter until none are left, joined before
/// `run` returns (so the work closure never outlives the call). Not Swift's cooperative pool:
/// these threads wait on child processes, which the pool must never do.
enum Workers {
    final class Work: @unchecked Sendable {
        let count: Int
        let body: (Int) -> Void
        private var next = 0
        private let lock = NSLock()
        init(count: Int, body: @escaping (Int) -> Void) { self.count = count; self.body = body }
        func take() -> Int? {
            lock.lock(); defer { lock.unlock() }
            if next >= count { return nil }
            next += 1
            return next - 1
        }
    }

    static func run(_ work: Work, threads: Int) {
        var ids: [pthread_t] = []
        for _ in 0..<max(1, threads) {
            var t = pthread_t()
            let ctx = Unmanaged.passRetained(work).toOpaque()
            let rc = pthread_create(&t, nil, { ctx in
                let w = Unmanaged<Work>.fromOpaque(ctx!).takeRetainedValue()
                while let i = w.take() { w.body(i) }
                return nil
            }, ctx)
            if rc == 0 { ids.append(t) } else {
                // No thread: do the share of the work here instead.
                Unmanaged<Work>.fromOpaque(ctx).release()
                while let i = work.take() { work.body(i) }
            }
        }
        for t in ids { pthread_join(t, nil) }
    }
}
