import Foundation

public enum CNICommand: String, Hashable, Sendable, CaseIterable {
    case add = "ADD", check = "CHECK", del = "DEL", version = "VERSION"
    /// Spec 1.1.0: whether the plugin is ready for ADD, and garbage collection of stale attachments.
    case status = "STATUS", gc = "GC"
}

/// Exactly what one plugin run gets: argv, the whole environment, and stdin.
public struct CNIInvocation: Hashable, Sendable {
    public var command: CNICommand
    public var pluginType: String
    public var argv: [String]
    public var environment: [String: String]
    /// The plugin's configuration as built by libcni, as compact JSON with sorted keys.
    public var config: JSONValue
    public var stdin: Data { config.encoded() }
}

extension CNINetworkConfigList {
    /// The configuration one plugin reads on stdin, built as libcni's buildOneConfig does: the plugin's
    /// own object, then "name" and "cniVersion" from the list, "prevResult" when given, and
    /// "runtimeConfig" holding only the capability arguments the plugin declares as true. As with
    /// libcni's InjectConf, an injected key replaces the plugin's own key of that name.
    public func pluginConfig(at index: Int, attachment: CNIAttachment, prevResult: JSONValue?) -> JSONValue {
        var conf = plugins[index]
        conf["name"] = .string(name)
        conf["cniVersion"] = .string(cniVersion.description)
        if let prevResult { conf["prevResult"] = prevResult }
        var rc: [String: JSONValue] = [:]
        for (capability, enabled) in conf["capabilities"]?.objectValue ?? [:] where enabled.boolValue == true {
            if let arg = attachment.capabilityArgs[capability] { rc[capability] = arg }
        }
        if !rc.isEmpty { conf["runtimeConfig"] = .object(rc) }
        return conf
    }
}

/// The environment of a plugin run. Nothing is inherited from netlab: the CNI variables, and a
/// PATH because plugins exec helpers (portmap and bridge run iptables; without PATH portmap fails
/// with "exec: \"iptables\": executable file not found in $PATH"). No CNI_NETNS when the
/// attachment has no namespace path (a DEL after the namespace is gone: the spec makes it optional
/// for DEL only, and plugins then skip what lived inside it).
public func cniEnvironment(command: CNICommand, attachment: CNIAttachment, binDir: String) -> [String: String] {
    var env = [
        "CNI_COMMAND": command.rawValue,
        "CNI_CONTAINERID": attachment.containerID,
        "CNI_NETNS": attachment.netnsPath,
        "CNI_IFNAME": attachment.ifName,
        "CNI_ARGS": attachment.cniArgsString,
        "CNI_PATH": binDir,
        "PATH": cniSearchPath,
    ]
    if attachment.netnsPath.isEmpty { env["CNI_NETNS"] = nil }
    return env
}

/// PATH given to plugins.
public let cniSearchPath = "/usr/sbin:/usr/bin:/sbin:/bin"
