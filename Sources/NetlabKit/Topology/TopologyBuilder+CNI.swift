import Foundation
import Yams

extension TopologyBuilder {
    func readCNI(_ top: Fields) {
        guard let node = top.required("cni", expected: "a mapping with conflist (inline) or conflistFile, and optionally binDir"),
              let c = r.fields(node, "cni", allowed: keys["cni"]!) else { return }
        var binDir = TopologyLoader.defaultCNIBinDir
        if let n = c.optional("binDir"), let b = r.string(n, "cni.binDir", example: "/usr/lib/cni") {
            if b.value.hasPrefix("/") { binDir = b.value } else {
                r.error(b.loc, "cni.binDir '\(b.value)' must be an absolute path like /usr/lib/cni (plugins are started from other namespaces and directories)")
            }
        }
        var conflist: JSONValue?
        switch (c.optional("conflist"), c.optional("conflistFile")) {
        case (nil, nil):
            r.error(c.loc, "cni needs exactly one of 'conflist' (the network configuration list written inline) or 'conflistFile' (a JSON file next to the topology file); neither is given")
        case (_?, _?):
            r.error(c.keyLocation("conflistFile") ?? c.loc, "cni has both 'conflist' and 'conflistFile'; keep exactly one")
        case (let inline?, nil):
            var marks: [String: YAMLLocation] = [:]
            let before = r.diagnostics.count
            let json = r.json(from: inline, path: "", marks: &marks)
            r.validateConflist(json, source: "cni.conflist") { marks[$0] ?? inline.location }
            if r.diagnostics.count == before { conflist = json }
            checkConflistFamilies(json, source: "cni.conflist") { marks[$0] ?? inline.location }
        case (nil, let fileNode?):
            guard let f = r.string(fileNode, "cni.conflistFile", example: "gke.conflist") else { break }
            let path = resolve(f.value, nextTo: source)
            let shownPath = path == f.value ? "'\(path)'" : "'\(f.value)' (\(path))"
            let text: String
            do { text = try readFile(path) } catch {
                r.error(f.loc, "cannot read cni.conflistFile \(shownPath): \(error.localizedDescription); the path is relative to the topology file's directory")
                break
            }
            let json: JSONValue
            do { json = try JSONValue.decode(Data(text.utf8)) } catch {
                r.error(f.loc, "cni.conflistFile \(shownPath) is not valid JSON (\(jsonProblem(error))); it must hold a network configuration list")
                break
            }
            let before = r.diagnostics.count
            r.validateConflist(json, source: "the conflist in \(shownPath)") { _ in f.loc }
            if r.diagnostics.count == before { conflist = json }
            checkConflistFamilies(json, source: "the conflist in \(shownPath)") { _ in f.loc }
        }
        var timeout = 30.0
        if let n = c.optional("timeoutSeconds"), let t = r.int(n, "cni.timeoutSeconds", range: 1...3600) { timeout = Double(t.value) }
        if let conflist { cni = CNISettings(binDir: binDir, conflist: conflist, timeoutSeconds: timeout) }
    }
}
