import Foundation
import Testing
@testable import NetlabKit

@Suite struct RFC3339Tests {
    @Test func goTimestampsParseToTheNanosecondsTheyCarry() throws {
        let base = try #require(RFC3339.parse("2026-12-01T22:10:00Z"))
        #expect(base.timeIntervalSince1970 == 1_796_163_000)
        let nanos = try #require(RFC3339.parse("2026-12-01T22:10:00.123456789Z"))
        #expect(abs(nanos.timeIntervalSince(base) - 0.123456789) < 1e-6)
        #expect(RFC3339.parse("2026-12-01T23:10:00+01:00") == base)
        #expect(RFC3339.parse("2026-12-01T21:40:00-00:30") == base)
        #expect(try #require(RFC3339.parse("2026-12-01T22:10:00.5+01:00")).timeIntervalSince(base) == -3599.5)
        for bad in ["", "2026-12-01", "2026-12-01T22:10:00", "2026-12-01T22:10:00.Z", "2026-13-01T22:10:00Z",
                    "2026-12-01T22:10:00Zjunk", "2026-12-01T22:10:00+0100", "not a time at all, not at all"] {
            #expect(RFC3339.parse(bad) == nil, "\(bad)")
        }
    }
}
