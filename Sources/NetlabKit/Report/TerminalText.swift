/// Text on its way to a terminal. Topology names and descriptions, file paths, plugin and proxy
/// output and CNI error messages are not netlab's: an ESC in them could move the cursor, rewrite
/// earlier lines or retitle the window. Newlines and tabs stay (they are the text's structure);
/// every other control character becomes visible.
public enum TerminalText {
    /// `s` with C0 controls (but \n and \t), DEL and C1 controls as `\xNN`, and the bidi controls
    /// that reorder what a terminal shows ("Trojan Source") as `\u{NNNN}`.
    public static func escaped(_ s: String) -> String {
        if !s.unicodeScalars.contains(where: needsEscape) { return s }
        var out = ""
        out.unicodeScalars.reserveCapacity(s.unicodeScalars.count)
        for u in s.unicodeScalars {
            if !needsEscape(u) { out.unicodeScalars.append(u); continue }
            let hex = String(u.value, radix: 16)
            out += u.value <= 0xff ? "\\x" + (hex.count < 2 ? "0" + hex : hex) : "\\u{" + hex + "}"
        }
        return out
    }

    static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x09, 0x0a: return false
        case 0x00...0x1f, 0x7f...0x9f: return true
        case 0x061c, 0x200e, 0x200f, 0x202a...0x202e, 0x2066...0x2069: return true
        default: return false
        }
    }
}
