import Foundation
import Glibc
import CNetlabShims
import Logging
import NetlabKit

/// Which object is at a path: stat(2)'s device and inode (for a mounted namespace the nsfs device
/// and the namespace's inode, what `ip netns identify` compares) and, for a network namespace, its
/// cookie. Inode numbers are handed out again once a namespace is freed, so a namespace deleted and
/// made anew under the same name could get the old one; the cookie (SO_NETNS_COOKIE) is never
/// reused until reboot.
public struct NamespaceIdentity: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public var cookie: UInt64?

    public static func of(path: String) -> NamespaceIdentity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return NamespaceIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), cookie: cookie(path: path))
    }

    /// The network namespace cookie of the namespace at `path`, read from a socket opened inside it;
    /// nil when it is no network namespace (an empty file) or cannot be opened.
    static func cookie(path: String) -> UInt64? {
        guard let ns = try? NetworkNamespace.open(name: path, path: path) else { return nil }
        defer { ns.close() }
        guard let fd = try? ns.socket(domain: AF_UNIX, type: Int32(NETLAB_SOCK_DGRAM), protocol: 0) else { return nil }
        defer { close(fd) }
        var value: UInt64 = 0
        var len = socklen_t(MemoryLayout<UInt64>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &value, &len) == 0 else { return nil }
        return value
    }

    /// The same object: device and inode, and the cookie where both know one.
    func isSame(as other: NamespaceIdentity) -> Bool {
        device == other.device && inode == other.inode && (cookie == nil || other.cookie == nil || cookie == other.cookie)
    }
}

/// A namespace netlab was about to make already exists. Nothing of it is touched.
public struct NamespaceTaken: Error, CustomStringConvertible {
    public var namespace: String
    public var path: String
    /// The lab (or `netlab doctor` run) whose journal proves it made the namespace; nil when none does.
    public var owner: String?

    public var description: String {
        let what = "network namespace \(namespace) (\(path)) already exists"
        if let owner, let pid = LabNames.doctorScratchPID(owner) {
            return "\(what): netlab doctor (pid \(pid)) made it and removes it when it ends; try again then"
        }
        if let owner {
            return "\(what): lab '\(owner)' made it; take that lab down (`netlab down --name \(owner)`) or pick another --name"
        }
        return "\(what), made by someone else (no netlab lab's state names it): netlab leaves it alone; "
            + "remove it with `ip netns del \(namespace)` if it is yours, or pick another --name"
    }
}

/// Namespaces that a state directory's journal proves are its own: made with a journal line before
/// (`namespace`) and after (`created`, with the identity), deleted only with that proof.
enum OwnedNamespaces {
    /// Equivalent to: `ip netns add <name>`, journaled. A name that is taken (EEXIST) throws
    /// `NamespaceTaken` naming whose it is; the journal then holds no `created` line for it, so no
    /// undo ever deletes it.
    static func create(name: String, directory: String = LabNames.netnsDirectory, in store: LabStore,
                       stateRoot: String = LabNames.stateRoot, edge: any NamespaceEdge = HostNamespaces()) throws -> NetworkNamespace {
        let path = "\(directory)/\(name)"
        try store.append(.namespace(name: name, path: path))
        let ns: NetworkNamespace
        do {
            ns = try edge.create(name: name, directory: directory)
        } catch let e as SystemError where e.errno == EEXIST {
            throw NamespaceTaken(namespace: name, path: path, owner: owner(of: path, stateRoot: stateRoot, edge: edge))
        }
        guard let id = edge.identity(path: path) else {
            let e = errno
            ns.close()
            try? edge.delete(path: path)
            throw SystemError("stat network namespace \(path) just made", errno: e)
        }
        do {
            try store.append(.created(name: name, path: path, device: id.device, inode: id.inode, cookie: id.cookie))
        } catch {
            // Unrecorded, it could never be undone: undo it now, while it is provably ours.
            ns.close()
            try? edge.delete(path: path)
            throw error
        }
        return ns
    }

    /// Deletes the namespaces of `entries` (in the order given) that the journal proves were made
    /// by it and that are still the object it made. Returns what failed, and notes on namespaces
    /// that exist but are not provably its own (left alone).
    static func delete(_ entries: [JournalEntry], logger: Logger, edge: any NamespaceEdge = HostNamespaces()) -> (errors: [Error], leftAlone: [String]) {
        var made: [String: NamespaceIdentity] = [:]
        for e in entries where e.kind == .created {
            if let p = e.path, let d = e.device, let i = e.inode { made[p] = NamespaceIdentity(device: d, inode: i, cookie: e.cookie) }
        }
        var errors: [Error] = [], leftAlone: [String] = []
        var seen: Set<String> = []
        var ours: [(name: String, path: String)] = []
        for e in entries where e.kind == .namespace {
            guard let p = e.path, seen.insert(p).inserted, let now = edge.identity(path: p) else { continue }
            guard let mine = made[p] else {
                leftAlone.append("namespace \(e.name): the journal does not show that netlab made it (the name was taken, "
                                 + "or netlab stopped while making it): left alone; `ip netns del \(e.name)` if it is yours")
                continue
            }
            guard now.isSame(as: mine) else {
                leftAlone.append("namespace \(e.name) is no longer the one netlab made (it was replaced since): left alone")
                continue
            }
            ours.append((e.name, p))
        }
        // What still runs inside them (a daemon a plugin forked, a server, a user's shell) would
        // keep them alive after the unmount: it ends with the lab.
        let ended = edge.endProcesses(inNamespacesAt: ours.map(\.path))
        if ended > 0 { logger.debug("ended processes left in the lab's namespaces", metadata: ["count": "\(ended)"]) }
        for (name, p) in ours {
            logger.debug("delete namespace", metadata: ["step": "delete namespace", "netns": "\(name)"])
            do { try edge.delete(path: p) } catch {
                logger.warning("teardown step failed", metadata: ["entry": "namespace \(name)", "error": "\(error)"])
                errors.append(error)
            }
        }
        return (errors, leftAlone)
    }

    /// The state directories under `stateRoot` (labs and doctor runs) whose journal proves it made
    /// the namespace now at `path`.
    static func owner(of path: String, stateRoot: String = LabNames.stateRoot, edge: any NamespaceEdge = HostNamespaces()) -> String? {
        guard let now = edge.identity(path: path) else { return nil }
        for id in journaled(stateRoot: stateRoot) {
            let made = LabStore(lab: id, root: stateRoot).readJournal().contains {
                guard $0.kind == .created, $0.path == path, let d = $0.device, let i = $0.inode else { return false }
                return now.isSame(as: NamespaceIdentity(device: d, inode: i, cookie: $0.cookie))
            }
            if made { return id }
        }
        return nil
    }

    /// Every path that some journal under `stateRoot` names (made, or about to be made).
    static func namedPaths(stateRoot: String = LabNames.stateRoot) -> Set<String> {
        var out: Set<String> = []
        for id in journaled(stateRoot: stateRoot) {
            for e in LabStore(lab: id, root: stateRoot).readJournal() where e.kind == .namespace || e.kind == .created {
                if let p = e.path { out.insert(p) }
            }
        }
        return out
    }

    /// Labs and doctor scratch directories: everything under the state root that keeps a journal.
    static func journaled(stateRoot: String) -> [String] {
        LabStore.labs(root: stateRoot) + doctorScratches(stateRoot: stateRoot)
    }

    static func doctorScratches(stateRoot: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: stateRoot)) ?? []
        return entries.filter { LabNames.doctorScratchPID($0) != nil }.sorted()
    }
}
