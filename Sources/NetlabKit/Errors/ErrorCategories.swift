// The exit category of each of the core's error types, in one place (the types live in files
// that do their own job; ExitCategoryTests lists them all).

extension TopologyError: NetlabError { public var exitCategory: ExitCategory { .usage } }
/// A member/interface reference that does not parse: bad input (references are checked when the topology is read).
extension InterfaceRef.ParseError: NetlabError { public var exitCategory: ExitCategory { .usage } }
extension CheckSelection.NoMatch: NetlabError { public var exitCategory: ExitCategory { .usage } }
/// A check reference that names nothing in the lab: the topology is wrong.
extension LabFacts.Unresolved: NetlabError { public var exitCategory: ExitCategory { .usage } }
/// `--proxy-mode` on a topology that runs no netlab-proxy: the command line asks the impossible.
extension Topology.NoReferenceProxy: NetlabError { public var exitCategory: ExitCategory { .usage } }
/// A drop fault whose pattern nftables cannot say: the topology asks for what netlab does not do.
extension FaultRules.Untranslatable: NetlabError { public var exitCategory: ExitCategory { .usage } }
extension PcapError: NetlabError { public var exitCategory: ExitCategory { .failure } }
/// The plugin binary is not installed: the machine lacks it.
extension CNIPluginNotFound: NetlabError { public var exitCategory: ExitCategory { .environment } }
extension CNIConfigError: NetlabError { public var exitCategory: ExitCategory { .failure } }
extension CNIResultError: NetlabError { public var exitCategory: ExitCategory { .failure } }
extension CNIPluginError: NetlabError { public var exitCategory: ExitCategory { .failure } }
extension CNIAddFailed: NetlabError { public var exitCategory: ExitCategory { .failure } }
