import Testing
import Glibc

/// Root tests build real namespaces; they run in CI, which runs as root.
let isRoot = getuid() == 0
