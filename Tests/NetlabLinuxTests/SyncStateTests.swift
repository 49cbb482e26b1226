import Foundation
import Testing
@testable import NetlabKit
@testable import NetlabLinux

/// What a healthz answer says about an agent's sync since a change (no root).
@Suite struct SyncStateTests {
    let change = Lab.APIChange(at: RFC3339.parse("2026-12-01T22:10:00Z")!, endpointSlicesVersion: nil)

    @Test func onlyA200WithALaterLastUpdatedIsASync() {
        func state(_ status: Int?, _ body: String) -> Lab.SyncState { Lab.syncState(status: status, body: body, since: change) }
        #expect(state(200, #"{"lastUpdated": "2026-12-01T22:10:00.000001Z", "currentTime": "2026-12-01T22:10:01Z"}"#) == .synced)
        #expect(state(200, #"{"lastUpdated": "2026-12-01T22:10:00Z"}"#) == .notYet("still said lastUpdated 2026-12-01T22:10:00Z"))
        #expect(state(503, #"{"lastUpdated": "2026-12-01T22:11:00Z"}"#) == .notYet("answered 503 (lastUpdated 2026-12-01T22:11:00Z)"))
        #expect(state(200, "ok") == .notYet("answered 200 without a JSON lastUpdated"))
        #expect(state(200, #"{"lastUpdated": "yesterday"}"#) == .notYet(#"answered lastUpdated "yesterday", which is not an RFC 3339 time"#))
        #expect(state(nil, "") == .notYet("did not answer"))
    }

    /// netlab-proxy says which resourceVersions its last sync rendered: that is exact, and wins
    /// over lastUpdated (which a sync that began before the event would also have moved).
    @Test func theRenderedResourceVersionIsExact() {
        let change = Lab.APIChange(at: self.change.at, endpointSlicesVersion: 42)
        func state(_ body: String) -> Lab.SyncState { Lab.syncState(status: 200, body: body, since: change) }
        #expect(state(#"{"lastUpdated": "2026-12-01T22:11:00Z", "resourceVersions": {"endpointslices": "41", "services": "50"}}"#)
                == .notYet("had rendered endpointslices at resourceVersion 41, not yet 42"))
        #expect(state(#"{"lastUpdated": "2026-12-01T22:09:00Z", "resourceVersions": {"endpointslices": "42"}}"#) == .synced)
        #expect(state(#"{"lastUpdated": "2026-12-01T22:09:00Z", "resourceVersions": {"endpointslices": 43}}"#) == .synced)
        #expect(state(#"{"lastUpdated": "2026-12-01T22:11:00Z", "resourceVersions": {"endpointslices": "x"}}"#)
                == .notYet(#"answered resourceVersions.endpointslices "x", which is not a resourceVersion"#))
        // Without resourceVersions (kube-proxy), lastUpdated decides.
        #expect(state(#"{"lastUpdated": "2026-12-01T22:11:00Z"}"#) == .synced)
    }
}
