import Testing
@testable import NetlabKit

/// Namespace names must name one (lab, member) each: two labs never share a namespace.
@Suite struct LabNamesTests {
    @Test func labAMemberBCAndLabABMemberCAreTwoNamespaces() {
        // With `netlab-<lab>-<member>` both were netlab-a-b-c.
        #expect(LabNames.namespace(lab: "a", member: "b-c") == "netlab-a.b-c")
        #expect(LabNames.namespace(lab: "a-b", member: "c") == "netlab-a-b.c")
        #expect(LabNames.namespace(lab: "a", member: "b-c") != LabNames.namespace(lab: "a-b", member: "c"))
    }

    @Test(arguments: [("a", "b-c"), ("a-b", "c"), ("ci-1", "pod1"), ("x", "x"), ("default", "vpc")])
    func aNamespaceNameGivesBackItsLabAndMember(lab: String, member: String) {
        let parsed = LabNames.parseNamespace(LabNames.namespace(lab: lab, member: member))
        #expect(parsed?.lab == lab && parsed?.member == member)
    }

    @Test func namesThatAreNoLabsAreNotParsedAsOne() {
        #expect(LabNames.parseNamespace("netlab-a-b-c") == nil, "the old scheme names no lab")
        #expect(LabNames.parseNamespace("cni-1234") == nil)
        #expect(LabNames.parseNamespace("netlab-.x") == nil)
        #expect(LabNames.parseNamespace("netlab-a.") == nil)
        // doctor's scratch: looks like netlab's, yet is no lab's.
        let doctor = LabNames.namespace(lab: LabNames.doctorScratch(pid: 4711), member: "a")
        #expect(doctor == "netlab-doctor.4711.a")
        #expect(LabNames.looksLikeNetlab(doctor) && LabNames.parseNamespace(doctor) == nil)
        #expect(LabNames.validateLab(LabNames.doctorScratch(pid: 4711)) != nil, "no lab can be called like doctor's scratch")
        #expect(LabNames.doctorScratchPID("doctor.4711") == 4711)
        #expect(LabNames.doctorScratchPID("doctor") == nil && LabNames.doctorScratchPID("doctor.x1") == nil)
    }

    @Test func theCNIContainerIDIsThePodsNamespaceName() {
        #expect(LabNames.containerID(lab: "a", pod: "b-c") != LabNames.containerID(lab: "a-b", pod: "c"))
        #expect(LabNames.containerID(lab: "ci-1", pod: "pod1") == "netlab-ci-1.pod1")
    }
}
