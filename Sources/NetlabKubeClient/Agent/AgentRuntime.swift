import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension KubeClient {
    /// The API client of an agent given kube-proxy's pair of flags: the kubeconfig's server and
    /// token, with `--master` taking the server's place when both are given (kube-proxy's rule).
    public static func forAgent(kubeconfig: String?, master: String?, userAgent: String) throws -> KubeClient {
        var server: ServerAddress
        var token: String?
        if let path = kubeconfig {
            let k = try Kubeconfig.load(path: path)
            server = try ServerAddress(url: k.server)
            token = k.token
        } else if let master {
            server = try ServerAddress(url: master)
        } else {
            throw Kubeconfig.Invalid(description: "give --kubeconfig or --master: the agent needs the API server's address")
        }
        if let master { server = try ServerAddress(url: master) }
        return KubeClient(server: server, token: token, userAgent: userAgent)
    }
}

/// SIGTERM and SIGINT, caught for an agent's orderly stop: `wait()` returns once one arrives.
public final class TerminationSignals: @unchecked Sendable {
    private let arrived = DispatchSemaphore(value: 0)
    private let sources: [any DispatchSourceSignal]

    public init() {
        signal(SIGTERM, SIG_IGN); signal(SIGINT, SIG_IGN)
        let arrived = self.arrived
        sources = [SIGTERM, SIGINT].map { sig in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { arrived.signal() }
            s.resume()
            return s
        }
    }

    public func wait() { arrived.wait() }

    deinit { sources.forEach { $0.cancel() } }
}
