import Foundation
import NetlabKit

/// One event of a watch stream: `{"type": "ADDED", "object": {...}}`, one JSON document a line.
public struct KubeWatchEvent: Hashable, Sendable {
    public enum EventType: String, Sendable, Hashable {
        case added = "ADDED", modified = "MODIFIED", deleted = "DELETED", bookmark = "BOOKMARK", error = "ERROR"
    }
    public var type: EventType
    /// The object; for ERROR a `Status`.
    public var object: JSONValue

    public init(type: EventType, object: JSONValue) { self.type = type; self.object = object }

    /// `object.metadata.resourceVersion`, which BOOKMARKs carry too.
    public var resourceVersion: String? { object[path: ["metadata", "resourceVersion"]]?.stringValue }

    public struct Malformed: NetlabError, CustomStringConvertible {
        public let description: String
        public var exitCategory: ExitCategory { .failure }
    }

    /// Decodes one line of the stream.
    public static func parse(_ line: Data) throws(Malformed) -> KubeWatchEvent {
        let v: JSONValue
        do { v = try JSONValue.decode(line) } catch {
            throw Malformed(description: "a watch event is not JSON: \(String(decoding: line.prefix(80), as: UTF8.self))")
        }
        guard let t = v["type"]?.stringValue else { throw Malformed(description: "a watch event has no \"type\": \(String(decoding: line.prefix(80), as: UTF8.self))") }
        guard let type = EventType(rawValue: t) else { throw Malformed(description: "a watch event has the unknown type \"\(t)\"") }
        guard let object = v["object"], object.objectValue != nil else { throw Malformed(description: "a \(t) watch event has no \"object\"") }
        return KubeWatchEvent(type: type, object: object)
    }
}

/// Splits a watch stream's payload into events. The API server writes one JSON document per line,
/// but the chunks need not end at a line's end, nor one line per chunk.
public struct WatchStreamDecoder: Sendable {
    var pending = Data()
    public init() {}

    public mutating func feed(_ bytes: Data) throws(KubeWatchEvent.Malformed) -> [KubeWatchEvent] {
        pending.append(bytes)
        var events: [KubeWatchEvent] = []
        while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
            let line = pending[pending.startIndex..<nl]
            pending.removeSubrange(pending.startIndex...nl)
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0d || $0 == 0x09 }) { continue }
            events.append(try KubeWatchEvent.parse(Data(line)))
        }
        return events
    }

    /// A last document without its newline, at the end of the stream.
    public mutating func finish() throws(KubeWatchEvent.Malformed) -> [KubeWatchEvent] {
        defer { pending = Data() }
        if pending.allSatisfy({ $0 == 0x20 || $0 == 0x0d || $0 == 0x0a || $0 == 0x09 }) { return [] }
        return [try KubeWatchEvent.parse(pending)]
    }
}
