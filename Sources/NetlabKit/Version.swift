/// netlab's version, printed by `netlab --version` and kept in every lab's state.
public enum NetlabVersion {
    public static let current = "0.6.0"
}
