import Foundation

/// RFC 3339 timestamps as Kubernetes components write them (Go's time.Time in JSON:
/// `2026-12-01T22:10:00.123456789Z`, `2026-12-01T23:10:00+01:00`), to the nanosecond that Go
/// prints, which Foundation's ISO 8601 parsers do not all accept.
public enum RFC3339 {
    public static func parse(_ text: String) -> Date? {
        let s = Array(text.utf8)
        // YYYY-MM-DDTHH:MM:SS, then an optional fraction, then Z or ±HH:MM.
        guard s.count >= 20, s[4] == UInt8(ascii: "-"), s[7] == UInt8(ascii: "-"),
              s[10] == UInt8(ascii: "T") || s[10] == UInt8(ascii: "t") || s[10] == UInt8(ascii: " "),
              s[13] == UInt8(ascii: ":"), s[16] == UInt8(ascii: ":") else { return nil }
        func number(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r { guard i < s.count, (48...57).contains(s[i]) else { return nil }; v = v * 10 + Int(s[i] - 48) }
            return v
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var i = 19
        var fraction = 0.0
        if i < s.count, s[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            let start = i
            while i < s.count, (48...57).contains(s[i]) { fraction += Double(s[i] - 48) * scale; scale /= 10; i += 1 }
            if i == start { return nil }
        }
        var offset = 0
        guard i < s.count else { return nil }
        switch s[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard i + 6 == s.count, s[i + 3] == UInt8(ascii: ":"), let h = number(i + 1..<i + 3), let m = number(i + 4..<i + 6),
                  h < 24, m < 60 else { return nil }
            offset = (h * 3600 + m * 60) * (s[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        default:
            return nil
        }
        guard i == s.count else { return nil }
        var c = DateComponents()
        c.year = year; c.month = month; c.day = day; c.hour = hour; c.minute = minute; c.second = second
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        guard let date = calendar.date(from: c) else { return nil }
        return date.addingTimeInterval(fraction - Double(offset))
    }
}
