/// A lab's record holds its topology, checks included, and `netlab down` of a lab left up by an
/// older netlab must still read it: every field newer than the first checks (repeats, faults,
/// payloads, endpoint changes, streams, answer sets, proxyMode) decodes to its default when absent.
/// Encoding stays synthesized.
extension Check {
    enum CodingKeys: String, CodingKey {
        case name, description, from, to, port, kind, expect, capture, unready, timeoutSeconds, eventuallySeconds
        case proxyMode, size, dontFragment, faults, count, consistentlySeconds, changes, stream, group
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), description: try c.decodeIfPresent(String.self, forKey: .description),
                  from: try c.decode(String.self, forKey: .from), to: try c.decode(Ref.self, forKey: .to),
                  port: try c.decodeIfPresent(Ref.self, forKey: .port), kind: try c.decode(Kind.self, forKey: .kind),
                  expect: try c.decode(Expectations.self, forKey: .expect),
                  capture: try c.decodeIfPresent([String].self, forKey: .capture) ?? [],
                  unready: try c.decodeIfPresent([String].self, forKey: .unready) ?? [],
                  timeoutSeconds: try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? Check.defaultTimeout,
                  eventuallySeconds: try c.decodeIfPresent(Double.self, forKey: .eventuallySeconds),
                  proxyMode: try c.decodeIfPresent(Topology.ProxyMode.self, forKey: .proxyMode),
                  size: try c.decodeIfPresent(Int.self, forKey: .size),
                  dontFragment: try c.decodeIfPresent(Bool.self, forKey: .dontFragment) ?? false,
                  faults: try c.decodeIfPresent([Fault].self, forKey: .faults) ?? [],
                  count: try c.decodeIfPresent(Int.self, forKey: .count) ?? 1,
                  consistentlySeconds: try c.decodeIfPresent(Double.self, forKey: .consistentlySeconds),
                  changes: try c.decodeIfPresent([EndpointChange].self, forKey: .changes) ?? [],
                  stream: try c.decodeIfPresent(StreamSpec.self, forKey: .stream),
                  group: try c.decodeIfPresent(CheckGroup.self, forKey: .group))
    }
}

extension Expectations {
    enum CodingKeys: String, CodingKey {
        case reply, status, replyTTL, serverPod, serverSaw, packets, servers, error, switchesTo, neverFrom, masqueraded
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(reply: try c.decodeIfPresent(Bool.self, forKey: .reply) ?? true, status: try c.decodeIfPresent(Int.self, forKey: .status),
                  replyTTL: try c.decodeIfPresent(Int.self, forKey: .replyTTL), serverPod: try c.decodeIfPresent(String.self, forKey: .serverPod),
                  serverSaw: try c.decodeIfPresent(Ref.self, forKey: .serverSaw),
                  packets: try c.decodeIfPresent([PacketExpectation].self, forKey: .packets) ?? [],
                  servers: try c.decodeIfPresent(ServerSetExpectation.self, forKey: .servers),
                  error: try c.decodeIfPresent(ProbeErrorClass.self, forKey: .error),
                  switchesTo: try c.decodeIfPresent(SwitchExpectation.self, forKey: .switchesTo),
                  neverFrom: try c.decodeIfPresent([String].self, forKey: .neverFrom) ?? [],
                  masqueraded: try c.decodeIfPresent(Bool.self, forKey: .masqueraded))
    }
}
