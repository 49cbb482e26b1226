import Foundation

/// The opaque `continue` of a paged list, shaped as upstream's: base64url of
/// `{"v":"meta.k8s.io/v1","rv":<snapshot>,"start":"<key after the last one returned>"}`.
enum ContinueToken {
    static let expiredMessage = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."

    static func encode(rv: Int64, after key: String) -> String {
        let json: JSONValue = ["v": "meta.k8s.io/v1", "rv": .number(Double(rv)), "start": .string(key + "\u{0}")]
        return json.encoded().base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The snapshot's resourceVersion and the last key already returned.
    static func decode(_ token: String) throws(APIStatus) -> (Int64, String) {
        func bad(_ why: String) -> APIStatus { .badRequest("invalid continue token: continue key is not valid: \(why)") }
        var b64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), let json = try? JSONValue.decode(data) else { throw bad("illegal base64 or JSON data") }
        guard json["v"]?.stringValue == "meta.k8s.io/v1" else {
            throw bad("server does not recognize this encoded version \"\(json["v"]?.stringValue ?? "")\"")
        }
        guard let rv = json["rv"]?.intValue, rv > 0 else { throw bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)") }
        guard let start = json["start"]?.stringValue, start.hasSuffix("\u{0}") else { throw bad("encoded start key is missing") }
        return (Int64(rv), String(start.dropLast()))
    }
}
