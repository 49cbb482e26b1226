import Testing
@testable import NetlabKit

@Suite struct APITokensTests {
    @Test func theTokenFileIsKubeAPIServersCSV() throws {
        let t = try APITokens(csv: "abc123,admin,uid-1,\"system:masters,lab\"\n\nproxy-token,system:kube-proxy,uid-2\r\n", source: "tokens.csv")
        #expect(t.users["abc123"] == .init(name: "admin", uid: "uid-1", groups: ["system:masters", "lab"]))
        #expect(t.users["proxy-token"] == .init(name: "system:kube-proxy", uid: "uid-2", groups: []))
        #expect(throws: APITokens.Failure.self) { try APITokens(csv: "only,two\n", source: "t.csv") }
        #expect((try? APITokens(csv: "a,b,c\nonly,two\n", source: "t.csv")) == nil)
        do { _ = try APITokens(csv: "a,b,c\nonly,two\n", source: "t.csv") } catch {
            #expect(error.description == "token file 't.csv' must have at least 3 columns (token, user name, user uid), found 2 on line 2")
        }
        #expect(throws: APITokens.Failure.self) { try APITokens(csv: "a,b,\"c\n", source: "t.csv") }
        #expect(throws: APITokens.Failure.self) { try APITokens(csv: ",b,c\n", source: "t.csv") }
    }

    @Test func aRequestIsAuthenticatedByItsBearerTokenOrIsAnonymous() throws {
        let t = try APITokens(csv: "abc123,admin,uid-1\n", source: "t")
        #expect(t.check(authorization: "Bearer abc123", method: "GET", path: "/api/v1/services") == nil)
        let wrong = t.check(authorization: "Bearer nope", method: "GET", path: "/api/v1/services")
        #expect(wrong?.code == 401)
        #expect(wrong?.json == ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure", "message": "Unauthorized",
                                "reason": "Unauthorized", "code": 401])
        #expect(t.check(authorization: "Basic YWRtaW46eA==", method: "GET", path: "/api")?.code == 401)
        // Anonymous: the public info paths only (upstream's system:public-info-viewer).
        #expect(t.check(authorization: nil, method: "GET", path: "/healthz") == nil)
        #expect(t.check(authorization: nil, method: "GET", path: "/version") == nil)
        let anon = t.check(authorization: nil, method: "GET", path: "/api/v1/services")
        #expect(anon?.code == 403)
        #expect(anon?.message == #"forbidden: User "system:anonymous" cannot get path "/api/v1/services""#)
    }
}
