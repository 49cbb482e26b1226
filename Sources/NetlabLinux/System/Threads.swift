import Foundation
import Glibc
import Synchronization

/// Every thread netlab owns, in one place, and the rules they keep:
///
/// 1. **No thread of Swift's concurrency pool ever changes namespace or blocks on a child.**
///    netlab's own work runs on the threads below; nothing here is `async`.
/// 2. **setns only on a throw-away thread.** Entering a namespace happens on a fresh pthread that
///    exits afterwards (`netlab_run_in_netns`, `netlab_netns_create` in CNetlabShims: sockets,
///    sysctls, namespace creation), or in a child between vfork and exec (`netlab_spawn`; an
///    agent's own UTS and mount namespaces too, `netlab_spawn_isolated`). No
///    thread that runs Swift code afterwards has switched.
/// 3. **Sockets are opened inside a namespace, then used from anywhere**: netlink, AF_PACKET
///    captures, probes and listeners stay in the namespace they were made in.
/// 4. **Shared state is behind a `Mutex`** (Synchronization), or the type says in a comment why it
///    is safe to share.
///
/// The threads:
/// - the **workers** (`forEachConcurrently`): a few plain pthreads per call that wait on CNI
///   plugins and proxies, joined before the call returns;
/// - the **signal reader** (`Interrupts.install`): one thread for the process's life, reading the
///   pipe the signal handlers write to;
/// - in `netlab serve` (a pod's server, its own process): one accept or receive loop per socket
///   and a thread per TCP connection (`start`);
/// - the **capture closer** (`Capture.closer`): a dispatch queue that closes packet sockets off
///   the check's path;
/// - the **namespace threads** of rule 2, in C.
///
/// A long-lived server of the lab (the Kubernetes API endpoint: `netlab apiserver`,
/// Sources/NetlabAPIServer) runs on swift-nio's event loop, in its own process that the
/// Supervisor starts inside its member's network namespace, so the socket it binds is that
/// namespace's: netlab does not start a fourth model.
public enum NetlabThreads {
    /// Starts a thread for the rest of the process's life (a signal reader, a server loop).
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let t = Thread(block: body)
        t.name = name
        t.start()
    }
}

extension Lab {
    /// Runs `body` for every item on up to `width` worker threads and throws the first error in
    /// item order once all are done. Nothing here changes a thread's namespace (children are
    /// spawned into theirs: vfork, then setns in the child; sockets are opened on throw-away
    /// threads). The work is mostly waiting for child processes (CNI plugins, the proxy), so more
    /// threads than cores keep the cores busy. `body` must be safe to call concurrently for
    /// different items (the lab's state is behind `withState`).
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
final class ErrorSlots: Sendable {
    private let slots: Mutex<[Error?]>
    init(count: Int) { slots = Mutex(Array(repeating: nil, count: count)) }
    func set(_ i: Int, _ e: Error) { slots.withLock { $0[i] = e } }
    var first: Error? { slots.withLock { $0.compactMap { $0 }.first } }
}

/// A few plain pthreads that take items from a shared counter until none are left, joined before
/// `run` returns (so the work closure never outlives the call). Not Swift's cooperative pool:
/// these threads wait on child processes, which the pool must never do.
enum Workers {
    /// `@unchecked` because `body` is not `@Sendable`: it borrows the caller's values for the
    /// duration of `run`, which joins every thread before it returns, and the caller promises
    /// it is safe for different items at once (see `forEachConcurrently`). The counter is a Mutex.
    final class Work: @unchecked Sendable {
        let count: Int
        let body: (Int) -> Void
        private let next = Mutex(0)
        init(count: Int, body: @escaping (Int) -> Void) { self.count = count; self.body = body }
        func take() -> Int? {
            next.withLock { n in
                if n >= count { return nil }
                n += 1
                return n - 1
            }
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
