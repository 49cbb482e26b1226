import Foundation
import Glibc
import Logging
import NetlabKit

/// What stat(2) says the object at a path is: for a mounted namespace, the nsfs device and the
/// namespace's inode (what `ip netns identify` and `/proc/<pid>/ns/net` compare).
public struct NamespaceIdentity: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64

    public static func of(path: String) -> NamespaceIdentity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return NamespaceIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
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
                       stateRoot: String = LabNames.stateRoot) throws -> NetworkNamespace {
        let path = "\(directory)/\(name)"
        try store.append(.namespace(name: name, path: path))
        let ns: NetworkNamespace
        do {
            ns = try NetworkNamespace.create(name: name, directory: directory)
        } catch let e as SystemError where e.errno == EEXIST {
            throw NamespaceTaken(namespace: name, path: path, owner: owner(of: path, stateRoot: stateRoot))
        }
        guard let id = NamespaceIdentity.of(path: path) else {
            let e = errno
            ns.close()
            try? NetworkNamespace.delete(path: path)
            throw SystemError("stat network namespace \(path) just made", errno: e)
        }
        do {
            try store.append(.created(name: name, path: path, device: id.device, inode: id.inode))
        } catch {
            // Unrecorded, it could never be undone: undo it now, while it is provably ours.
            ns.close()
            try? NetworkNamespace.delete(path: path)
            throw error
        }
        return ns
    }

    /// Deletes the namespaces of `entries` (in the order given) that the journal proves were made
    /// by it and that are still the object it made. Returns what failed, and notes on namespaces
    /// that exist but are not provably its own (left alone).
    static func delete(_ entries: [JournalEntry], logger: Logger) -> (errors: [Error], leftAlone: [String]) {
        var made: [String: NamespaceIdentity] = [:]
        for e in entries where e.kind == .created {
            if let p = e.path, let d = e.device, let i = e.inode { made[p] = NamespaceIdentity(device: d, inode: i) }
        }
        var errors: [Error] = [], leftAlone: [String] = []
        var seen: Set<String> = []
        for e in entries where e.kind == .namespace {
            guard let p = e.path, seen.insert(p).inserted, let now = NamespaceIdentity.of(path: p) else { continue }
            guard let mine = made[p] else {
                leftAlone.append("namespace \(e.name): the journal does not show that netlab made it (the name was taken, "
                                 + "or netlab stopped while making it): left alone; `ip netns del \(e.name)` if it is yours")
                continue
            }
            guard now == mine else {
                leftAlone.append("namespace \(e.name) is no longer the one netlab made (it was replaced since): left alone")
                continue
            }
            do { try NetworkNamespace.delete(path: p) } catch {
                logger.warning("teardown step failed", metadata: ["entry": "namespace \(e.name)", "error": "\(error)"])
                errors.append(error)
            }
        }
        return (errors, leftAlone)
    }

    /// The state directories under `stateRoot` (labs and doctor runs) whose journal proves it made
    /// the namespace now at `path`.
    static func owner(of path: String, stateRoot: String = LabNames.stateRoot) -> String? {
        guard let now = NamespaceIdentity.of(path: path) else { return nil }
        for id in journaled(stateRoot: stateRoot) {
            let made = LabStore(lab: id, root: stateRoot).readJournal().contains {
                $0.kind == .created && $0.path == path && $0.device == now.device && $0.inode == now.inode
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
