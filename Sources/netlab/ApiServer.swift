import ArgumentParser
import Dispatch
import Foundation
import Glibc
import NetlabAPIServer
import NetlabKit

/// The lab's Kubernetes API server, started by netlab's Supervisor inside the API member's network
/// namespace (not for users): it binds `--listen`, prints `ready`, serves until SIGTERM.
struct ApiServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apiserver",
        abstract: "Serve the lab's Kubernetes API over HTTP or HTTPS (JSON only).",
        shouldDisplay: false)
    @Option(help: "ADDR:PORT to listen on.") var listen = "127.0.0.1:6443"
    @Option(help: "A v1 List (JSON) of objects to create at start.") var seed: String?
    @Option(help: "Events kept per resource for watches that resume and paged lists.") var history = 1000
    @Option(help: "Seconds between BOOKMARKs to the watches that allow them.") var bookmarkInterval = 60
    @Option(help: "The IPv4 CIDR Services' clusterIPs are allocated from, or IPv4,IPv6 for a dual-stack cluster (kube-apiserver's --service-cluster-ip-range, e.g. 10.36.0.0/20,2001:db8:36::/112).")
    var serviceCidr = "10.96.0.0/12"
    @Option(help: "The range nodePorts are allocated from (kube-apiserver's --service-node-port-range).")
    var nodePortRange = "30000-32767"
    @Option(help: "A PEM certificate (chain) to serve HTTPS with; needs --tls-private-key-file.") var tlsCertFile: String?
    @Option(help: "The PEM private key of --tls-cert-file.") var tlsPrivateKeyFile: String?
    @Option(help: "A CSV of token,user,uid[,\"groups\"]: requests then need one of these bearer tokens.") var tokenAuthFile: String?
    @Option(help: "ADDR:PORT to also serve plain HTTP on, without authentication (kube-apiserver's old insecure port), e.g. 127.0.0.1:6080 for the lab's own use inside the API's namespace.")
    var insecureListen: String?

    func validate() throws {
        guard Self.split(listen) != nil else { throw ValidationError("--listen wants ADDR:PORT (e.g. 127.0.0.1:6443), not \(listen)") }
        if let insecureListen, Self.split(insecureListen) == nil {
            throw ValidationError("--insecure-listen wants ADDR:PORT (e.g. 127.0.0.1:6080), not \(insecureListen)")
        }
        guard history > 0 else { throw ValidationError("--history must be at least 1") }
        guard bookmarkInterval > 0 else { throw ValidationError("--bookmark-interval must be at least 1 second") }
        guard let ranges = Self.serviceRanges(serviceCidr), ranges.v4.length <= 30 else {
            throw ValidationError("--service-cidr wants an IPv4 CIDR of at least 4 addresses (e.g. 10.96.0.0/12), or IPv4,IPv6 (e.g. 10.36.0.0/20,2001:db8:36::/112), not \(serviceCidr)")
        }
        // kube-apiserver: an IPv6 service range may be at most /108 (its allocator's bitmap limit) and a network.
        if let v6 = ranges.v6, v6.length < 108 || v6.length > 126 {
            throw ValidationError("--service-cidr's IPv6 range \(v6) must be /108 to /126 (kube-apiserver's limit), e.g. 2001:db8:36::/112")
        }
        guard (tlsCertFile == nil) == (tlsPrivateKeyFile == nil) else {
            throw ValidationError("--tls-cert-file and --tls-private-key-file go together: give both or neither")
        }
        guard ServiceAllocator.parsePortRange(nodePortRange) != nil else {
            throw ValidationError("--node-port-range wants LOW-HIGH within 1-65535 (e.g. 30000-32767), not \(nodePortRange)")
        }
    }

    /// "10.96.0.0/12" or "10.96.0.0/12,fd00::/108": IPv4 first, as netlab's dual-stack clusters are.
    static func serviceRanges(_ s: String) -> (v4: IPv4Prefix, v6: IPv6Prefix?)? {
        let parts = s.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), let v4 = IPv4Prefix(parts[0]) else { return nil }
        guard parts.count == 2 else { return (v4, nil) }
        guard let v6 = IPv6Prefix(parts[1]) else { return nil }
        return (v4, v6)
    }

    static func split(_ s: String) -> (String, Int)? {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        let host = s[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return host.isEmpty ? nil : (host, port)
    }

    func run() throws {
        let (host, port) = Self.split(listen)!
        let ranges = Self.serviceRanges(serviceCidr)!
        let allocator = ServiceAllocator(serviceCIDR: ranges.v4, serviceCIDRv6: ranges.v6, nodePortRange: ServiceAllocator.parsePortRange(nodePortRange)!)
        let store = APIStore(APIStore.Configuration(historyLimit: history, controllers: LabControllers(services: allocator)))
        if let seed {
            guard let data = FileManager.default.contents(atPath: seed) else {
                throw ValidationError("cannot read the seed \(seed): check the path and its permissions")
            }
            try APISeed.load(data, into: store, source: seed)
        }
        var tokens: APITokens?
        if let tokenAuthFile {
            guard let data = FileManager.default.contents(atPath: tokenAuthFile) else {
                throw ValidationError("cannot read the token file \(tokenAuthFile): check the path and its permissions")
            }
            tokens = try APITokens(csv: String(decoding: data, as: UTF8.self), source: tokenAuthFile)
        }
        let tls = tlsCertFile.map { APIServer.TLSFiles(certificateFile: $0, privateKeyFile: tlsPrivateKeyFile!) }
        let server = try APIServer(store: store, host: host, port: port, bookmarkInterval: .seconds(Int64(bookmarkInterval)),
                                   tls: tls, tokens: tokens, insecure: insecureListen.flatMap(Self.split))
        // TERM (the Supervisor's stop) and INT close the listener; the process then exits 0.
        signal(SIGTERM, SIG_IGN); signal(SIGINT, SIG_IGN)
        let sources = [SIGTERM, SIGINT].map { sig in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { server.stop() }
            s.resume()
            return s
        }
        // Unbuffered: the Supervisor waits for this line before it goes on.
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        server.wait()
        sources.forEach { $0.cancel() }
    }
}
