/// How an error ends netlab: the exit code says whose move it is. Each error type declares its
/// category (`NetlabError`); the CLI maps by category, never by the error's type.
public enum ExitCategory: Int32, Sendable, CaseIterable, CustomStringConvertible {
    /// Something failed: a check, a plugin, the kernel, netlab itself.
    case failure = 1
    /// The user asked for something wrong: a bad option, topology or lab name.
    case usage = 2
    /// The machine lacks something: a capability, a binary, a kernel feature, a writable path.
    case environment = 3

    public var exitCode: Int32 { rawValue }

    /// The category of any error: its declared one, or failure for errors that declare none.
    public init(of error: any Error) {
        self = (error as? any NetlabError)?.exitCategory ?? .failure
    }

    public var description: String {
        switch self { case .failure: return "failure"; case .usage: return "usage"; case .environment: return "environment" }
    }
}

/// An error that knows which exit category it belongs to.
public protocol NetlabError: Error {
    var exitCategory: ExitCategory { get }
}
