import Foundation
import Yams

extension TopologyBuilder {
    /// `agents:`: the user's long-running programs, each checked here so that `topology validate`
    /// refuses whatever `up` would (the program's existence is the environment's, checked by preflight).
    func readAgents(_ top: Fields) {
        guard let list = top.optional("agents"),
              let items = r.sequence(list, "agents", itemExample: "an agent with name and command") else { return }
        let dir = source.lastIndex(of: "/").map { String(source[..<$0]) } ?? "."
        let base = dir.isEmpty ? "/" : dir
        let nodeNames = nodes.compactMap { $0.name?.value }
        var byName: [String: YAMLLocation] = [:]
        var logNames: [String: (String, YAMLLocation)] = [:]
        for (i, item) in items.enumerated() {
            let label = peekName(item).map { "agent '\($0)'" } ?? "agents[\(i)]"
            guard let f = r.fields(item, label, allowed: keys["agents[]"]!) else { continue }
            var ok = true
            var agent = Agent(name: "", command: [], nodes: nodeNames, baseDirectory: base)
            if let n = f.required("name", expected: "the agent's name like kube-proxy"), let s = r.string(n, "\(label) name", example: "kube-proxy") {
                agent.name = s.value
                if !isDNSLabel(s.value, maxLength: 63) {
                    r.error(s.loc, "\(label) name '\(s.value)' cannot be used: it names the agent's log and state files, so it must be at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
                            + (sanitizedLabel(s.value, maxLength: 63).map { " (e.g. '\($0)')" } ?? ""))
                    ok = false
                } else if let first = byName[s.value] {
                    r.error(s.loc, "agent name '\(s.value)' is already used by the agent at \(first); give every agent a unique name")
                    ok = false
                } else {
                    byName[s.value] = s.loc
                }
            } else { ok = false }
            if let c = readAgentCommand(f, label) { agent.command = c } else { ok = false }
            if let n = f.optional("env") {
                if let env = readAgentEnvironment(n, label) { agent.environment = env } else { ok = false }
            }
            if let n = f.optional("nodes") {
                if let names = readAgentNodes(n, label, known: nodeNames) { agent.nodes = names } else { ok = false }
            }
            if let n = f.optional("ready") {
                if let ready = readAgentReadiness(n, label) { agent.ready = ready } else { ok = false }
            }
            if let n = f.optional("sync") {
                if let sync = readAgentSync(n, label) { agent.sync = sync } else { ok = false }
            }
            if let n = f.optional("timeoutSeconds"), let t = r.int(n, "\(label) timeoutSeconds", range: 1...3600) {
                agent.timeoutSeconds = Double(t.value)
            }
            if let n = f.optional("privateDirs") {
                if let dirs = readPrivateDirs(n, label) { agent.privateDirs = dirs } else { ok = false }
            }
            if ok {
                // agent-<name>-<node>.log: agent a-b on node c and agent a on node b-c would share one.
                for node in agent.nodes {
                    let log = "\(agent.name)-\(node)"
                    if let (other, loc) = logNames[log], other != agent.name {
                        r.error(f.loc, "\(label) on node '\(node)' would write the same log file, agent-\(log).log, as agent '\(other)' (\(loc)); rename one of them")
                        ok = false
                    } else { logNames[log] = (agent.name, f.loc) }
                }
            }
            if ok { agents.append(agent) }
        }
    }

    private func readAgentCommand(_ f: Fields, _ label: String) -> [String]? {
        guard let n = f.required("command", expected: "the agent's argv like [/usr/local/bin/kube-proxy, --hostname-override={{nodeName}}]"),
              let items = r.sequence(n, "\(label) command", itemExample: "/usr/local/bin/kube-proxy") else { return nil }
        let argv = items.compactMap { r.string($0, "an item of \(label) command", example: "--hostname-override={{nodeName}}") }
        guard argv.count == items.count else { return nil }
        guard let program = argv.first else {
            r.error(n.location, "\(label) command is empty; give the agent's argv, e.g. [/usr/local/bin/kube-proxy, --hostname-override={{nodeName}}]")
            return nil
        }
        var ok = true
        if program.value.isEmpty {
            r.error(program.loc, "\(label) command starts with an empty program name; give the agent's binary, e.g. /usr/local/bin/kube-proxy")
            ok = false
        } else if !Agent.placeholderNames(in: program.value).isEmpty {
            r.error(program.loc, "\(label) program '\(program.value)' holds a placeholder; the program is the same on every node, so write its path out")
            ok = false
        }
        for a in argv.dropFirst() where !checkPlaceholders(a, "\(label) command") { ok = false }
        return ok ? argv.map(\.value) : nil
    }

    private func readAgentEnvironment(_ node: YNode, _ label: String) -> [String: String]? {
        guard case .mapping(let m) = node else {
            r.error(node.location, "\(label) env must be a mapping of variable names to strings like {NODE_NAME: \"{{nodeName}}\"}, not \(node.kindDescription)")
            return nil
        }
        var env: [String: String] = [:]
        var ok = true
        for (k, v) in m {
            guard let key = r.string(k, "a variable name in \(label) env", example: "NODE_NAME"),
                  let value = r.string(v, "the value of \(k.scalar?.string ?? "?") in \(label) env", example: "\"{{nodeName}}\"") else { ok = false; continue }
            if !isEnvironmentName(key.value) {
                r.error(key.loc, "\(label) env name '\(key.value)' is not a variable name; use letters, digits and '_', not starting with a digit")
                ok = false
            }
            if !checkPlaceholders(value, "\(label) env \(key.value)") { ok = false }
            env[key.value] = value.value
        }
        return ok ? env : nil
    }

    private func readAgentNodes(_ node: YNode, _ label: String, known: [String]) -> [String]? {
        guard let items = r.sequence(node, "\(label) nodes", itemExample: "a node name like node1") else { return nil }
        if items.isEmpty {
            r.error(node.location, "\(label) nodes is empty; name the nodes it runs on, or leave nodes out to run it on every node")
            return nil
        }
        var seen: Set<String> = []
        var ok = true
        for item in items {
            guard let s = r.string(item, "an item of \(label) nodes", example: known.first ?? "node1") else { ok = false; continue }
            if !known.contains(s.value) {
                var message = "\(label) nodes names '\(s.value)', which is not a node of this topology (nodes: \(known.joined(separator: ", ")))"
                if let c = closestMatch(s.value, among: known) { message += "; did you mean '\(c)'?" }
                r.error(s.loc, message)
                ok = false
            } else if !seen.insert(s.value).inserted {
                r.error(s.loc, "\(label) nodes names '\(s.value)' twice; an agent runs once per node")
                ok = false
            }
        }
        // Node order, not the list's: the agents start in the order the nodes were made.
        return ok ? known.filter(seen.contains) : nil
    }

    private func readAgentReadiness(_ node: YNode, _ label: String) -> Agent.Readiness? {
        let what = "\(label) ready"
        let kinds = ["http", "tcp", "log", "file"]
        guard let f = r.fields(node, what, allowed: keys["agents[].ready"]!) else { return nil }
        let given = kinds.filter { f.entries[$0] != nil }
        guard given.count == 1, let kind = given.first else {
            r.error(f.loc, given.isEmpty
                    ? "\(what) is empty; give one of {http: \"http://127.0.0.1:10256/healthz\"}, {tcp: \"127.0.0.1:9099\"}, {log: \"regex\"}, {file: /run/x/ready}, or leave ready out"
                    : "\(what) gives \(given.joined(separator: " and ")); give exactly one way to tell the agent is ready")
            return nil
        }
        guard let v = f.required(kind, expected: "what to wait for"),
              let s = r.string(v, "\(what) \(kind)", example: kind == "http" ? "http://127.0.0.1:10256/healthz" : kind == "tcp" ? "127.0.0.1:9099" : kind == "log" ? "Started" : "/run/x/ready") else { return nil }
        switch kind {
        case "http":
            guard let (ip, port, path) = httpURL(s, "\(what) http") else { return nil }
            return .http(ip, port: port, path: path)
        case "tcp":
            guard s.value.contains(":"), let (ip, port) = hostAndPort(s.value, defaultPort: nil) else {
                r.error(s.loc, "\(what) tcp '\(s.value)' must be an IPv4 address and port like 127.0.0.1:9099")
                return nil
            }
            return .tcp(ip, port: port)
        case "log":
            if s.value.isEmpty {
                r.error(s.loc, "\(what) log is empty; give a regular expression a line of the agent's log matches once it is ready")
                return nil
            }
            do { _ = try Regex(s.value) } catch {
                r.error(s.loc, "\(what) log '\(s.value)' is not a regular expression (\(error)); escape special characters with \\ to match them literally")
                return nil
            }
            return .log(s.value)
        default:
            guard let path = checkAbsolutePath(s, "\(what) file") else { return nil }
            return .file(path)
        }
    }

    private func readAgentSync(_ node: YNode, _ label: String) -> Agent.SyncProbe? {
        let what = "\(label) sync"
        guard let f = r.fields(node, what, allowed: keys["agents[].sync"]!),
              let v = f.required("http", expected: "the agent's healthz URL like http://127.0.0.1:10256/healthz, whose JSON lastUpdated tells when it last synced"),
              let s = r.string(v, "\(what) http", example: "http://127.0.0.1:10256/healthz"),
              let (ip, port, path) = httpURL(s, "\(what) http") else { return nil }
        return .healthz(ip, port: port, path: path)
    }

    /// An `http://IPv4[:port][/path]` URL netlab probes from inside the node.
    private func httpURL(_ s: Located<String>, _ what: String) -> (IPv4Address, Int, String)? {
        guard s.value.hasPrefix("http://") else {
            r.error(s.loc, "\(what) '\(s.value)' must be an http:// URL with an IPv4 address, like http://127.0.0.1:10256/healthz (netlab probes it from inside the node)")
            return nil
        }
        let rest = s.value.dropFirst("http://".count)
        let hostPort = rest.prefix { $0 != "/" }
        let path = rest.dropFirst(hostPort.count)
        guard let (ip, port) = hostAndPort(String(hostPort), defaultPort: 80) else {
            r.error(s.loc, "\(what) '\(s.value)' needs an IPv4 address and optional port after http://, like http://127.0.0.1:10256/healthz")
            return nil
        }
        return (ip, port, path.isEmpty ? "/" : String(path))
    }

    private func readPrivateDirs(_ node: YNode, _ label: String) -> [String]? {
        guard let items = r.sequence(node, "\(label) privateDirs", itemExample: "an absolute directory like /run/flannel") else { return nil }
        var dirs: [String] = []
        var ok = true
        for item in items {
            guard let s = r.string(item, "an item of \(label) privateDirs", example: "/run/flannel"),
                  let path = checkAbsolutePath(s, "\(label) privateDirs") else { ok = false; continue }
            if path == "/" {
                r.error(s.loc, "\(label) privateDirs cannot be / itself; name the directories the agent keeps its state in, like /run/flannel")
                ok = false
            } else if let other = dirs.first(where: { $0 == path || path.hasPrefix($0 + "/") || $0.hasPrefix(path + "/") }) {
                r.error(s.loc, "\(label) privateDirs \(path) overlaps \(other); list each directory once, none inside another")
                ok = false
            } else {
                dirs.append(path)
            }
        }
        return ok ? dirs : nil
    }

    /// An absolute path without `.`/`..` components or placeholders, with trailing slashes dropped.
    private func checkAbsolutePath(_ s: Located<String>, _ what: String) -> String? {
        let parts = s.value.split(separator: "/", omittingEmptySubsequences: true)
        guard s.value.hasPrefix("/"), !parts.contains("."), !parts.contains(".."), !s.value.contains("{{") else {
            r.error(s.loc, "\(what) '\(s.value)' must be an absolute path without '.', '..' or placeholders, like /run/flannel")
            return nil
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Every `{{name}}` in `s` is one netlab fills in.
    private func checkPlaceholders(_ s: Located<String>, _ what: String) -> Bool {
        var ok = true
        for name in Agent.placeholderNames(in: s.value) where !Agent.placeholders.contains(name) {
            var message = "\(what) uses unknown placeholder {{\(name)}}"
            if let c = closestMatch(name, among: Agent.placeholders) { message += " (did you mean {{\(c)}}?)" }
            r.error(s.loc, message + "; known: \(Agent.placeholders.map { "{{\($0)}}" }.joined(separator: ", "))")
            ok = false
        }
        return ok && checkIPv6Placeholders(s, what)
    }

    private func hostAndPort(_ s: String, defaultPort: Int?) -> (IPv4Address, Int)? {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let ip = IPv4Address(String(parts[0])) else { return nil }
        if parts.count == 1 { return defaultPort.map { (ip, $0) } }
        guard let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
        return (ip, port)
    }

    private func isEnvironmentName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }
}
