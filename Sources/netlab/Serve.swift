import ArgumentParser
import NetlabLinux

/// netlab's own pod workload, started by netlab inside a pod's namespace (not for users).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve HTTP on TCP ports and echo on UDP ports, answering with the client address seen.",
        shouldDisplay: false)
    @Option(help: "The lab's name (so `ps` tells whose server it is).") var lab: String?
    @Option(help: "The pod's name, put in every answer.") var pod: String
    @Option(help: "A TCP port to serve HTTP on.") var tcp: [Int] = []
    @Option(help: "A UDP port to answer on.") var udp: [Int] = []
    @Flag(help: "Serve only after a 'start' line on stdin; exit if stdin ends first.") var waitForStart = false

    func run() throws {
        try PodServer.run(pod: pod, tcpPorts: tcp, udpPorts: udp, waitForStart: waitForStart)
    }
}

