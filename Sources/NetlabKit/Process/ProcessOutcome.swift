import Foundation

/// How a child process ended and what it printed. A non-zero exit is data, not an exception.
public struct ProcessOutcome: Hashable, Sendable {
    public enum Termination: Hashable, Sendable {
        case exited(Int32)
        case signalled(Int32)
        /// netlab ended it after the timeout (the process group got SIGKILL).
        case timedOut(seconds: Double)
    }
    public var termination: Termination
    /// What the child printed, or its first and last part with a line saying how much was cut
    /// between them (`BoundedOutput`); `stdoutBytesCut` and `stderrBytesCut` count it.
    public var stdout: Data
    public var stderr: Data
    public var stdoutBytesCut: Int
    public var stderrBytesCut: Int

    public init(termination: Termination, stdout: Data = Data(), stderr: Data = Data(), stdoutBytesCut: Int = 0, stderrBytesCut: Int = 0) {
        self.termination = termination; self.stdout = stdout; self.stderr = stderr
        self.stdoutBytesCut = stdoutBytesCut; self.stderrBytesCut = stderrBytesCut
    }

    /// The outcome with the output a runner kept.
    public init(termination: Termination, stdout: BoundedOutput, stderr: BoundedOutput) {
        self.init(termination: termination, stdout: stdout.data, stderr: stderr.data,
                  stdoutBytesCut: stdout.cutBytes, stderrBytesCut: stderr.cutBytes)
    }

    public var succeeded: Bool { termination == .exited(0) }
    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }

    /// "exited with status 2", "was killed by signal 9", "did not finish within 10 s".
    public var terminationDescription: String {
        switch termination {
        case .exited(let s): return "exited with status \(s)"
        case .signalled(let s): return "was killed by signal \(s)"
        case .timedOut(let t): return "did not finish within \(t.formatted()) s and was stopped"
        }
    }
}

/// Runs a program: an argv array and a complete environment, never a shell string. The Linux edge
/// implements it inside a network namespace; tests use a fake.
public protocol ProcessRunner: Sendable {
    /// Runs `argv[0]` (an absolute path) with `argv`, exactly `environment` (nothing inherited) and
    /// `stdin` on its standard input. Throws only when the program could not be started at all
    /// (for example it does not exist: the error then says so).
    func run(argv: [String], environment: [String: String], stdin: Data, timeout: Double?) throws -> ProcessOutcome
}
