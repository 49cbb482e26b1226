import Foundation
import Testing
@testable import NetlabKit

/// A result like ptp's for the pod, in the given version.
func ptpResult(_ version: String, ip: String = "10.244.1.2/24") -> String {
    let v = version.hasPrefix("0.") ? #""version":"4","# : ""
    return """
    {"cniVersion":"\(version)","interfaces":[{"name":"veth1","mac":"aa:aa:aa:aa:aa:aa"},{"name":"eth0","mac":"bb:bb:bb:bb:bb:bb","sandbox":"/run/netns/netlab-web"}],
     "ips":[{\(v)"interface":1,"address":"\(ip)","gateway":"10.244.1.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}
    """
}

/// Plays ptp (returns a result) and portmap (echoes its prevResult), like the real ones.
func chainScript(_ version: String) -> @Sendable (FakeRunner.Call) throws -> ProcessOutcome {
    { call in
        guard call.command == "ADD" else { return ProcessOutcome(termination: .exited(0)) }
        if call.plugin == "ptp" { return ok(ptpResult(version)) }
        guard let prev = call.config["prevResult"] else {   // as the real portmap refuses to run unchained
            return ProcessOutcome(termination: .exited(1), stdout: Data(#"{"code":999,"msg":"must be called as chained plugin"}"#.utf8))
        }
        return ok(prev.encodedString())
    }
}

@Suite struct CNIRuntimeTests {
    @Test func environmentIsExactlyTheCNIVariablesAndPath() throws {
        let runner = FakeRunner(script: chainScript("1.0.0"))
        _ = try makeRuntime(runner, timeout: 12).add(try ptpPortmapList(version: "1.0.0"), webAttachment)
        #expect(runner.calls.count == 2)
        for call in runner.calls {
            #expect(call.environment == [
                "CNI_COMMAND": "ADD",
                "CNI_CONTAINERID": "c0ffee",
                "CNI_NETNS": "/run/netns/netlab-web",
                "CNI_IFNAME": "eth0",
                "CNI_ARGS": "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=c0ffee;K8S_POD_UID=uid-1",
                "CNI_PATH": "/opt/cni/bin",
                "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            ])
            #expect(call.timeout == 12)
        }
        #expect(runner.calls.map(\.argv) == [["/opt/cni/bin/ptp"], ["/opt/cni/bin/portmap"]])
    }

    @Test func addChainsResultsAndFiltersRuntimeConfig() throws {
        let runner = FakeRunner(script: chainScript("1.0.0"))
        let result = try makeRuntime(runner).add(try ptpPortmapList(version: "1.0.0"), webAttachment)
        let stdins = runner.calls.map { String(decoding: $0.stdin, as: UTF8.self) }
        // The first plugin: its own object plus name and cniVersion, no prevResult, no runtimeConfig
        // (it declares no capabilities).
        #expect(stdins[0] == #"{"cniVersion":"1.0.0","ipam":{"dataDir":"/tmp/x","subnet":"10.244.1.0/24","type":"host-local"},"mtu":1450,"name":"netlab","type":"ptp"}"#)
        // The second: ptp's result as prevResult, and only portMappings (bandwidth is declared false).
        let expectedPrev = json(ptpResult("1.0.0")).encodedString()
        #expect(stdins[1] == #"{"capabilities":{"bandwidth":false,"portMappings":true},"cniVersion":"1.0.0","name":"netlab","prevResult":"#
            + expectedPrev + #","runtimeConfig":{"portMappings":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]},"snat":true,"type":"portmap"}"#)
        #expect(result.podAddress(ifName: "eth0") == IPv4Prefix("10.244.1.2/24"))
        #expect(result.raw == json(ptpResult("1.0.0")))
    }

    @Test func lastPluginsResultIsTheResult() throws {
        // A chained plugin may change the result; the last one wins.
        let runner = FakeRunner { call in
            call.plugin == "ptp" ? ok(ptpResult("0.4.0")) : ok(ptpResult("0.4.0", ip: "10.244.1.99/24"))
        }
        let r = try makeRuntime(runner).add(try ptpPortmapList(version: "0.4.0"), webAttachment)
        #expect(r.podAddress(ifName: "eth0") == IPv4Prefix("10.244.1.99/24"))
    }

    @Test func pluginsOwnNameVersionAndRuntimeConfigAreReplacedAsLibcniDoes() throws {
        let l = try CNINetworkConfigList(json("""
        {"cniVersion":"0.4.0","name":"netlab","plugins":[{"type":"portmap","name":"other","cniVersion":"0.3.0",
          "capabilities":{"portMappings":true},"runtimeConfig":{"portMappings":[]}}]}
        """))
        let c = l.pluginConfig(at: 0, attachment: webAttachment, prevResult: nil)
        #expect(c["name"] == .string("netlab"))
        #expect(c["cniVersion"] == .string("0.4.0"))
        #expect(c["runtimeConfig"] == .object(["portMappings": webAttachment.capabilityArgs["portMappings"]!]))
        // Without a matching capability arg the plugin's own runtimeConfig is left alone.
        var bare = webAttachment; bare.capabilityArgs = [:]
        #expect(l.pluginConfig(at: 0, attachment: bare, prevResult: nil)["runtimeConfig"] == json(#"{"portMappings":[]}"#))
    }

    @Test(arguments: ["0.3.1", "0.4.0", "1.0.0"])
    func delRunsInReverseWithPrevResultFrom040(version: String) throws {
        let runner = FakeRunner()
        let prev = try CNIResult(json: json(ptpResult(version)))
        try makeRuntime(runner).del(try ptpPortmapList(version: version), webAttachment, prevResult: prev)
        #expect(runner.calls.map(\.label) == ["DEL portmap", "DEL ptp"])
        for call in runner.calls {
            #expect(call.environment["CNI_COMMAND"] == "DEL")
            if version == "0.3.1" {
                #expect(call.config["prevResult"] == nil)
            } else {
                #expect(call.config["prevResult"] == prev.raw)
            }
        }
        // DEL still gets the capability args (portmap needs them to find its rules).
        #expect(runner.calls[0].config["runtimeConfig"]?["portMappings"] != nil)
    }

    @Test func delWithoutSavedResultSendsNoPrevResult() throws {
        let runner = FakeRunner()
        try makeRuntime(runner).del(try ptpPortmapList(version: "1.0.0"), webAttachment, prevResult: nil)
        #expect(runner.calls.allSatisfy { $0.config["prevResult"] == nil })
    }

    @Test func delStopsAtTheFirstFailingPluginLikeLibcni() throws {
        let runner = FakeRunner { call in
            call.plugin == "portmap" ? ProcessOutcome(termination: .exited(1), stdout: Data(#"{"code":5,"msg":"iptables: locked"}"#.utf8))
                                     : ProcessOutcome(termination: .exited(0))
        }
        #expect { try makeRuntime(runner).del(try ptpPortmapList(version: "1.0.0"), webAttachment, prevResult: nil) } throws: { e in
            let pe = e as? CNIPluginError
            return pe?.command == .del && pe?.code == 5 && pe?.pluginType == "portmap"
        }
        #expect(runner.calls.map(\.label) == ["DEL portmap"])
    }

    @Test func checkIsSkippedBefore040() throws {
        let runner = FakeRunner()
        let prev = try CNIResult(json: json(ptpResult("0.3.1")))
        let outcome = try makeRuntime(runner).check(try ptpPortmapList(version: "0.3.1"), webAttachment, prevResult: prev)
        #expect(outcome == .skipped(reason: "cniVersion 0.3.1 has no CHECK (it exists from 0.4.0 on)"))
        #expect(runner.calls.isEmpty)
    }

    @Test(arguments: ["0.4.0", "1.0.0"])
    func checkRunsInOrderWithTheResult(version: String) throws {
        let runner = FakeRunner()
        let prev = try CNIResult(json: json(ptpResult(version)))
        let outcome = try makeRuntime(runner).check(try ptpPortmapList(version: version), webAttachment, prevResult: prev)
        #expect(outcome == .checked)
        #expect(runner.calls.map(\.label) == ["CHECK ptp", "CHECK portmap"])
        #expect(runner.calls.allSatisfy { $0.config["prevResult"] == prev.raw && $0.environment["CNI_COMMAND"] == "CHECK" })
    }

    @Test func checkHonoursDisableCheck() throws {
        let runner = FakeRunner()
        let l = try CNINetworkConfigList(json(#"{"cniVersion":"1.0.0","name":"n","disableCheck":"true","plugins":[{"type":"ptp"}]}"#))
        let outcome = try makeRuntime(runner).check(l, webAttachment, prevResult: try CNIResult(json: json(ptpResult("1.0.0"))))
        #expect(outcome == .skipped(reason: "the configuration list sets disableCheck"))
        #expect(runner.calls.isEmpty)
    }

    @Test func checkFailureFromRealPortmapOutput() throws {
        let stdout = try golden("portmap-1.0.0-check-error.json")
        let runner = FakeRunner { call in
            call.plugin == "portmap" ? ProcessOutcome(termination: .exited(1), stdout: stdout) : ProcessOutcome(termination: .exited(0))
        }
        #expect { try makeRuntime(runner).check(try ptpPortmapList(version: "1.0.0"), webAttachment,
                                                prevResult: try CNIResult(json: json(ptpResult("1.0.0")))) } throws: { e in
            "\(e)" == "CNI plugin 'portmap' failed CHECK for pod 'web' (netns /run/netns/netlab-web): code 999 (plugin internal error): "
                + "could not check ipv6 dnat: chain CNI-DN-ea608f0cfc8cfc5c1ddf5 not found in iptables table nat"
        }
    }

    @Test func failedAddIsCleanedUpWithDelOfEveryPluginInReverse() throws {
        let stdout = try golden("err-nopath.json")
        let runner = FakeRunner { call in
            switch call.label {
            case "ADD ptp": return ok(ptpResult("1.0.0"))
            case "ADD portmap": return ProcessOutcome(termination: .exited(1), stdout: stdout, stderr: Data("  trace\n".utf8))
            default: return ProcessOutcome(termination: .exited(0))
            }
        }
        var thrown: (any Error)?
        do { _ = try makeRuntime(runner).add(try ptpPortmapList(version: "1.0.0"), webAttachment) } catch { thrown = error }
        let failed = try #require(thrown as? CNIAddFailed)
        #expect(failed.pluginIndex == 1)
        #expect(failed.cleanupError == nil)
        let pe = try #require(failed.failure as? CNIPluginError)
        #expect(pe.code == 999 && pe.pluginType == "portmap" && pe.command == .add && pe.stderr == "trace")
        #expect("\(failed)".hasPrefix("CNI plugin 'portmap' failed ADD for pod 'web' (netns /run/netns/netlab-web): code 999 (plugin internal error): failed to open iptables: exec: \"iptables\": executable file not found in $PATH\nstderr:\ntrace"))
        #expect(runner.calls.map(\.label) == ["ADD ptp", "ADD portmap", "DEL portmap", "DEL ptp"])
        // No result was cached, so the cleanup DEL carries none.
        #expect(runner.calls[2...].allSatisfy { $0.config["prevResult"] == nil })
    }

    @Test func failedFirstPluginStillCleansUpTheWholeList() throws {
        let runner = FakeRunner { call in
            call.command == "ADD" ? ProcessOutcome(termination: .exited(1), stdout: Data(#"{"code":11,"msg":"busy"}"#.utf8))
                                  : ProcessOutcome(termination: .exited(0))
        }
        #expect { try makeRuntime(runner).add(try ptpPortmapList(version: "0.3.1"), webAttachment) } throws: { e in
            ((e as? CNIAddFailed)?.failure as? CNIPluginError)?.isTryAgainLater == true
        }
        #expect(runner.calls.map(\.label) == ["ADD ptp", "DEL portmap", "DEL ptp"])
    }

    @Test func cleanupFailureIsReportedWithTheAddFailure() throws {
        let runner = FakeRunner { call in
            switch call.label {
            case "ADD ptp": return ProcessOutcome(termination: .exited(1), stdout: Data(#"{"code":7,"msg":"bad"}"#.utf8))
            case "DEL portmap": return ProcessOutcome(termination: .signalled(9))
            default: return ProcessOutcome(termination: .exited(0))
            }
        }
        var thrown: (any Error)?
        do { _ = try makeRuntime(runner).add(try ptpPortmapList(version: "1.0.0"), webAttachment) } catch { thrown = error }
        let failed = try #require(thrown as? CNIAddFailed)
        #expect((failed.cleanupError as? CNIPluginError)?.termination == .signalled(9))
        #expect("\(failed)".contains("the cleanup DEL after the failed ADD also failed"))
        #expect("\(failed)".contains("CNI plugin 'portmap' failed DEL for pod 'web' (netns /run/netns/netlab-web): the plugin was killed by signal 9"))
    }

    @Test func garbageOutputIsQuotedAndNamesThePlugin() throws {
        let garbage = "Usage: ptp <options>\n" + String(repeating: "x", count: 400)
        let runner = FakeRunner { call in call.command == "ADD" ? ok(garbage) : ProcessOutcome(termination: .exited(0)) }
        var thrown: (any Error)?
        do { _ = try makeRuntime(runner).add(try ptpPortmapList(version: "1.0.0"), webAttachment) } catch { thrown = error }
        let pe = try #require((thrown as? CNIAddFailed)?.failure as? CNIPluginError)
        let text = "\(pe)"
        #expect(text.hasPrefix("CNI plugin 'ptp' failed ADD for pod 'web' (netns /run/netns/netlab-web): printed output that is not a valid CNI result (not JSON); output begins: \"Usage: ptp <options>\\nxxx"))
        #expect(text.hasSuffix("\" … (421 bytes in all)"))
        #expect(text.count < 400)
    }

    @Test func resultOfTheWrongFamilyIsRefused() throws {
        let runner = FakeRunner { call in call.command == "ADD" ? ok(ptpResult("0.4.0")) : ProcessOutcome(termination: .exited(0)) }
        #expect { try makeRuntime(runner).add(try ptpPortmapList(version: "1.0.0"), webAttachment) } throws: { e in
            "\(e)".contains("the result is version 0.4.0 but the configuration is 1.0.0")
        }
    }

    @Test func timeoutIsReported() throws {
        let runner = FakeRunner { _ in ProcessOutcome(termination: .timedOut(seconds: 5), stderr: Data("waiting for lock\n".utf8)) }
        #expect { try makeRuntime(runner, timeout: 5).del(try ptpPortmapList(version: "1.0.0"), webAttachment, prevResult: nil) } throws: { e in
            "\(e)" == "CNI plugin 'portmap' failed DEL for pod 'web' (netns /run/netns/netlab-web): the plugin did not finish within 5 s and was stopped\nstderr:\nwaiting for lock"
        }
    }

    @Test func silentNonZeroExitIsReported() throws {
        let runner = FakeRunner { _ in ProcessOutcome(termination: .exited(2), stderr: Data("panic: boom".utf8)) }
        #expect { try makeRuntime(runner).del(try ptpPortmapList(version: "1.0.0"), webAttachment, prevResult: nil) } throws: { e in
            "\(e)" == "CNI plugin 'portmap' failed DEL for pod 'web' (netns /run/netns/netlab-web): printed no CNI error on stdout; the plugin exited with status 2\nstderr:\npanic: boom"
        }
    }

    @Test func realErrorOutputsAreParsed() throws {
        for (file, code, msg, details) in [
            ("err-version.json", 1, "incompatible CNI versions", #"config is "1.1.0", plugin supports ["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0"]"#),
            ("err-decode.json", 6, "error unmarshall network config: invalid character 'o' in literal null (expecting 'u')", nil),
            ("err-netns.json", 999, #"failed to open netns "/run/netns/nonexistent-ns": failed to Statfs "/run/netns/nonexistent-ns": no such file or directory"#, nil),
        ] as [(String, Int, String, String?)] {
            let stdout = try golden(file)
            let runner = FakeRunner { _ in ProcessOutcome(termination: .exited(1), stdout: stdout) }
            var thrown: (any Error)?
            do { try makeRuntime(runner).del(try ptpPortmapList(version: "1.0.0"), webAttachment, prevResult: nil) } catch { thrown = error }
            let pe = try #require(thrown as? CNIPluginError)
            #expect(pe.code == code && pe.msg == msg && pe.details == details, "\(file)")
        }
    }

    @Test func missingBinariesAreReportedBeforeAnythingRuns() throws {
        let runner = FakeRunner(script: chainScript("1.0.0"))
        #expect { try makeRuntime(runner, missing: ["portmap", "host-local"]).add(try ptpPortmapList(version: "1.0.0"), webAttachment) } throws: { e in
            "\(e)" == "CNI plugins 'host-local', 'portmap' not found in /opt/cni/bin (looked for /opt/cni/bin/host-local, /opt/cni/bin/portmap): "
                + "install containernetworking-plugins or set cni.binDir in the topology"
        }
        #expect(runner.calls.isEmpty)
        #expect(makeRuntime(runner, missing: ["ptp"]).missingPlugins(try ptpPortmapList(version: "1.0.0")) == ["ptp"])
    }

    @Test func pluginThatCannotStartIsReported() throws {
        let runner = FakeRunner { _ in throw FakeRunner.StartFailure(description: "exec format error") }
        #expect { try makeRuntime(runner).del(try ptpPortmapList(version: "1.0.0"), webAttachment, prevResult: nil) } throws: { e in
            "\(e)" == "CNI plugin 'portmap' failed DEL for pod 'web' (netns /run/netns/netlab-web): could not be started: exec format error"
        }
    }

    @Test func invalidAttachmentIsRefusedBeforeAnythingRuns() throws {
        let runner = FakeRunner()
        var a = webAttachment; a.ifName = "eth/0"
        #expect(throws: CNIConfigError.self) { try makeRuntime(runner).add(try ptpPortmapList(version: "1.0.0"), a) }
        #expect(runner.calls.isEmpty)
    }

    @Test func versionQuery() throws {
        let runner = FakeRunner { _ in ok(#"{"cniVersion":"1.0.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0"]}"#) }
        let v = try makeRuntime(runner).supportedVersions(pluginType: "ptp", asking: CNIVersion(1, 0, 0))
        #expect(v.last == "1.0.0" && v.count == 6)
        #expect(runner.calls[0].environment == ["CNI_COMMAND": "VERSION", "CNI_PATH": "/opt/cni/bin", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"])
        #expect(runner.calls[0].config == json(#"{"cniVersion":"1.0.0"}"#))
    }

    @Test func binDirTrailingSlashIsDropped() {
        #expect(CNIRuntime(binDir: "/usr/lib/cni/", runner: FakeRunner()).pluginPath("ptp") == "/usr/lib/cni/ptp")
    }

    /// A plugin that hung in ADD would hang again in the rollback's DEL and the teardown's: it is
    /// called once, and its DELs are reported as skipped while the other plugins' DELs run.
    @Test func aPluginThatTimedOutIsNotCalledAgain() throws {
        let runner = FakeRunner { call in
            if call.plugin == "portmap" { return ProcessOutcome(termination: .timedOut(seconds: 1)) }
            return call.command == "ADD" ? ok(ptpResult("1.0.0")) : ProcessOutcome(termination: .exited(0))
        }
        let timedOut = CNITimedOutPlugins()
        let runtime = CNIRuntime(binDir: "/opt/cni/bin", runner: runner, timeout: 1, timedOut: timedOut, pluginExists: { _ in true })
        let list = try ptpPortmapList(version: "1.0.0")
        #expect { try runtime.add(list, webAttachment) } throws: { e in
            "\(e)".contains("(DEL of plugin portmap was skipped: it did not finish within 1 s earlier in this lab")
        }
        #expect(runner.calls.map(\.label) == ["ADD ptp", "ADD portmap", "DEL ptp"])
        // Another runtime of the same lab (the teardown's) skips it too.
        let again = CNIRuntime(binDir: "/opt/cni/bin", runner: runner, timeout: 1, timedOut: timedOut, pluginExists: { _ in true })
        let outcome = try again.del(list, webAttachment, prevResult: nil)
        #expect(outcome.skipped.count == 1 && outcome.skipped[0].hasPrefix("DEL of plugin portmap was skipped"))
        #expect(runner.calls.map(\.label) == ["ADD ptp", "ADD portmap", "DEL ptp", "DEL ptp"])
    }

    /// The spec makes CNI_NETNS optional for DEL only: a pod whose namespace is gone still gets
    /// its DEL, without the variable; ADD and CHECK still need an absolute path.
    @Test func delWithoutANamespaceHasNoCNI_NETNS() throws {
        let runner = FakeRunner()
        var gone = webAttachment
        gone.netnsPath = ""
        try makeRuntime(runner).del(try ptpPortmapList(version: "1.0.0"), gone, prevResult: nil)
        #expect(runner.calls.count == 2)
        #expect(runner.calls.allSatisfy { $0.environment["CNI_NETNS"] == nil && $0.environment["CNI_COMMAND"] == "DEL" })
        #expect(throws: CNIConfigError.self) { try makeRuntime(runner).add(try ptpPortmapList(version: "1.0.0"), gone) }
    }
}
