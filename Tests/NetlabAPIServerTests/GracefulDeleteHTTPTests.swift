import Foundation
import Testing
import NetlabAPIServer
import NetlabKit

/// DeleteOptions' gracePeriodSeconds reach the store, from the body (as client-go and netlab's
/// client send it) or the query (as kubectl --grace-period does).
@Suite struct GracefulDeleteHTTPTests {
    @Test func aGracePeriodInTheBodyOrTheQueryMarksThePodTerminating() throws {
        try withServer { s in
            let c = try RawHTTP(port: s.port)
            let base = "/api/v1/namespaces/default/pods"
            let pod = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1"},"spec":{"containers":[{"name":"c","image":"x"}]}}"#
            #expect(try c.request("POST", base, body: pod).code == 201)
            let marked = try c.request("DELETE", base + "/web-1", body: #"{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":30}"#,
                                       headers: ["Content-Type": "application/json"])
            #expect(marked.code == 200 && marked.json?[path: ["metadata", "deletionTimestamp"]]?.stringValue != nil)
            #expect(marked.json?[path: ["metadata", "deletionGracePeriodSeconds"]] == 30)
            #expect(try c.request("GET", base + "/web-1").code == 200)
            #expect(try c.request("DELETE", base + "/web-1?gracePeriodSeconds=soon").code == 400)
            #expect(try c.request("DELETE", base + "/web-1?gracePeriodSeconds=0").code == 200)
            #expect(try c.request("GET", base + "/web-1").code == 404)
        }
    }
}
