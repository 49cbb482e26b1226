import Foundation
import NetlabAPIServer
import NetlabKit
import Testing

/// HTTPS with a lab CA and bearer tokens, as in-cluster clients insist on, proven with kubectl.
/// The CA and the server's certificate are made by the openssl command, for this test only.
@Suite(.serialized) struct TLSClientTests {
    static let openssl = Clients.onPath("openssl")
    static let curl = Clients.onPath("curl")

    /// A CA, and a server certificate for IP 127.0.0.1 it signed, in `dir`.
    static func makeCertificates(in dir: String) throws {
        let cnf = dir + "/openssl.cnf"
        try Data("""
            [req]
            distinguished_name = dn
            [dn]
            [ca]
            basicConstraints = critical,CA:TRUE
            keyUsage = critical,keyCertSign,cRLSign
            subjectKeyIdentifier = hash
            [server]
            basicConstraints = CA:FALSE
            keyUsage = critical,digitalSignature
            extendedKeyUsage = serverAuth
            subjectAltName = IP:127.0.0.1
            authorityKeyIdentifier = keyid

            """.utf8).write(to: URL(fileURLWithPath: cnf))
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for argv in [
            ["req", "-x509", "-config", cnf, "-extensions", "ca"] + ec + ["-keyout", dir + "/ca.key", "-out", dir + "/ca.crt", "-days", "2", "-subj", "/CN=netlab-test-ca"],
            ["req", "-new", "-config", cnf] + ec + ["-keyout", dir + "/server.key", "-out", dir + "/server.csr", "-subj", "/CN=netlab-apiserver"],
            ["x509", "-req", "-in", dir + "/server.csr", "-CA", dir + "/ca.crt", "-CAkey", dir + "/ca.key", "-CAcreateserial",
             "-out", dir + "/server.crt", "-days", "2", "-extfile", cnf, "-extensions", "server"],
        ] {
            let r = try Clients.run([openssl!] + argv)
            guard r.succeeded else { throw RawHTTP.Failure(description: "openssl \(argv[0]): \(r.stderrText)") }
        }
    }

    @Test(.enabled(if: !Clients.kubectls.isEmpty && openssl != nil, "needs kubectl (ci/setup.sh) and the openssl command"),
          arguments: Clients.kubectls)
    func kubectlOverHTTPSWithABearerToken(kubectl: String) throws {
        let dir = try Clients.privateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.makeCertificates(in: dir)
        let store = APIStore(APIStore.Configuration(controllers: LabControllers()))
        _ = try store.create(APIResources.services, namespace: "default", ["metadata": ["name": "web"], "spec": ["ports": [["port": 80]]]])
        let tokens = try APITokens(csv: "s3cret-token,admin,uid-admin,system:masters\n", source: "tokens.csv")
        let server = try APIServer(store: store, host: "127.0.0.1", port: 0, bookmarkInterval: nil,
                                   tls: .init(certificateFile: dir + "/server.crt", privateKeyFile: dir + "/server.key"), tokens: tokens)
        defer { server.stop() }
        let https = ["--server", "https://127.0.0.1:\(server.port)", "--certificate-authority", dir + "/ca.crt"]
        func k(_ args: [String]) throws -> ProcessOutcome { try Clients.run([kubectl] + args, home: dir) }

        let ok = try k(https + ["--token", "s3cret-token", "get", "svc", "-o", "name"])
        #expect(ok.succeeded && ok.stdoutText == "service/web\n", "\(ok.stderrText)")
        let file = dir + "/np.json"
        try Data(#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"np"},"spec":{"type":"NodePort","ports":[{"port":80}]}}"#.utf8)
            .write(to: URL(fileURLWithPath: file))
        let applied = try k(https + ["--token", "s3cret-token", "apply", "--validate=false", "-f", file])
        #expect(applied.succeeded, "\(applied.stderrText)")
        #expect(try store.get(APIResources.services, namespace: "default", name: "np")[path: ["spec", "ports"]]?.arrayValue?.first?["nodePort"]?.intValue != nil)

        let wrong = try k(https + ["--token", "not-it", "get", "svc"])
        #expect(!wrong.succeeded && wrong.stderrText.contains("Unauthorized"), "\(wrong.stderrText)")
        // The lab CA is what makes the certificate trusted: without it kubectl refuses the server.
        let untrusted = try k(["--server", "https://127.0.0.1:\(server.port)", "--token", "s3cret-token", "get", "svc"])
        #expect(!untrusted.succeeded && untrusted.stderrText.contains("certificate"), "\(untrusted.stderrText)")
        let plain = try k(["--server", "http://127.0.0.1:\(server.port)", "--token", "s3cret-token", "get", "svc"])
        #expect(!plain.succeeded)

        // Without a token (kubectl would prompt for a password here): anonymous, the health and version paths only.
        if let curl = Self.curl {
            func get(_ path: String) throws -> String {
                try Clients.run([curl, "-s", "--cacert", dir + "/ca.crt", "-w", " %{http_code}", "https://127.0.0.1:\(server.port)\(path)"]).stdoutText
            }
            #expect(try get("/healthz") == "ok 200")
            let denied = try get("/api/v1/namespaces/default/services")
            #expect(denied.hasSuffix(" 403") && denied.contains(#"User \"system:anonymous\" cannot get path"#), "\(denied)")
        }
    }
}

/// `--insecure-listen`: beside an authenticated listener, a plain one without authentication
/// (kube-apiserver's old insecure port) serves the same store, for netlab's own client inside the
/// API's namespace.
@Suite struct InsecureListenerTests {
    @Test func thePlainListenerNeedsNoTokenWhereTheMainOneDoes() throws {
        let tokens = try APITokens(csv: "s3cret-token,admin,uid-admin,system:masters\n", source: "tokens.csv")
        let server = try APIServer(store: APIStore(), host: "127.0.0.1", port: 0, bookmarkInterval: nil, tokens: tokens,
                                   insecure: (host: "127.0.0.1", port: 0))
        defer { server.stop() }
        let insecure = try #require(server.insecurePort)
        #expect(insecure != server.port)
        #expect(try RawHTTP(port: server.port).request("GET", "/api/v1/namespaces").code == 403)
        #expect(try RawHTTP(port: server.port).request("GET", "/api/v1/namespaces", headers: ["Authorization": "Bearer s3cret-token"]).code == 200)
        let plain = try RawHTTP(port: insecure).request("GET", "/api/v1/namespaces")
        #expect(plain.code == 200 && plain.json?["items"]?.arrayValue?.count == 4)
        // One store behind both: a write on the plain listener is read on the main one.
        #expect(try RawHTTP(port: insecure).request("POST", "/api/v1/namespaces", body: #"{"metadata":{"name":"lab"}}"#).code == 201)
        #expect(try RawHTTP(port: server.port).request("GET", "/api/v1/namespaces/lab", headers: ["Authorization": "Bearer s3cret-token"]).code == 200)
    }
}
