import Foundation
import NetlabKit

extension TopologyLoader {
    /// Reads a topology file (a regular file, a pipe such as `--topology <(netlab topology
    /// generate ...)`, or a FIFO) with `BoundedRead`, then parses it; `cni.conflistFile` is read
    /// the same way. Every problem is a `TopologyError` at `file:0:0`.
    public static func load(path: String) throws -> Topology {
        let data: Data
        do {
            data = try BoundedRead.contents(of: path, limit: maxFileBytes)
        } catch let f as BoundedRead.Failure {
            let message: String
            switch f {
            case .tooLarge(let limit, let size):
                message = "the topology file is larger than \(BoundedRead.mebibytes(limit))"
                    + (size.map { " (\(BoundedOutput.grouped($0)) bytes)" } ?? "") + "; a topology is a few KiB (is this the right file?)"
            case .directory:
                message = "cannot read the topology file: it is a directory, not a file; give the path of a YAML file"
            default:
                message = "cannot read the topology file: \(f); check the path, or run without a file to use the default topology \(DefaultTopology.fileName)"
            }
            throw TopologyError(file: path, line: 0, column: 0, message)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TopologyError(file: path, line: 0, column: 0, "the topology file is not UTF-8 text; save it as UTF-8")
        }
        return try parse(yaml: text, source: path) { conflist in
            String(decoding: try BoundedRead.contents(of: conflist, limit: maxFileBytes), as: UTF8.self)
        }
    }
}
