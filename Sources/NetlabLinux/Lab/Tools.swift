import Foundation
import NetlabKit

/// Where netlab's own binaries are: `netlab` (for `netlab serve` in pods), `netlab-proxy` and
/// `netlab-overlay`, which are built and installed side by side.
public struct Tools: Sendable {
    public var directory: String

    public init(directory: String) { self.directory = directory }

    /// The directory of the running executable. Tests run from a bundle next to the binaries.
    public static func locate() -> Tools {
        locate(executable: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
    }

    /// The tools installed beside `executable`.
    public static func locate(executable: String) -> Tools {
        Tools(directory: URL(fileURLWithPath: executable).deletingLastPathComponent().path)
    }

    public var netlab: String { "\(directory)/netlab" }

    /// Resolves a program named in a topology: a bare name is looked up next to netlab, then in
    /// the system directories; a relative path is relative to the topology file's directory.
    public func resolve(_ program: String, relativeTo base: String) -> String? {
        let fm = FileManager.default
        if program.hasPrefix("/") { return fm.isExecutableFile(atPath: program) ? program : nil }
        if program.contains("/") {
            let p = URL(fileURLWithPath: base).appendingPathComponent(program).standardizedFileURL.path
            return fm.isExecutableFile(atPath: p) ? p : nil
        }
        if fm.isExecutableFile(atPath: "\(directory)/\(program)") { return "\(directory)/\(program)" }
        return IPTables.which(program)
    }
}
