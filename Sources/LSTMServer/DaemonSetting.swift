import WireProtocol

/// One setting of the daemon, declared once: its key (the TOML key, and the command-line option
/// without `--`), its type, its help, its check, and the `DaemonConfiguration` property it sets,
/// whose initial value is the default. The config file, the command line, `lstmd --help` and the
/// validation all come from `DaemonSetting.all`.
public struct DaemonSetting {
    /// What a value must be.
    public enum Kind: CustomStringConvertible {
        case text, integer, seconds
        case choice([String])
        /// On or off: `--key` alone (or `--key=true|false`) on the command line, a boolean in the file.
        case flag

        public var description: String {
            switch self {
            case .text: "a string"
            case .integer: "an integer"
            case .seconds: "a number of seconds"
            case let .choice(names): "one of " + names.map { "\"\($0)\"" }.joined(separator: ", ")
            case .flag: "true or false"
            }
        }
    }

    /// A value as a file or the command line gives it.
    public enum Value {
        case text(String), integer(Int), number(Double), boolean(Bool)
    }

    public let key: String
    public let kind: Kind
    /// The value's name in the help, e.g. `n` in `--max-batch <n>`.
    public let valueName: String
    public let help: String
    private let set: (inout DaemonConfiguration, Value) -> Bool
    private let show: (DaemonConfiguration) -> String
    private let check: (DaemonConfiguration) -> String?

    /// Sets the setting from a value of the config file at `path`; throws when the value is not of
    /// the setting's kind, naming the key and the kind expected.
    public func assign(_ value: Value, to configuration: inout DaemonConfiguration, from path: String) throws(ConfigurationError) {
        guard set(&configuration, value) else {
            let found = switch value {
            case let .text(text): "string \"\(text)\""
            case let .integer(number): "integer \(number)"
            case let .number(number): "number \(number)"
            case let .boolean(flag): "boolean \(flag)"
            }
            throw .wrongType(path: path, key: key, expected: kind.description, found: found)
        }
    }

    /// Sets the setting from command-line text (`--key text`).
    public func assign(text: String, to configuration: inout DaemonConfiguration) throws(ConfigurationError) {
        let value: Value? = switch kind {
        case .text, .choice: .text(text)
        case .integer: Int(text).map(Value.integer)
        case .seconds: Double(text).map(Value.number)
        case .flag: Bool(text).map(Value.boolean)
        }
        guard let value, set(&configuration, value) else {
            throw .invalidValue(key: "--" + key, message: "must be \(kind), got '\(text)'")
        }
    }

    /// The setting's value in `configuration`, as the help and the config file show it.
    public func value(in configuration: DaemonConfiguration) -> String { show(configuration) }

    /// What is wrong with the setting's value in `configuration`, or nil.
    func problem(_ configuration: DaemonConfiguration) -> String? { check(configuration) }

    /// How the command line gives it: `--key <value>`, or `--key` for a flag.
    public var usage: String {
        if case .flag = kind { return "--" + key }
        return "--\(key) <\(valueName)>"
    }

    /// The setting with this key.
    public static func named(_ key: String) -> DaemonSetting? { all.first { $0.key == key } }

    /// Applies command-line settings, `--key value` or `--key=value`, in order.
    public static func apply(arguments: [String], to configuration: inout DaemonConfiguration) throws(ConfigurationError) {
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            guard argument.hasPrefix("--") else { throw .unknownOption(argument) }
            let option = argument.dropFirst(2)
            let key = String(option.prefix { $0 != "=" })
            guard let setting = named(key) else { throw .unknownOption("--" + key) }
            let text: String
            if option.count > key.count {
                text = String(option.dropFirst(key.count + 1))
            } else if case .flag = setting.kind {
                text = "true"
            } else if let next = remaining.popFirst() {
                text = next
            } else {
                throw .missingValue(option: "--" + key)
            }
            try setting.assign(text: text, to: &configuration)
        }
    }

    /// The settings as `lstmd --help` lists them, with their defaults.
    public static var helpText: String {
        let defaults = DaemonConfiguration()
        return all.map { setting in
            "\(setting.usage) (default: \(setting.value(in: defaults)))\n    \(setting.help)"
        }.joined(separator: "\n")
    }

    // MARK: Declarations

    /// Every setting, in the order of `lstmd --help` and Systemd/lstmd.toml.
    public static var all: [DaemonSetting] {
        [
            optionalText("model", \.model, none: nil, absent: "the embedded model", valueName: "path",
                         help: "Model file (safetensors). Default: the model embedded in lstmd."),
            choice("publish", \.publish, valueName: "mode",
                   help: "Publish a prediction after every row ('partial') or only the final one ('final')."),
            endpoint("ingest", \.ingest, help: "PULL endpoint receiving rows."),
            endpoint("predictions", \.predictions, help: "PUB endpoint publishing predictions."),
            endpoint("control", \.control, help: "REP endpoint for control requests."),
            optionalText("results", \.results, none: "none", absent: "none", valueName: "endpoint",
                         help: "ROUTER endpoint of the lossless result path, or 'none'.",
                         check: { endpoint, _ in endpointProblem(endpoint, key: "results") }),
            optionalText("metrics", \.metrics, none: nil, absent: "off", valueName: "host:port",
                         help: "Serve Prometheus metrics over HTTP on host:port, e.g. 127.0.0.1:9464.",
                         check: { address, _ in
                             DaemonConfiguration.parseHostPort(address) == nil ? "'\(address)' is not host:port (e.g. 127.0.0.1:9464)" : nil }),
            optionalText("model-dir", \.modelDirectory, none: nil, absent: "the directory of --model", valueName: "path",
                         help: "The only directory 'reload' loads model files from; relative names are resolved there."),
            optionalText("curve-secret-key", \.curveSecretKey, none: nil, absent: "plain ZeroMQ", valueName: "path",
                         help: "The daemon's CURVE secret key file (Z85; make one with 'lstm-client keygen'): CURVE on every socket. Under systemd's LoadCredential= it is /run/credentials/lstmd.service/lstmd.key (lstmd@NAME.service/ for an instance), i.e. $CREDENTIALS_DIRECTORY/lstmd.key, which a shell expands but a TOML file does not: write the literal path there.",
                         check: { _, configuration in
                             configuration.curveAuthorizedKeys == nil && configuration.curveAdminKeys == nil
                                 ? "needs curve-authorized-keys or curve-admin-keys: the keys of the clients to admit" : nil }),
            curveKeyList("curve-authorized-keys",
                         \.curveAuthorizedKeys, help: "Public keys of the clients to admit: a file of Z85 keys, one per line, or a directory of *.pub files; read again on SIGHUP."),
            curveKeyList("curve-admin-keys", \.curveAdminKeys,
                         help: "Public keys admitted that may also 'reload' and 'drop' (others get 'forbidden'); same forms, read again on SIGHUP."),
            flag("insecure", \.insecure, help: "Serve plain ZeroMQ on tcp endpoints beyond loopback (refused by default without CURVE)."),
            integer("max-batch", \.maxBatch, 1...65_536, valueName: "n", help: "Most streams advanced in one batched step."),
            integer("batch-delay-us", \.batchDelayMicroseconds, 0...1_000_000, valueName: "us",
                    help: "Microseconds to wait for more rows before a step that is not full; 0 steps at once, for the lowest latency."),
            integer("busy-poll-us", \.busyPollMicroseconds, 0...1_000_000, valueName: "us",
                    help: "Microseconds to keep polling without sleeping after a message arrived: lower latency for a lone stream, for at most that much busy CPU per message; 0 always sleeps."),
            integer("max-streams", \.maxStreams, 1...Int.max, valueName: "n",
                    help: "Most live streams; a new stream beyond it is refused with a 'capacity' error."),
            seconds("idle-timeout", \.idleTimeoutSeconds, zero: "never",
                    help: "Seconds without a row before a stream is evicted with an 'evicted' error; 0 never evicts."),
            integer("pub-hwm", \.publishHighWaterMark, 0...Int(Int32.max), valueName: "n",
                    help: "Predictions queued per subscriber before PUB drops them; 0 is unlimited."),
            integer("max-subscribers", \.maxSubscribers, 1...1_000_000, valueName: "n",
                    help: "Most connections to the predictions endpoint; one more is refused at its handshake and gets nothing (its client must connect again). PUB holds at most max-subscribers × pub-hwm predictions (stream-protocol.md §14)."),
            integer("results-hwm", \.resultsHighWaterMark, 1...Int(Int32.max), valueName: "n",
                    help: "Messages queued per client each way on the results path before backpressure."),
            integer("max-results-peers", \.maxResultsPeers, 1...1_000_000, valueName: "n",
                    help: "Most connections to the results endpoint; one more is refused at its handshake and gets nothing (its client must connect again). The results path holds at most max-results-peers × (8 MiB + results-hwm messages each way) (stream-protocol.md §14)."),
            integer("max-message-size", \.maxMessageSize, 64...Int.max, valueName: "bytes",
                    help: "Transport limit on an ingest message, in bytes: libzmq disconnects a peer that sends a larger one; smaller malformed messages get their own error."),
            optionalText("state-dir", \.stateDirectory, none: nil, absent: "none", valueName: "path",
                         help: "Directory for stream snapshots kept across restarts."),
            seconds("snapshot-interval", \.snapshotIntervalSeconds, zero: "only at stop",
                    help: "Seconds between snapshots of live streams into --state-dir while serving; 0 only at a graceful stop."),
            seconds("drain-timeout", \.drainTimeoutSeconds, zero: nil,
                    help: "Seconds a graceful stop may take to drain queued rows and write the snapshot."),
            text("log-level", \.logLevel, valueName: "level",
                 help: "Log level: trace, debug, info, notice, warning, error, critical.",
                 check: { ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains($0)
                     ? nil : "must be one of trace, debug, info, notice, warning, error, critical; got \($0)" }),
        ]
    }

    // MARK: Kinds of declaration

    private static func text(_ key: String, _ property: WritableKeyPath<DaemonConfiguration, String>, valueName: String,
                             help: String, check: @escaping (String) -> String? = { _ in nil }) -> DaemonSetting {
        DaemonSetting(
            key: key, kind: .text, valueName: valueName, help: help,
            set: { configuration, value in
                guard case let .text(text) = value else { return false }
                configuration[keyPath: property] = text
                return true
            },
            show: { $0[keyPath: property] }, check: { check($0[keyPath: property]) })
    }

    /// One of the raw values of `Choice` (e.g. `partial` or `final`).
    private static func choice<Choice: RawRepresentable & CaseIterable>(
        _ key: String, _ property: WritableKeyPath<DaemonConfiguration, Choice>, valueName: String, help: String
    ) -> DaemonSetting where Choice.RawValue == String {
        DaemonSetting(
            key: key, kind: .choice(Choice.allCases.map(\.rawValue)), valueName: valueName, help: help,
            set: { configuration, value in
                guard case let .text(text) = value, let choice = Choice(rawValue: text) else { return false }
                configuration[keyPath: property] = choice
                return true
            },
            show: { $0[keyPath: property].rawValue }, check: { _ in nil })
    }

    private static func endpoint(_ key: String, _ property: WritableKeyPath<DaemonConfiguration, String>,
                                 help: String) -> DaemonSetting {
        text(key, property, valueName: "endpoint", help: help, check: { endpointProblem($0, key: key) })
    }

    /// A text that may be absent: the value `none` (when there is one) sets it absent; the help
    /// shows an absent value as `absent`.
    private static func optionalText(_ key: String, _ property: WritableKeyPath<DaemonConfiguration, String?>,
                                     none: String?, absent: String, valueName: String, help: String,
                                     check: @escaping (String, DaemonConfiguration) -> String? = { _, _ in nil }) -> DaemonSetting {
        DaemonSetting(
            key: key, kind: .text, valueName: valueName, help: help,
            set: { configuration, value in
                guard case let .text(text) = value else { return false }
                configuration[keyPath: property] = text == none ? nil : text
                return true
            },
            show: { $0[keyPath: property] ?? absent },
            check: { configuration in configuration[keyPath: property].flatMap { check($0, configuration) } })
    }

    /// A list of CURVE public keys, which only a daemon with its own secret key can use.
    private static func curveKeyList(_ key: String, _ property: WritableKeyPath<DaemonConfiguration, String?>,
                                     help: String) -> DaemonSetting {
        optionalText(key, property, none: nil, absent: "none", valueName: "path", help: help, check: { _, configuration in
            configuration.curveSecretKey == nil ? "needs curve-secret-key (the daemon's own key)" : nil })
    }

    private static func flag(_ key: String, _ property: WritableKeyPath<DaemonConfiguration, Bool>, help: String) -> DaemonSetting {
        DaemonSetting(
            key: key, kind: .flag, valueName: "", help: help,
            set: { configuration, value in
                guard case let .boolean(flag) = value else { return false }
                configuration[keyPath: property] = flag
                return true
            },
            show: { String($0[keyPath: property]) }, check: { _ in nil })
    }

    private static func integer(_ key: String, _ property: WritableKeyPath<DaemonConfiguration, Int>,
                                _ range: ClosedRange<Int>, valueName: String, help: String) -> DaemonSetting {
        DaemonSetting(
            key: key, kind: .integer, valueName: valueName, help: help,
            set: { configuration, value in
                guard case let .integer(number) = value else { return false }
                configuration[keyPath: property] = number
                return true
            },
            show: { String($0[keyPath: property]) },
            check: { configuration in
                let value = configuration[keyPath: property]
                if range.contains(value) { return nil }
                return range.upperBound == Int.max
                    ? "must be at least \(range.lowerBound), got \(value)"
                    : "must be between \(range.lowerBound) and \(range.upperBound), got \(value)"
            })
    }

    /// The longest duration a setting takes: a year, far below where seconds stop fitting the
    /// loop's 64-bit nanosecond clock (about 584 years).
    static let maxSeconds: Double = 365 * 24 * 3600

    /// A number of seconds: an integer or a floating-point number, finite, not negative, at most
    /// `maxSeconds`; 0 means `zero` (nil: 0 is not allowed).
    private static func seconds(_ key: String, _ property: WritableKeyPath<DaemonConfiguration, Double>,
                                zero: String?, help: String) -> DaemonSetting {
        DaemonSetting(
            key: key, kind: .seconds, valueName: "seconds", help: help,
            set: { configuration, value in
                switch value {
                case let .integer(number): configuration[keyPath: property] = Double(number)
                case let .number(number): configuration[keyPath: property] = number
                case .text, .boolean: return false
                }
                return true
            },
            show: { configuration in
                let value = configuration[keyPath: property]
                return value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
            },
            check: { configuration in
                let value = configuration[keyPath: property]
                if value.isFinite && value <= maxSeconds && (value > 0 || (value == 0 && zero != nil)) { return nil }
                let limit = "at most \(Int(maxSeconds)) (a year)"
                return zero.map { "must be 0 (\($0)) or a positive number of seconds \(limit), got \(value)" }
                    ?? "must be a positive number of seconds \(limit), got \(value)"
            })
    }

    /// Why `endpoint` is not one lstmd can bind, or nil: `tcp://HOST:PORT` (PORT 1-65535, or `*` for
    /// any free port), `ipc://PATH` (at most 107 bytes, what a Unix socket address holds) or
    /// `inproc://NAME`. libzmq itself takes some malformed ones silently (port 99999 binds a random port).
    static func endpointProblem(_ endpoint: String, key: String) -> String? {
        let example = "e.g. tcp://127.0.0.1:5555, ipc:///run/lstmd/\(key)"
        guard let separator = endpoint.range(of: "://") else { return "'\(endpoint)' is not a ZeroMQ endpoint (\(example))" }
        let transport = endpoint[..<separator.lowerBound], address = endpoint[separator.upperBound...]
        switch transport {
        case "tcp":
            guard let colon = address.lastIndex(of: ":"), colon != address.startIndex else {
                return "'\(endpoint)' has no host:port (\(example))"
            }
            let port = address[address.index(after: colon)...]
            if port == "*" { return nil }
            guard let number = Int(port), (1...65_535).contains(number) else {
                return "'\(endpoint)' has port '\(port)'; a port is 1 to 65535, or * for any free one"
            }
            return nil
        case "ipc":
            guard !address.isEmpty else { return "'\(endpoint)' has no path" }
            return address.utf8.count <= 107 ? nil
                : "'\(endpoint)' has a path of \(address.utf8.count) bytes; a Unix socket path holds at most 107"
        case "inproc":
            return address.isEmpty ? "'\(endpoint)' has no name" : nil
        default:
            return "'\(endpoint)' uses transport '\(transport)'; lstmd binds tcp, ipc or inproc (\(example))"
        }
    }
}
