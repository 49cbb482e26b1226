/// Everything wrong with a topology file, one diagnostic per problem, each pointing at the YAML node
/// that caused it. The loader collects as many as it can so a user fixes a file in one round trip.
public struct TopologyError: Error, CustomStringConvertible, Equatable, Sendable {
    public struct Diagnostic: Equatable, Hashable, Sendable, CustomStringConvertible {
        /// The file the problem is in (the topology file, as given to the loader).
        public var file: String
        /// 1-based line and column of the offending YAML node; 0 when the problem concerns the whole
        /// file (e.g. it cannot be read).
        public var line: Int
        public var column: Int
        /// What is wrong, to which object, and what would be right.
        public var message: String

        public init(file: String, line: Int, column: Int, message: String) {
            self.file = file; self.line = line; self.column = column; self.message = message
        }

        /// `file:line:col: message`, the format editors and compilers use, so terminals make it clickable.
        public var description: String {
            line > 0 ? "\(file):\(line):\(column): \(message)" : "\(file): \(message)"
        }
    }

    /// Never empty.
    public var diagnostics: [Diagnostic]

    public init(diagnostics: [Diagnostic]) {
        precondition(!diagnostics.isEmpty, "a TopologyError needs at least one diagnostic")
        self.diagnostics = diagnostics
    }

    public init(file: String, line: Int, column: Int, _ message: String) {
        self.init(diagnostics: [Diagnostic(file: file, line: line, column: column, message: message)])
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
