/// The version of lstmd, lstm-train and lstm-client, which are released together: what
/// `--version` prints and what `status` reports.
public enum LSTMDVersion {
    public static let current = "0.1.0"
}
