import Foundation
import NetlabKit
import NetlabKubeClient
import Synchronization

/// kube-proxy's service health server: an HTTP listener on 0.0.0.0:healthCheckNodePort (in the
/// node's network namespace, where the agent runs) for every LoadBalancer Service with
/// externalTrafficPolicy Local, answering what HealthCheckNodePorts says (200 with local ready
/// endpoints, 503 without, upstream's JSON body and headers) on any path. `update` after every
/// sync opens the ports of new services and closes those of services gone, as SyncServices does.
/// Each listener is a HealthzServer with its own StopToken, so one can be closed alone.
final class HealthCheckServer: Sendable {
    struct Listener: Sendable {
        let stop: StopToken
    }

    let current = Mutex(HealthCheckNodePorts())
    let listeners = Mutex([Int: Listener]())
    /// The proxy's own health (/healthz), which upstream puts in every answer.
    let proxyHealthy: @Sendable () -> Bool

    init(proxyHealthy: @escaping @Sendable () -> Bool) { self.proxyHealthy = proxyHealthy }

    func update(_ ports: HealthCheckNodePorts) {
        current.withLock { $0 = ports }
        listeners.withLock { open in
            for (port, l) in open where ports.entries[port] == nil {
                l.stop.stop()
                open[port] = nil
                logLine("health check node port \(port) closed")
            }
            for port in ports.ports where open[port] == nil {
                let token = StopToken()
                do {
                    let server = try HealthzServer(host: "0.0.0.0", port: port, stop: token) { [weak self] _ in
                        guard let self else { return nil }
                        let healthy = self.proxyHealthy()
                        guard let a = self.current.withLock({ $0.answer(port: port, proxyHealthy: healthy) }) else { return nil }
                        return (a.code, a.body)
                    }
                    Thread { server.serve() }.start()
                    open[port] = Listener(stop: token)
                    let e = ports.entries[port]!
                    logLine("health check node port \(port) open for service \(e.namespace)/\(e.name)")
                } catch {
                    // Retried on the next sync: another listener (a leftover, a user's) may hold the port.
                    logLine("cannot open health check node port \(port): \(error)")
                }
            }
        }
    }

    func stopAll() {
        listeners.withLock { open in
            for l in open.values { l.stop.stop() }
            open = [:]
        }
    }
}
