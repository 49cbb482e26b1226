import CMnl
import CNetlabShims
import Glibc

/// A netlink route socket bound to one network namespace. Requests are sent in batches: every
/// request of a batch is answered (the kernel carries out the later ones even when an earlier one
/// fails), and each answer is reported separately.
public protocol NetlinkSocket: AnyObject {
    /// The namespace the socket lives in, for error messages.
    var namespaceName: String? { get }

    /// Sends `requests` (as few `sendto` calls as the limits allow) and waits for the answer to each:
    /// the reply messages of a get or dump, nothing for an acked change, or the kernel's error.
    /// Throws only when the socket itself fails (send error, no reply, receive buffer overrun).
    func transact(_ requests: [NetlinkRequest]) throws -> [Result<[NetlinkMessage], NetlinkError>]
}

extension NetlinkSocket {
    /// Sends a batch and throws the first failure; `NetlinkError.requestIndex` says which request it
    /// was. The kernel still carried out the requests after it.
    public func perform(_ requests: [NetlinkRequest]) throws {
        for result in try transact(requests) {
            if case .failure(let e) = result { throw e }
        }
    }

    /// Sends one request and returns its reply messages.
    public func request(_ request: NetlinkRequest) throws -> [NetlinkMessage] {
        guard let first = try transact([request]).first else { return [] }
        return try first.get()
    }
}

/// The libmnl implementation: one `AF_NETLINK` socket (`NETLINK_ROUTE` unless told otherwise,
/// `NETLINK_NETFILTER` for ctnetlink) with extended acks
/// (`NETLINK_EXT_ACK`) and capped acks (`NETLINK_CAP_ACK`: errors do not echo the request).
/// Usable from any thread, one call at a time.
public final class MnlNetlinkSocket: NetlinkSocket {
    private let nl: OpaquePointer
    private let portID: UInt32
    private var nextSequence: UInt32
    public let namespaceName: String?

    /// Requests per `sendto`: the kernel queues one ack per request on the receive buffer, so an
    /// unbounded batch would overrun it (ENOBUFS) and lose acks.
    public var maxBatchMessages = 64
    public var maxBatchBytes = 32 * 1024
    /// How long to wait for the kernel's answer before giving up (SO_RCVTIMEO).
    public let replyTimeoutSeconds: Int

    /// Opens the socket inside the namespace `namespaceFD` (the descriptor stays the caller's),
    /// on a short-lived thread, so no thread of ours ever changes namespace.
    public convenience init(namespaceFD: Int32, namespaceName: String, replyTimeoutSeconds: Int = 10,
                            protocol netlinkProtocol: Int32 = NETLINK_ROUTE) throws {
        let fd = netlab_socket_in_netns(namespaceFD, AF_NETLINK, Int32(NETLAB_SOCK_RAW), netlinkProtocol)
        guard fd >= 0 else {
            throw NetlinkError(operation: "open netlink socket", namespace: namespaceName, code: -fd)
        }
        try self.init(fd: fd, namespaceName: namespaceName, replyTimeoutSeconds: replyTimeoutSeconds)
    }

    /// A socket in the calling thread's namespace. For tests and read-only inspection only: netlab
    /// never changes the namespace it runs in.
    public static func inCallersNamespace(label: String = "of the caller", replyTimeoutSeconds: Int = 10,
                                          protocol netlinkProtocol: Int32 = NETLINK_ROUTE) throws -> MnlNetlinkSocket {
        let fd = socket(AF_NETLINK, Int32(NETLAB_SOCK_RAW) | Int32(NETLAB_SOCK_CLOEXEC), netlinkProtocol)
        guard fd >= 0 else { throw NetlinkError(operation: "open netlink socket", namespace: label, code: errno) }
        return try MnlNetlinkSocket(fd: fd, namespaceName: label, replyTimeoutSeconds: replyTimeoutSeconds)
    }

    private init(fd: Int32, namespaceName: String?, replyTimeoutSeconds: Int) throws {
        self.namespaceName = namespaceName
        self.replyTimeoutSeconds = replyTimeoutSeconds
        func fail(_ what: String, _ code: Int32) -> NetlinkError {
            NetlinkError(operation: what, namespace: namespaceName, code: code)
        }
        guard let nl = mnl_socket_fdopen(fd) else {
            let e = errno
            close(fd)
            throw fail("adopt netlink socket (mnl_socket_fdopen)", e)
        }
        guard mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0 else {
            let e = errno
            mnl_socket_close(nl)
            throw fail("bind netlink socket", e)
        }
        var on: Int32 = 1
        for option in [NETLINK_EXT_ACK, NETLINK_CAP_ACK] {
            guard mnl_socket_setsockopt(nl, option, &on, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                let e = errno
                mnl_socket_close(nl)
                throw fail("set netlink socket option \(option)", e)
            }
        }
        var timeout = timeval(tv_sec: replyTimeoutSeconds, tv_usec: 0)
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            let e = errno
            mnl_socket_close(nl)
            throw fail("set SO_RCVTIMEO", e)
        }
        self.nl = nl
        self.portID = mnl_socket_get_portid(nl)
        // Distinct from sequence numbers of an earlier socket that might have had the same port.
        self.nextSequence = UInt32(truncatingIfNeeded: time(nil))
    }

    deinit { mnl_socket_close(nl) }

    public func transact(_ requests: [NetlinkRequest]) throws -> [Result<[NetlinkMessage], NetlinkError>] {
        var results = [Result<[NetlinkMessage], NetlinkError>](repeating: .success([]), count: requests.count)
        var pending = Array(requests.indices)
        // A dump that raced with a change (NLM_F_DUMP_INTR) may be inconsistent: ask again.
        for attempt in 1...4 {
            pending = try exchange(requests, pending, into: &results)
            if pending.isEmpty { break }
            if attempt == 4 {
                for i in pending {
                    results[i] = .failure(NetlinkError(operation: requests[i].operation, namespace: namespaceName,
                                                       code: EINTR, detail: "dump interrupted by changes 4 times in a row",
                                                       requestIndex: i, requestCount: requests.count))
                }
            }
        }
        return results
    }

    /// Sends the requests at `indices` in chunks and collects their answers into `results`.
    /// Returns the indices of dumps that were interrupted.
    private func exchange(_ requests: [NetlinkRequest], _ indices: [Int],
                          into results: inout [Result<[NetlinkMessage], NetlinkError>]) throws -> [Int] {
        var interrupted: [Int] = []
        var start = 0
        while start < indices.count {
            var end = start
            var bytes = 0
            while end < indices.count, end - start < maxBatchMessages,
                  end == start || bytes + requests[indices[end]].bytes.count <= maxBatchBytes {
                bytes += requests[indices[end]].bytes.count
                end += 1
            }
            let chunk = Array(indices[start..<end])
            interrupted += try exchangeChunk(requests, chunk, into: &results)
            start = end
        }
        return interrupted
    }

    private func socketError(_ what: String, _ code: Int32, _ detail: String? = nil) -> NetlinkError {
        NetlinkError(operation: what, namespace: namespaceName, code: code, detail: detail)
    }

    private func exchangeChunk(_ requests: [NetlinkRequest], _ chunk: [Int],
                               into results: inout [Result<[NetlinkMessage], NetlinkError>]) throws -> [Int] {
        let state = ReceiveState()
        var out: [UInt8] = []
        for i in chunk {
            var bytes = requests[i].bytes
            precondition(bytes.count >= NetlinkMessage.headerSize && bytes.count % 4 == 0, "malformed netlink request")
            let seq = nextSequence
            nextSequence &+= 1
            bytes.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: seq, toByteOffset: 8, as: UInt32.self)
                // Without an ack, a change that succeeds would be answered by nothing at all.
                if !requests[i].isDump {
                    let flags = raw.load(fromByteOffset: 6, as: UInt16.self) | UInt16(NLM_F_ACK)
                    raw.storeBytes(of: flags, toByteOffset: 6, as: UInt16.self)
                }
            }
            state.indexBySequence[seq] = i
            out += bytes
        }
        let what = chunk.count == 1 ? requests[chunk[0]].operation : "send \(chunk.count) requests"
        let sent = out.withUnsafeBytes { mnl_socket_sendto(nl, $0.baseAddress, $0.count) }
        guard sent == out.count else {
            throw socketError(what, sent < 0 ? errno : EMSGSIZE, sent < 0 ? "sendto failed" : "short sendto")
        }

        // 32 KiB, as later libmnl's MNL_SOCKET_DUMP_SIZE (1.0.4 lacks it): a dump message may be
        // larger than MNL_SOCKET_BUFFER_SIZE (8 KiB), and recvfrom would truncate it.
        var buffer = [UInt8](repeating: 0, count: 32 * 1024)
        let context = Unmanaged.passUnretained(state).toOpaque()
        var controls = [mnl_cb_t?](repeating: nil, count: Int(NLMSG_MIN_TYPE))
        controls[Int(NLMSG_ERROR)] = statusCallback
        controls[Int(NLMSG_DONE)] = statusCallback
        while state.finished.count < chunk.count {
            let n = buffer.withUnsafeMutableBytes { mnl_socket_recvfrom(nl, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                let detail = e == EAGAIN ? "no answer from the kernel within \(replyTimeoutSeconds) s"
                           : e == ENOBUFS ? "receive buffer overrun: answers were lost" : "recvfrom failed"
                throw socketError(what, e, detail)
            }
            buffer.withUnsafeMutableBytes { raw in state.noteInterruptedDumps(raw, count: n) }
            let rc = buffer.withUnsafeBytes { raw in
                controls.withUnsafeMutableBufferPointer { ctl in
                    withExtendedLifetime(state) {
                        mnl_cb_run2(raw.baseAddress, n, 0, portID, dataCallback, context, ctl.baseAddress, UInt32(ctl.count))
                    }
                }
            }
            if rc < 0 { throw socketError(what, errno, "bad reply from the kernel (mnl_cb_run2)") }
        }

        for i in chunk {
            if let (code, text) = state.failures[i] {
                results[i] = .failure(NetlinkError(operation: requests[i].operation, namespace: namespaceName,
                                                   code: code, kernelMessage: text,
                                                   requestIndex: i, requestCount: requests.count))
            } else {
                results[i] = .success(state.messages[i] ?? [])
            }
        }
        return chunk.filter { state.interrupted.contains($0) && state.failures[$0] == nil }
    }
}

/// What the callbacks collect for one chunk, keyed by request index.
private final class ReceiveState {
    var indexBySequence: [UInt32: Int] = [:]
    var messages: [Int: [NetlinkMessage]] = [:]
    var failures: [Int: (Int32, String?)] = [:]
    var finished: Set<Int> = []
    var interrupted: Set<Int> = []

    func noteInterruptedDumps(_ raw: UnsafeMutableRawBufferPointer, count: Int) {
        for seq in clearDumpInterrupted(raw, count: count) {
            if let i = indexBySequence[seq] { interrupted.insert(i) }
        }
    }

    static func copy(_ nlh: UnsafePointer<nlmsghdr>) -> NetlinkMessage {
        NetlinkMessage(bytes: Array(UnsafeRawBufferPointer(start: nlh, count: Int(nlh.pointee.nlmsg_len))))
    }
}

/// Data messages (RTM_NEW*): kept for the request with the same sequence number. Replies to an
/// earlier, abandoned exchange have unknown sequence numbers and are dropped.
private let dataCallback: mnl_cb_t = { nlh, context in
    guard let nlh, let context else { return MNL_CB_ERROR }
    let state = Unmanaged<ReceiveState>.fromOpaque(context).takeUnretainedValue()
    if let i = state.indexBySequence[nlh.pointee.nlmsg_seq] {
        state.messages[i, default: []].append(ReceiveState.copy(nlh))
    }
    return MNL_CB_OK
}

/// NLMSG_ERROR (ack or error) and NLMSG_DONE both end a request. Returning MNL_CB_OK rather than
/// libmnl's default STOP/ERROR keeps mnl_cb_run going through the other answers of the batch.
private let statusCallback: mnl_cb_t = { nlh, context in
    guard let nlh, let context else { return MNL_CB_ERROR }
    let state = Unmanaged<ReceiveState>.fromOpaque(context).takeUnretainedValue()
    guard let i = state.indexBySequence[nlh.pointee.nlmsg_seq] else { return MNL_CB_OK }
    let message = ReceiveState.copy(nlh)
    if let (code, text) = message.status, code != 0, state.failures[i] == nil {
        state.failures[i] = (code, text)
    }
    state.finished.insert(i)
    return MNL_CB_OK
}
