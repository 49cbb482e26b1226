import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NetlabKit

/// The lab's Kubernetes API over HTTP/1.1, on swift-nio's event loops (the thread rule for long-lived
/// servers, System/Threads.swift). Each request is one `APIRouter` answer; a watch is a chunked
/// stream the handler drains from its `Watcher` whenever the store wakes it, ended at the client's
/// `timeoutSeconds` or when the client goes. Bookmarks go out on a timer (`bookmarkInterval`).
public final class APIServer: Sendable {
    public let store: APIStore
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel
    /// The plain-HTTP listener beside an HTTPS one (`insecure`), if any.
    let insecureChannel: (any Channel)?
    let bookmarks: RepeatedTask?
    /// The bound port (the one asked, or the kernel's choice for port 0).
    public let port: Int
    /// The plain listener's bound port.
    public var insecurePort: Int? { insecureChannel?.localAddress?.port }

    /// A PEM certificate (chain) and its private key, as kube-apiserver's `--tls-cert-file` and `--tls-private-key-file`.
    public struct TLSFiles: Hashable, Sendable {
        public var certificateFile: String
        public var privateKeyFile: String
        public init(certificateFile: String, privateKeyFile: String) { self.certificateFile = certificateFile; self.privateKeyFile = privateKeyFile }

        /// The server side of TLS 1.2/1.3 with ALPN `http/1.1` (clients that offer h2 fall back to it).
        func context() throws(APIServerError) -> NIOSSLContext {
            let chain: [NIOSSLCertificate]
            do { chain = try NIOSSLCertificate.fromPEMFile(certificateFile) } catch { throw .tls(certificateFile, error) }
            guard !chain.isEmpty else { throw .tls(certificateFile, NIOSSLError.failedToLoadCertificate) }
            let key: NIOSSLPrivateKey
            do { key = try NIOSSLPrivateKey(file: privateKeyFile, format: .pem) } catch { throw .tls(privateKeyFile, error) }
            var conf = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            conf.applicationProtocols = ["http/1.1"]
            do { return try NIOSSLContext(configuration: conf) } catch { throw .tls("\(certificateFile) with \(privateKeyFile)", error) }
        }
    }

    /// Binds `host:port` and serves until `stop()`; `/api` tells clients the bound address. With
    /// `tls` it speaks HTTPS only; with `tokens` every request but the public health and version
    /// paths needs a bearer token from them. `insecure` (kube-apiserver's old insecure port) also
    /// serves plain HTTP without authentication there, for the lab's own use from inside the API's
    /// namespace (127.0.0.1), where only netlab reaches it.
    public init(store: APIStore, host: String, port: Int, bookmarkInterval: TimeAmount? = .seconds(60), threads: Int = 2,
                tls: TLSFiles? = nil, tokens: APITokens? = nil, insecure: (host: String, port: Int)? = nil) throws {
        self.store = store
        let ssl = try tls?.context()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let router = APIRouter(store: store, serverAddress: "\(host):\(port)", tokens: tokens)
        func bind(_ host: String, _ port: Int, ssl: NIOSSLContext?, router: APIRouter) throws -> any Channel {
            do {
                return try ServerBootstrap(group: group)
                    .serverChannelOption(.backlog, value: 256)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            if let ssl { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: ssl)) }
                            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                            try channel.pipeline.syncOperations.addHandler(APIHTTPHandler(router: router))
                        }
                    }
                    .bind(host: host, port: port).wait()
            } catch {
                throw APIServerError.bind("\(host):\(port)", error)
            }
        }
        do {
            channel = try bind(host, port, ssl: ssl, router: router)
            do {
                insecureChannel = try insecure.map { try bind($0.host, $0.port, ssl: nil, router: APIRouter(store: store, serverAddress: "\($0.host):\($0.port)", tokens: nil)) }
            } catch {
                try? channel.close().wait()
                throw error
            }
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
        self.group = group
        self.port = channel.localAddress?.port ?? port
        router.serverAddress = "\(host):\(self.port)"
        bookmarks = bookmarkInterval.map { every in
            group.next().scheduleRepeatedTask(initialDelay: every, delay: every) { _ in store.sendBookmarks() }
        }
    }

    /// Closes the listener and every connection (open watches end with them).
    public func stop() {
        bookmarks?.cancel()
        try? insecureChannel?.close().wait()
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// Blocks until the listener is closed (by `stop()` from another thread).
    public func wait() { try? channel.closeFuture.wait() }
}

public enum APIServerError: NetlabError, CustomStringConvertible {
    case bind(String, any Error)
    case tls(String, any Error)
    /// Binding depends on the machine's state (a port in use, an address not here); TLS files are the caller's.
    public var exitCategory: ExitCategory {
        switch self {
        case .bind: .environment
        case .tls: .usage
        }
    }
    public var description: String {
        switch self {
        case .bind(let addr, let e): "the API server cannot listen on \(addr): \(e) (is another server on that port?)"
        case .tls(let file, let e): "the API server cannot use \(file) for TLS: \(e) (it wants a PEM certificate chain and its PEM private key)"
        }
    }
}

/// One connection: requests in order (NIO's pipelining handler holds the next until the answer is
/// written), bodies collected up to `APIRouter.maxBody`, watches streamed.
final class APIHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let router: APIRouter
    var head: HTTPRequestHead?
    var body = ByteBuffer()
    var tooLarge = false
    /// The open watch of this connection and its timeout.
    var watcher: Watcher?
    /// The watch writes its objects as Tables of this resource; the first carries the columns.
    var tableOf: APIResource?
    var tableColumnsSent = false
    var timeout: Scheduled<Void>?
    var keepAlive = true

    init(router: APIRouter) { self.router = router }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h; body.clear(); tooLarge = false
        case .body(var b):
            if body.readableBytes + b.readableBytes > APIRouter.maxBody { tooLarge = true } else { body.writeBuffer(&b) }
        case .end:
            guard let h = head else { return }
            head = nil
            keepAlive = h.isKeepAlive
            if tooLarge {
                let st = APIStatus(code: 413, reason: "RequestEntityTooLarge", message: "the request body is larger than \(APIRouter.maxBody) bytes")
                write(context, version: h.version, .status(st))
                return
            }
            var headers: [String: String] = [:]
            for (k, v) in h.headers { headers[k.lowercased()] = headers[k.lowercased()].map { "\($0), \(v)" } ?? v }
            let req = APIRequest(method: h.method.rawValue, uri: h.uri, headers: headers,
                                 body: Data(body.readableBytesView))
            write(context, version: h.version, router.respond(req))
        }
    }

    func responseHead(_ version: HTTPVersion, _ code: Int, _ contentType: String, length: Int?) -> HTTPResponseHead {
        var headers = HTTPHeaders([("Content-Type", contentType), ("Cache-Control", "no-cache, private")])
        if let length { headers.add(name: "Content-Length", value: String(length)) } else { headers.add(name: "Transfer-Encoding", value: "chunked") }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        return HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: code), headers: headers)
    }

    func write(_ context: ChannelHandlerContext, version: HTTPVersion, _ response: APIResponse) {
        switch response {
        case .body(let code, let type, let data):
            context.write(wrapOutboundOut(.head(responseHead(version, code, type, length: data.count))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: data)))), promise: nil)
            end(context)
        case .watch(let w, let table):
            watcher = w
            tableOf = table
            context.writeAndFlush(wrapOutboundOut(.head(responseHead(version, 200, APIRouter.json, length: nil))), promise: nil)
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            if let seconds = w.timeoutSeconds {
                // Upstream ends the response at the timeout; the client watches again from its last resourceVersion.
                timeout = loop.scheduleTask(in: .seconds(Int64(seconds))) { w.stop(); bound.value.0.drain(bound.value.1) }
            }
            w.onEvents { loop.execute { bound.value.0.drain(bound.value.1) } }
        }
    }

    func end(_ context: ChannelHandlerContext) {
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        guard !keepAlive else { return }
        // Closed once the answer is out (closing at once could drop what the socket has not taken yet).
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.whenComplete { _ in bound.value.close(promise: nil) }
    }

    /// Writes what the watch has queued; ends the response once the watch has ended.
    func drain(_ context: ChannelHandlerContext) {
        guard let w = watcher else { return }
        let events = w.poll()
        for e in events {
            var line = e.encodedLine
            if let r = tableOf, [.added, .modified, .deleted].contains(e.type) {
                let t = APITable.table(r, objects: [e.object], resourceVersion: e.resourceVersion, now: Date(), columns: !tableColumnsSent)
                tableColumnsSent = true
                line = (["type": .string(e.type.rawValue), "object": t] as JSONValue).encoded()
                line.append(0x0A)
            }
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: line)))), promise: nil)
        }
        if w.isFinished {
            watcher = nil
            timeout?.cancel(); timeout = nil
            end(context)
        } else if !events.isEmpty {
            context.flush()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel(); timeout = nil
        watcher?.stop(); watcher = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
