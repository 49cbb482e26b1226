import Foundation
import Yams

extension TopologyBuilder {
    func readProxy(_ top: Fields) {
        let dir = source.lastIndex(of: "/").map { String(source[..<$0]) } ?? "."
        proxy.baseDirectory = dir.isEmpty ? "/" : dir
        guard let node = top.optional("proxy"),
              let p = r.fields(node, "proxy", allowed: keys["proxy"]!) else { return }
        if let n = p.optional("command"), let items = r.sequence(n, "proxy.command", itemExample: "netlab-proxy") {
            let argv = items.compactMap { r.string($0, "an item of proxy.command", example: "--detect-local-mode") }
            if argv.count == items.count {
                if argv.isEmpty {
                    r.error(n.location, "proxy.command is empty; give the proxy's argv, e.g. [netlab-proxy] or [./my-proxy, --flag]")
                } else if argv[0].value.isEmpty {
                    r.error(argv[0].loc, "proxy.command starts with an empty program name; name the proxy binary, e.g. netlab-proxy")
                } else {
                    proxy.command = argv.map(\.value)
                }
            }
        }
        if let n = p.optional("timeoutSeconds"), let t = r.int(n, "proxy.timeoutSeconds", range: 1...3600) {
            proxy.timeoutSeconds = Double(t.value)
        }
    }
}
