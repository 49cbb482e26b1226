import Foundation
import NetlabKit

/// `api: {tls: true}`: a lab CA, the API server's certificate and a bearer token, made fresh for
/// each lab by the system's `openssl` (argv, its output read from its stdout so that every file is
/// written by netlab, 0600, in the lab's state directory). Nothing is shared between labs.
extension Lab {
    static let apiCAFile = "api-ca.crt"
    static let apiCAKeyFile = "api-ca.key"
    static let apiCertFile = "apiserver.crt"
    static let apiKeyFile = "apiserver.key"
    static let apiTokensFile = "api-tokens.csv"

    struct APICredentials {
        var caPEM: Data
        var token: String
    }

    /// The PEM blocks of `kind` (`CERTIFICATE`, `PRIVATE KEY`) in `text`, in order.
    static func pemBlocks(_ kind: String, in text: String) -> [String] {
        var blocks: [String] = []
        var rest = Substring(text)
        while let begin = rest.range(of: "-----BEGIN \(kind)-----"), let end = rest[begin.upperBound...].range(of: "-----END \(kind)-----") {
            blocks.append(String(rest[begin.lowerBound..<end.upperBound]) + "\n")
            rest = rest[end.upperBound...]
        }
        return blocks
    }

    /// Runs `openssl req -x509 ...` and returns its key and certificate (both written to its stdout).
    func openssl(_ args: [String], what: String) throws -> (key: String, certificate: String) {
        guard let openssl = IPTables.which("openssl") else {
            throw EnvironmentProblem(what: "api.tls needs the openssl command to make the lab's CA and the API server's certificate", fix: "apt-get install openssl")
        }
        let o = try edges.processes.runner(in: nil).run(argv: [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                                              "-nodes", "-keyout", "-", "-out", "-", "-days", "30"] + args,
                                                       environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"], stdin: Data(), timeout: 30)
        let text = String(decoding: o.stdout, as: UTF8.self)
        guard o.succeeded, let key = Self.pemBlocks("PRIVATE KEY", in: text).first, let cert = Self.pemBlocks("CERTIFICATE", in: text).first else {
            throw LabError.workload("making \(what) with openssl failed (\(o.terminationDescription)): \(o.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return (key, cert)
    }

    /// The CA, the server's certificate for every name a client may use (the API's VPC address, the
    /// `kubernetes` Service's clusterIP and DNS names, the loopback), and a token, in the state directory.
    func makeAPICredentials() throws -> APICredentials {
        let ca = try openssl(["-subj", "/CN=netlab-\(name)-ca", "-addext", "basicConstraints=critical,CA:TRUE",
                              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], what: "the lab's CA")
        try store.writeStateFile(Self.apiCAKeyFile, Data(ca.key.utf8))
        try store.writeStateFile(Self.apiCAFile, Data(ca.certificate.utf8))
        let names = ["IP:\(topology.api.address)", "IP:\(LabSeed.kubernetesClusterIP(serviceCIDR: topology.serviceCIDR))", "IP:127.0.0.1",
                     "DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc.cluster.local"]
        let server = try openssl(["-CA", store.directory + "/" + Self.apiCAFile, "-CAkey", store.directory + "/" + Self.apiCAKeyFile,
                                  "-subj", "/CN=kube-apiserver", "-addext", "basicConstraints=critical,CA:FALSE",
                                  "-addext", "keyUsage=critical,digitalSignature", "-addext", "extendedKeyUsage=serverAuth",
                                  "-addext", "subjectAltName=" + names.joined(separator: ",")], what: "the API server's certificate")
        try store.writeStateFile(Self.apiKeyFile, Data(server.key.utf8))
        try store.writeStateFile(Self.apiCertFile, Data(server.certificate.utf8))
        var random = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }.joined()
        // kube-apiserver's token file: token,user,uid,"groups"; the holder may do anything (no RBAC).
        try store.writeStateFile(Self.apiTokensFile, Data("\(token),netlab-admin,netlab-admin,\"system:masters\"\n".utf8))
        return APICredentials(caPEM: Data(ca.certificate.utf8), token: token)
    }

    /// The server's TLS flags and its plain listener on its namespace's loopback, for netlab's own client.
    var apiTLSFlags: [String] {
        ["--tls-cert-file", store.directory + "/" + Self.apiCertFile, "--tls-private-key-file", store.directory + "/" + Self.apiKeyFile,
         "--token-auth-file", store.directory + "/" + Self.apiTokensFile, "--insecure-listen", "127.0.0.1:\(APIEndpoint.localPort)"]
    }
}
