/// The query of a list or watch (`?labelSelector=...&limit=...&watch=true`), parsed and validated as
/// kube-apiserver does: a malformed value is a 400, a forbidden combination (resourceVersionMatch
/// without resourceVersion, sendInitialEvents without NotOlderThan) is upstream's 422 on
/// `ListOptions.meta.k8s.io`.
public struct ListOptions: Hashable, Sendable {
    public enum ResourceVersionMatch: String, Hashable, Sendable { case notOlderThan = "NotOlderThan", exact = "Exact" }

    public var labelSelector: LabelSelector = .everything
    public var fieldSelector: FieldSelector = .everything
    public var limit: Int?
    public var continueToken: String?
    /// nil (unset: the most recent, consistent), "0" (any), or a number.
    public var resourceVersion: String?
    public var resourceVersionMatch: ResourceVersionMatch?
    public var watch = false
    public var allowWatchBookmarks = false
    public var sendInitialEvents: Bool?
    /// The caller ends the watch after this long (upstream adds jitter to its default; this is what the client asked).
    public var timeoutSeconds: Int?

    public init(labelSelector: LabelSelector = .everything, fieldSelector: FieldSelector = .everything, limit: Int? = nil,
                continueToken: String? = nil, resourceVersion: String? = nil, resourceVersionMatch: ResourceVersionMatch? = nil,
                watch: Bool = false, allowWatchBookmarks: Bool = false, sendInitialEvents: Bool? = nil, timeoutSeconds: Int? = nil) {
        self.labelSelector = labelSelector; self.fieldSelector = fieldSelector; self.limit = limit
        self.continueToken = continueToken; self.resourceVersion = resourceVersion; self.resourceVersionMatch = resourceVersionMatch
        self.watch = watch; self.allowWatchBookmarks = allowWatchBookmarks; self.sendInitialEvents = sendInitialEvents
        self.timeoutSeconds = timeoutSeconds
    }

    /// Parses the query items of a request (the last value of a repeated key wins), then validates.
    public init(query: [(String, String)]) throws(APIStatus) {
        var q: [String: String] = [:]
        for (k, v) in query { q[k] = v }
        func bool(_ k: String) throws(APIStatus) -> Bool? {
            guard let v = q[k] else { return nil }
            switch v {
            case "1", "t", "T", "true", "TRUE", "True": return true
            case "0", "f", "F", "false", "FALSE", "False", "": return false
            default: throw APIStatus.badRequest("strconv.ParseBool: parsing \"\(v)\": invalid syntax (query parameter \(k))")
            }
        }
        func int(_ k: String) throws(APIStatus) -> Int? {
            guard let v = q[k], !v.isEmpty else { return nil }
            guard let n = Int(v) else { throw APIStatus.badRequest("strconv.ParseInt: parsing \"\(v)\": invalid syntax (query parameter \(k))") }
            return n
        }
        if let s = q["labelSelector"] {
            do { labelSelector = try LabelSelector.parse(s) } catch { throw APIStatus.badRequest(error.message) }
        }
        if let s = q["fieldSelector"] {
            do { fieldSelector = try FieldSelector.parse(s) } catch { throw APIStatus.badRequest(error.message) }
        }
        limit = try int("limit").flatMap { $0 > 0 ? $0 : nil }
        continueToken = q["continue"].flatMap { $0.isEmpty ? nil : $0 }
        resourceVersion = q["resourceVersion"].flatMap { $0.isEmpty ? nil : $0 }
        if let m = q["resourceVersionMatch"], !m.isEmpty {
            guard let match = ResourceVersionMatch(rawValue: m) else {
                throw Self.invalid([.init(reason: "FieldValueNotSupported",
                                          message: "Unsupported value: \"\(m)\": supported values: \"Exact\", \"NotOlderThan\", \"\"",
                                          field: "resourceVersionMatch")])
            }
            resourceVersionMatch = match
        }
        watch = try bool("watch") ?? false
        allowWatchBookmarks = try bool("allowWatchBookmarks") ?? false
        sendInitialEvents = try bool("sendInitialEvents")
        timeoutSeconds = try int("timeoutSeconds")
        try validate()
    }

    static func invalid(_ causes: [APIStatus.Cause]) -> APIStatus {
        APIStatus.invalid(kind: "ListOptions", group: "meta.k8s.io", name: "", causes)
    }

    static func forbidden(_ field: String, _ why: String) -> APIStatus.Cause {
        .init(reason: "FieldValueForbidden", message: "Forbidden: \(why)", field: field)
    }

    /// upstream's ValidateListOptions (list) and validateWatchOptions (watch).
    public func validate() throws(APIStatus) {
        var causes: [APIStatus.Cause] = []
        if watch {
            if sendInitialEvents != nil, resourceVersionMatch != .notOlderThan {
                causes.append(Self.forbidden("resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
            }
            if let m = resourceVersionMatch {
                if sendInitialEvents == nil {
                    causes.append(Self.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
                }
                if m != .notOlderThan {
                    causes.append(.init(reason: "FieldValueNotSupported", message: "Unsupported value: \"\(m.rawValue)\": supported values: \"NotOlderThan\"",
                                        field: "resourceVersionMatch"))
                }
                if continueToken != nil { causes.append(Self.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided")) }
            }
        } else {
            if let m = resourceVersionMatch {
                if resourceVersion == nil {
                    causes.append(Self.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"))
                }
                if continueToken != nil { causes.append(Self.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided")) }
                if m == .exact, resourceVersion == "0" {
                    causes.append(Self.forbidden("resourceVersionMatch", "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""))
                }
            }
            if sendInitialEvents != nil { causes.append(Self.forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list")) }
        }
        if !causes.isEmpty { throw Self.invalid(causes) }
    }

    /// upstream's SetListOptionsDefaults with the WatchList feature on (the default since 1.32): a
    /// watch from "" or "0" that asks neither is a streaming list, so with bookmarks allowed its
    /// initial events end with the annotated BOOKMARK too.
    public mutating func applyWatchListDefaults() {
        guard watch, sendInitialEvents == nil, resourceVersionMatch == nil, resourceVersion == nil || resourceVersion == "0" else { return }
        sendInitialEvents = true
        resourceVersionMatch = .notOlderThan
    }

    /// The resourceVersion as a number; nil when unset; "0" is 0.
    func parsedResourceVersion() throws(APIStatus) -> Int64? {
        guard let rv = resourceVersion else { return nil }
        guard let n = Int64(rv), n >= 0 else { throw APIStatus.badRequest("invalid resource version: \"\(rv)\"") }
        return n
    }
}
