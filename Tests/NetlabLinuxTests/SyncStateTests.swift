import Foundation
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// What a healthz answer says about an agent's sync since a change (no root).
@Suite struct SyncStateTests {
    let change = RFC3339.parse("2026-12-01T22:10:00Z")!

    @Test func onlyA200WithALaterLastUpdatedIsASync() {
        func state(_ status: Int?, _ body: String) -> Lab.SyncState { Lab.syncState(status: status, body: body, since: change) }
        #expect(state(200, #"{"lastUpdated": "2026-12-01T22:10:00.000001Z", "currentTime": "2026-12-01T22:10:01Z"}"#) == .synced)
        #expect(state(200, #"{"lastUpdated": "2026-12-01T22:10:00Z"}"#) == .notYet("still said lastUpdated 2026-12-01T22:10:00Z"))
        #expect(state(503, #"{"lastUpdated": "2026-12-01T22:11:00Z"}"#) == .notYet("answered 503 (lastUpdated 2026-12-01T22:11:00Z)"))
        #expect(state(200, "ok") == .notYet("answered 200 without a JSON lastUpdated"))
        #expect(state(200, #"{"lastUpdated": "yesterday"}"#) == .notYet(#"answered lastUpdated "yesterday", which is not an RFC 3339 time"#))
        #expect(state(nil, "") == .notYet("did not answer"))
    }
}
