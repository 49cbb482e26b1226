import Foundation
import Yams

/// A check's `changes:` and `stream:`, and the stream's expectations (`expect.switchesTo`,
/// `expect.neverFrom`).
extension TopologyBuilder {
    static let changeActions = ["unready", "terminating", "remove", "add", "deleteService", "serviceType", "sessionAffinity", "removePort"]

    /// `changes:`; nil when one is wrong (reported). The pods they name are checked with the
    /// check's other members; the Services here, as they are already read.
    func readChanges(_ n: YNode, label: String, stream: StreamSpec?, streamGiven: Bool) -> [EndpointChange]? {
        guard let list = r.sequence(n, "\(label) changes", itemExample: "one change like {remove: [webpod1]} or {deleteService: svc-web, at: 1}") else { return nil }
        var out: [EndpointChange] = []
        var ok = true
        var lastAt: Double?
        for (i, item) in list.enumerated() {
            let what = "\(label) changes[\(i)]"
            guard let f = r.fields(item, what, allowed: keys["checks[].changes[]"]!) else { ok = false; continue }
            let given = Self.changeActions.filter { f.optional($0) != nil }
            guard given.count == 1, let key = given.first else {
                r.error(f.loc, "\(what) must have exactly one of \(Self.changeActions.joined(separator: ", "))" + (given.isEmpty ? "" : ", not \(given.joined(separator: " and "))"))
                ok = false; continue
            }
            let value = f.optional(key)!
            func pods() -> [String]? {
                guard let items = r.sequence(value, "\(what) \(key)", itemExample: "a pod's name, like webpod1") else { return nil }
                var names: [String] = []
                for p in items {
                    guard let s = r.string(p, "an item of \(what) \(key)", example: "webpod1") else { return nil }
                    names.append(s.value)
                    checkMembers.append(CheckMember(member: s.value, use: .pod, loc: s.loc, what: "\(what) \(key)"))
                }
                if names.isEmpty, key != "unready" { r.error(value.location, "\(what) \(key) names no pod; list at least one, like [webpod1]"); return nil }
                return names
            }
            var action: EndpointChange.Action?
            switch key {
            case "unready": action = pods().map { .unready($0) }
            case "terminating":
                var serving = false
                if let s = f.optional("serving") { if let b = r.bool(s, "\(what) serving") { serving = b.value } else { ok = false } }
                action = pods().map { .terminating($0, serving: serving) }
            case "remove": action = pods().map { .remove($0) }
            case "add": action = pods().map { .add($0) }
            case "deleteService": action = service(value, "\(what) deleteService").map { .deleteService($0) }
            case "sessionAffinity": action = readAffinityChange(value, what: "\(what) sessionAffinity")
            case "removePort": action = readRemovePort(value, what: "\(what) removePort")
            default:
                guard let sf = r.fields(value, "\(what) serviceType", allowed: keys["checks[].changes[].serviceType"]!) else { break }
                let svc = sf.required("service", expected: "the Service's name").flatMap { service($0, "\(what) serviceType.service") }
                let type = sf.required("type", expected: "ClusterIP or NodePort").flatMap { r.enumeration($0, "\(what) serviceType.type", ServiceType.self) }
                if let svc, let type { action = .serviceType(service: svc, type: type.value) }
            }
            if key != "terminating", let s = f.optional("serving") {
                r.error(s.location, "\(what) serving belongs to a terminating change (whether the terminating pods still serve)"); ok = false
            }
            var at: Double?
            if let an = f.optional("at") {
                // A stream that was given but is wrong (reported) still makes `at` meaningful.
                if stream != nil || streamGiven {
                    if let v = readDuration(an, "\(what) at", range: 0...(stream?.durationSeconds ?? 60)) {
                        if let l = lastAt, v < l { r.error(an.location, "\(what) at \(v) s comes before the change before it (\(l) s); list timed changes in time order"); ok = false }
                        at = v; lastAt = v
                    } else { ok = false }
                } else {
                    r.error(an.location, "\(what) at needs a stream (stream: {duration: 3}): without one, changes are made before the probe"); ok = false
                }
            } else if lastAt != nil {
                r.error(f.loc, "\(what) has no 'at' but comes after a timed change; untimed changes are made before the stream, so list them first"); ok = false
            }
            if let action { out.append(EndpointChange(action, at: at)) } else { ok = false }
        }
        return ok ? out : nil
    }

    /// `sessionAffinity: {service: svc, affinity: ClientIP, timeoutSeconds: 60}`.
    func readAffinityChange(_ n: YNode, what: String) -> EndpointChange.Action? {
        guard let f = r.fields(n, what, allowed: keys["checks[].changes[].sessionAffinity"]!) else { return nil }
        let svc = f.required("service", expected: "the Service's name").flatMap { service($0, "\(what).service") }
        let affinity = f.required("affinity", expected: "ClientIP or None").flatMap { r.enumeration($0, "\(what).affinity", SessionAffinity.self) }
        var timeout: Int?
        var ok = true
        if let t = f.optional("timeoutSeconds") {
            if let v = t.int, (1...86400).contains(v) { timeout = v } else {
                r.error(t.location, "\(what).timeoutSeconds must be a whole number of seconds from 1 to 86400 (the API's range), not \(t.kindDescription)"); ok = false
            }
            if affinity?.value == SessionAffinity.none {
                r.error(t.location, "\(what).timeoutSeconds belongs to affinity ClientIP; None has no timeout"); ok = false
            }
        }
        guard ok, let svc, let affinity else { return nil }
        return .sessionAffinity(service: svc, affinity: affinity.value, timeoutSeconds: timeout)
    }

    /// `removePort: {service: svc, port: 80, protocol: UDP}`: one of the Service's port entries.
    func readRemovePort(_ n: YNode, what: String) -> EndpointChange.Action? {
        guard let f = r.fields(n, what, allowed: keys["checks[].changes[].removePort"]!) else { return nil }
        guard let sn = f.required("service", expected: "the Service's name"), let svc = service(sn, "\(what).service") else { return nil }
        let proto = f.required("protocol", expected: "TCP, UDP or SCTP").flatMap { r.enumeration($0, "\(what).protocol", L4Protocol.self) }
        guard let pn = f.required("port", expected: "the Service port's number, like 80") else { return nil }
        guard let port = pn.int, (1...65535).contains(port) else {
            r.error(pn.location, "\(what).port must be a port number from 1 to 65535, not \(pn.kindDescription)"); return nil
        }
        guard let proto else { return nil }
        let entries: [(port: Int, proto: L4Protocol)] = (services.first { $0.name?.value == svc || "\($0.namespace)/\($0.name?.value ?? "")" == svc }?.ports ?? [])
            .compactMap { p in p.port.map { ($0.value, p.proto) } }
        guard entries.contains(where: { $0.port == port && $0.proto == proto.value }) else {
            let have = entries.map { "\($0.port)/\($0.proto.rawValue)" }.joined(separator: ", ")
            r.error(pn.location, "\(what): Service '\(svc)' has no port \(port)/\(proto.value.rawValue)" + (have.isEmpty ? "" : " (it has \(have))"))
            return nil
        }
        guard entries.count > 1 else {
            r.error(pn.location, "\(what): port \(port)/\(proto.value.rawValue) is Service '\(svc)''s only port, and a Service needs one; delete the Service instead (deleteService)")
            return nil
        }
        return .removePort(service: svc, port: port, proto: proto.value)
    }

    /// A Service a change names: one of the topology's, by name (namespace/name when the name is in two namespaces).
    func service(_ n: YNode, _ what: String) -> String? {
        guard let s = r.string(n, what, example: "svc-web") else { return nil }
        let known: [(name: String, namespace: String)] = services.compactMap { svc in svc.name.map { (name: $0.value, namespace: svc.namespace) } }
        let matches = known.filter { $0.name == s.value || "\($0.namespace)/\($0.name)" == s.value }
        if matches.count == 1 { return s.value }
        if matches.count > 1 {
            r.error(s.loc, "\(what) '\(s.value)' is a Service in \(matches.count) namespaces; write it as namespace/name, like \(matches[0].namespace)/\(s.value)")
            return nil
        }
        var message = "\(what) names '\(s.value)', which is not a Service of this topology (\(known.map(\.name).joined(separator: ", ")))"
        if let c = closestMatch(s.value, among: known.map(\.name)) { message += "; did you mean '\(c)'?" }
        r.error(s.loc, message)
        return nil
    }

    /// `stream: {duration: 3, interval: 0.05}`; for udp and http only.
    func readStream(_ n: YNode, label: String, kind: Check.Kind) -> StreamSpec? {
        guard let f = r.fields(n, "\(label) stream", allowed: keys["checks[].stream"]!) else { return nil }
        if kind == .icmp { r.error(n.location, "\(label) stream is for protocol udp or http (one socket with a fixed source port); icmp has no port"); return nil }
        var s = StreamSpec()
        var ok = true
        if let d = f.optional("duration") { if let v = readDuration(d, "\(label) stream.duration", range: 0.1...60) { s.durationSeconds = v } else { ok = false } }
        if let i = f.optional("interval") { if let v = readDuration(i, "\(label) stream.interval", range: 0.01...5) { s.intervalSeconds = v } else { ok = false } }
        if ok, s.intervalSeconds > s.durationSeconds {
            r.error(f.loc, "\(label) stream.interval (\(s.intervalSeconds) s) is longer than its duration (\(s.durationSeconds) s): the stream would send once"); ok = false
        }
        return ok ? s : nil
    }

    /// `expect.switchesTo: {pod, within}` and `expect.neverFrom: [pods]` into `e`; false when wrong.
    func readStreamExpectations(_ f: Fields, label: String, into e: inout Expectations) -> Bool {
        var ok = true
        if let n = f.optional("switchesTo"), let sf = r.fields(n, "\(label) expect.switchesTo", allowed: keys["checks[].expect.switchesTo"]!) {
            let pod = sf.required("pod", expected: "the pod the stream must end on, like webpod2").flatMap { r.string($0, "\(label) expect.switchesTo.pod", example: "webpod2") }
            let within = sf.required("within", expected: "seconds, like 1 or 500ms").flatMap { readDuration($0, "\(label) expect.switchesTo.within", range: 0...60) }
            if let pod, let within {
                e.switchesTo = SwitchExpectation(pod: pod.value, withinSeconds: within)
                checkMembers.append(CheckMember(member: pod.value, use: .pod, loc: pod.loc, what: "\(label) expect.switchesTo.pod"))
            } else { ok = false }
        } else if f.optional("switchesTo") != nil { ok = false }
        if let n = f.optional("neverFrom") {
            if let list = r.sequence(n, "\(label) expect.neverFrom", itemExample: "a pod's name, like webpod1") {
                for item in list {
                    guard let s = r.string(item, "an item of \(label) expect.neverFrom", example: "webpod1") else { ok = false; continue }
                    e.neverFrom.append(s.value)
                    checkMembers.append(CheckMember(member: s.value, use: .pod, loc: s.loc, what: "\(label) expect.neverFrom"))
                }
            } else { ok = false }
        }
        return ok
    }

    /// What holds between a check's fields: stream expectations need a stream, a stream is not
    /// probed again (`eventually:`), and `unready:` beside `changes:` is the first change.
    func checkStreamFields(_ f: Fields, label: String, expect: Expectations, stream: StreamSpec?,
                           unready: inout [String], changes: inout [EndpointChange]) -> Bool {
        var ok = true
        if f.optional("stream") == nil, let n = f.optional("expect") {
            for key in ["switchesTo", "neverFrom"] {
                if case .mapping(let m) = n, let entry = m.first(where: { $0.key.string == key }) {
                    r.error(entry.key.location, "\(label) expect.\(key) is about a stream: add stream: {duration: 3} to the check"); ok = false
                }
            }
        }
        if stream != nil, let n = f.optional("eventually") {
            r.error(n.location, "\(label) has both stream and eventually; a stream already runs over time (use expect.switchesTo's within)"); ok = false
        }
        if !unready.isEmpty, f.optional("changes") != nil {
            changes.insert(EndpointChange(.unready(unready)), at: 0)
            unready = []
        }
        return ok
    }
}
