import Testing
@testable import NetlabKit

/// What reaches the terminal from names, paths and plugin output cannot drive the terminal.
@Suite struct TerminalTextTests {
    @Test func escapeSequencesBecomeVisibleAndStructureStays() {
        // An OSC title change, a screen clear and a carriage return that would overwrite the line.
        let s = "topology evil\u{1b}]0;pwned\u{07}\u{1b}[2J\rok\n\tnext"
        #expect(TerminalText.escaped(s) == "topology evil\\x1b]0;pwned\\x07\\x1b[2J\\x0dok\n\tnext")
    }

    @Test func everyC0C1AndDELIsEscapedButNewlineAndTab() {
        for v in Array(0x00...0x1f) + Array(0x7f...0x9f) {
            let u = Unicode.Scalar(UInt32(v))!
            let out = TerminalText.escaped("a\(Character(u))b")
            if v == 0x09 || v == 0x0a {
                #expect(out == "a\(Character(u))b")
            } else {
                let hex = String(v, radix: 16)
                #expect(out == "a\\x\(hex.count == 1 ? "0" + hex : hex)b", "U+\(hex)")
                #expect(!out.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) })
            }
        }
    }

    @Test func bidiOverridesAreShownNotApplied() {
        #expect(TerminalText.escaped("pod\u{202e}1dop") == "pod\\u{202e}1dop")
        #expect(TerminalText.escaped("a\u{2066}b\u{2069}") == "a\\u{2066}b\\u{2069}")
    }

    @Test func plainTextIsUnchanged() {
        let s = "PASS pod-to-pod (12 ms) — the report's ping, 10.32.0.2 → 10.32.1.2 ✓ 한국어\n  pcap: /tmp/x"
        #expect(TerminalText.escaped(s) == s)
    }
}
