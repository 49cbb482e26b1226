import Testing
@testable import NetlabKit

@Suite struct APISelectorTests {
    typealias R = LabelSelector.Requirement

    static let valid: [(String, String)] = [
        ("", ""),
        ("a=b", "a=b"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        (" a = b ", "a=b"),
        ("a in (x,y)", "a in (x,y)"),
        ("a in (y,x,x)", "a in (x,y)"),
        ("a notin (x)", "a notin (x)"),
        ("a", "a"),
        ("!a", "!a"),
        ("b=c,a", "a,b=c"),
        ("x in (foo,,baz)", "x in (,baz,foo)"),
        ("a in ()", "a in ()"),
        ("a=", "a="),
        ("k>5", "k>5"),
        ("k<5", "k<5"),
        ("example.com/app=web", "example.com/app=web"),
        ("in in (in)", "in in (in)"),
        ("app.kubernetes.io/name notin (a,b),!canary", "app.kubernetes.io/name notin (a,b),!canary"),
    ]

    @Test(arguments: valid) func parsesWhatUpstreamParses(_ input: String, _ canonical: String) throws {
        #expect(try LabelSelector.parse(input).description == canonical)
    }

    static let invalid: [(String, String)] = [
        ("a in", "unable to parse requirement: found '' expected: '('"),
        ("a in (x", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a=b,", "found '', expected: identifier after ','"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a=(b)", "unable to parse requirement: found '(', expected: identifier"),
        ("a>b", "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"),
        ("-a=b", "unable to parse requirement: <nil>: Invalid value: \"-a\": " + LabelSelector.nameMessage),
        ("a=-b", "unable to parse requirement: values[0][a]: Invalid value: \"-b\": " + LabelSelector.valueMessage),
        ("Bad_Prefix/a=b", "unable to parse requirement: <nil>: Invalid value: \"Bad_Prefix/a\": prefix part " + APIValidation.subdomainMessage),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
    ]

    @Test(arguments: invalid) func refusesWithUpstreamsMessage(_ input: String, _ message: String) {
        #expect(throws: LabelSelector.ParseError(message: message)) { try LabelSelector.parse(input) }
    }

    static let matching: [(String, [String: String], Bool)] = [
        ("", [:], true),
        ("app=web", ["app": "web"], true),
        ("app=web", ["app": "db"], false),
        ("app=web", [:], false),
        ("app!=web", [:], true),
        ("app!=web", ["app": "web"], false),
        ("app in (web,db)", ["app": "db"], true),
        ("app notin (web)", [:], true),
        ("app notin (web)", ["app": "web"], false),
        ("app", ["app": ""], true),
        ("!app", ["app": ""], false),
        ("!app", ["x": "y"], true),
        ("app=web,tier=front", ["app": "web"], false),
        ("app=web,tier=front", ["app": "web", "tier": "front"], true),
        ("n>3", ["n": "4"], true),
        ("n>3", ["n": "x"], false),
        ("n<3", ["n": "2"], true),
    ]

    @Test(arguments: matching) func matchesLabels(_ selector: String, _ labels: [String: String], _ expected: Bool) throws {
        #expect(try LabelSelector.parse(selector).matches(labels) == expected)
    }

    @Test func fieldSelectorsParseTermsOperatorsAndEscapes() throws {
        let f = try FieldSelector.parse("metadata.name=x,spec.nodeName!=n1,spec.type==ClusterIP")
        #expect(f.terms == [.init(field: "metadata.name", value: "x", negated: false),
                            .init(field: "spec.nodeName", value: "n1", negated: true),
                            .init(field: "spec.type", value: "ClusterIP", negated: false)])
        #expect(try FieldSelector.parse("a=b!=c").terms == [.init(field: "a", value: "b!=c", negated: false)])
        #expect(try FieldSelector.parse("a=b\\,c\\=d").terms == [.init(field: "a", value: "b,c=d", negated: false)])
        #expect(try FieldSelector.parse("spec.nodeName=").terms == [.init(field: "spec.nodeName", value: "", negated: false)])
        #expect(try FieldSelector.parse("").isEmpty)
        #expect(throws: FieldSelector.ParseError(message: "invalid selector: 'a=b,foo'; can't understand 'foo'")) {
            try FieldSelector.parse("a=b,foo")
        }
    }

    @Test func fieldValuesComeFromTheResourcesLabels() {
        let pod: JSONValue = ["metadata": ["name": "p", "namespace": "default"], "spec": ["hostNetwork": true]]
        #expect(APIResources.pods.fieldValue("spec.nodeName", of: pod) == "")
        #expect(APIResources.pods.fieldValue("spec.hostNetwork", of: pod) == "true")
        #expect(APIResources.pods.fieldValue("metadata.namespace", of: pod) == "default")
        #expect(APIResources.nodes.fieldValue("spec.unschedulable", of: ["metadata": [:]]) == "false")
        #expect(APIResources.nodes.fieldValue("metadata.namespace", of: ["metadata": [:]]) == nil)
        #expect(APIResources.services.fieldValue("spec.foo", of: pod) == nil)
        #expect(APIResources.leases.fieldValue("metadata.namespace", of: pod) == "default")
    }
}
