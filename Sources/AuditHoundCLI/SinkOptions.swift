import AuditPipeline
import AuditRules
import Foundation

/// Where alerts go: the `--output` flags and their settings, and the `--config` file. Shared by the
/// commands that emit alerts (`replay`, `tail`).
///
/// Flags:
///
///     --output SPEC            stdout | file:PATH | webhook:URL (repeatable; default: stdout). Settings
///                              of that output may follow after ';': 'webhook:URL;format=slack;min-priority=warning'
///     --config FILE            YAML file declaring outputs and settings (below)
///     --format text|json       stdout format
///     --output-max-size S      rotate file outputs at S bytes;  --output-keep N  rotated files kept (5)
///     --webhook-format F       falco | batch | slack | alertmanager (default falco)
///     --webhook-header 'Name: value'   repeatable; ${VAR} is replaced by the environment variable VAR,
///                              a value '@/path' by the content of that file
///     --webhook-timeout D      (10s)   --webhook-batch-size N (100)   --webhook-batch-interval D (1s)
///     --webhook-retry-initial D (500ms)   --webhook-retry-max D (60s)   --webhook-queue-size N (10000)
///     --spool DIR              disk spool: alerts survive an outage of the receiver and a restart
///     --spool-max-size S       (1GiB)   --when-full drop-oldest|block (drop-oldest)
///     --dead-letter FILE       refused alerts (default DIR/dead-letter.jsonl with --spool)
///     --flush-timeout D        at exit, wait up to D for delivery (30s); the rest stays in the spool
///     --dedupe-window D        suppress repeats (same rule and output fields) within D of event time
///     --rate-limit N/min       at most N alerts per rule per minute (also N/s, N/h) of event time
///
/// The config file (read with `YAMLReader`) has the flags' names with `_` for `-` at the top level,
/// and a list of outputs with their own settings:
///
/// ```yaml
/// spool: /var/lib/audithound/spool
/// spool_max_size: 2GiB
/// dedupe_window: 5m              # default for every output
/// webhook_headers:               # default headers of every webhook
///   X-Cluster: prod-eu
/// outputs:
///   - type: stdout
///     format: text
///   - type: file
///     path: /var/log/audithound/alerts.jsonl
///     max_size: 100MiB
///     keep: 5
///   - type: webhook
///     name: sidekick             # spool directory name (default: a hash of format and URL)
///     url: http://falcosidekick:2801/
///     format: falco
///     min_priority: warning
///     headers:
///       Authorization: Bearer ${SIDEKICK_TOKEN}
///     rate_limit: 30/min
/// ```
///
/// Output keys: `type` (stdout, file, webhook), `name`, `format`, `min_priority`, `dedupe_window`,
/// `rate_limit`; file: `path`, `max_size`, `keep`; webhook: `url`, `headers`, `timeout`, `batch_size`,
/// `batch_interval`, `retry_initial`, `retry_max`, `queue_size`.
///
/// Precedence: an output's own settings (in the file, or after ';' in `--output`) win over general ones;
/// among general settings, flags win over the file. `--output` flags replace the file's `outputs`.
struct SinkOptions {
    /// Options taking a value, for `Arguments`.
    static let valueOptions: Set<String> = [
        "output", "config", "output-max-size", "output-keep", "webhook-format", "webhook-header", "webhook-timeout",
        "webhook-batch-size", "webhook-batch-interval", "webhook-retry-initial", "webhook-retry-max",
        "webhook-queue-size", "spool", "spool-max-size", "when-full", "dead-letter", "flush-timeout",
        "dedupe-window", "rate-limit",
    ]

    /// The options' help, for the commands' `--help`.
    static let help = """
    Alert outputs (several may run side by side; see README "Alert outputs"):
      --output SPEC         stdout | file:PATH | webhook:URL (repeatable; default stdout). Per-output
                            settings after ';': 'webhook:URL;format=slack;min-priority=warning'.
      --config FILE         YAML file declaring outputs and these settings (flags win).
      --output-max-size S   Rotate file outputs at S bytes;  --output-keep N  rotated files kept (5).
      --webhook-format F    falco (one alert per POST) | batch (JSON array) | slack | alertmanager.
      --webhook-header H    'Name: value' (repeatable); ${VAR} from the environment, '@/path' from a file.
      --webhook-timeout D   Per request (10s). --webhook-batch-size N (100), --webhook-batch-interval D (1s).
      --webhook-retry-initial D, --webhook-retry-max D   Backoff on errors, 5xx, 429 (500ms, 60s).
      --webhook-queue-size N   Alerts held in memory without a spool (10000).
      --spool DIR           Disk spool: nothing is lost while a receiver is down, even across restarts.
      --spool-max-size S    (1GiB). --when-full drop-oldest|block (drop-oldest; drops are reported).
      --dead-letter FILE    Alerts a receiver refused (4xx); default DIR/dead-letter.jsonl with --spool.
      --flush-timeout D     At exit, wait up to D for delivery (30s); the rest stays in the spool.
      --dedupe-window D     Suppress repeats of a rule with the same output fields within D (event time).
      --rate-limit N/min    At most N alerts per rule per minute (also N/s, N/h) of event time.

    """

    /// Settings an output may have; `nil`: not set at this level.
    struct Settings {
        var name: String?
        var format: String?
        var minPriority: Priority?
        var dedupeWindow: Double?
        var rateLimit: (count: Int, period: Int64)?
        var maxSize: Int?
        var keep: Int?
        var headers: [(name: String, value: String)] = []
        var timeout: Double?
        var batchSize: Int?
        var batchInterval: Double?
        var retryInitial: Double?
        var retryMax: Double?
        var queueSize: Int?

        /// These settings, completed by `lower` (headers: by name, these win).
        func over(_ lower: Settings) -> Settings {
            var s = self
            s.name = name ?? lower.name
            s.format = format ?? lower.format
            s.minPriority = minPriority ?? lower.minPriority
            s.dedupeWindow = dedupeWindow ?? lower.dedupeWindow
            s.rateLimit = rateLimit ?? lower.rateLimit
            s.maxSize = maxSize ?? lower.maxSize
            s.keep = keep ?? lower.keep
            s.timeout = timeout ?? lower.timeout
            s.batchSize = batchSize ?? lower.batchSize
            s.batchInterval = batchInterval ?? lower.batchInterval
            s.retryInitial = retryInitial ?? lower.retryInitial
            s.retryMax = retryMax ?? lower.retryMax
            s.queueSize = queueSize ?? lower.queueSize
            let mine = Set(headers.map { $0.name.lowercased() })
            s.headers = lower.headers.filter { !mine.contains($0.name.lowercased()) } + headers
            return s
        }
    }

    /// General settings (flags, or the file's top level).
    struct General {
        var defaults = Settings()
        var stdoutFormat: String?
        var webhookFormat: String?
        var spool: String?
        var spoolMaxSize: Int?
        var whenFull: QueueFullPolicy?
        var deadLetter: String?
        var flushTimeout: Double?

        func over(_ lower: General) -> General {
            var g = self
            g.defaults = defaults.over(lower.defaults)
            g.stdoutFormat = stdoutFormat ?? lower.stdoutFormat
            g.webhookFormat = webhookFormat ?? lower.webhookFormat
            g.spool = spool ?? lower.spool
            g.spoolMaxSize = spoolMaxSize ?? lower.spoolMaxSize
            g.whenFull = whenFull ?? lower.whenFull
            g.deadLetter = deadLetter ?? lower.deadLetter
            g.flushTimeout = flushTimeout ?? lower.flushTimeout
            return g
        }
    }

    enum Target {
        case stdout
        case file(String)
        case webhook(String)
    }

    struct Output {
        var target: Target
        var settings: Settings
        /// Where it was declared, for messages (`--output` or `file:line:column`).
        var origin: String
    }

    var flags = General()
    var flagOutputs: [Output] = []
    var configPath: String?

    /// Reads the flags (the config file is read by ``build(hostname:log:)``).
    init(_ a: Arguments) throws(UsageError) {
        self.configPath = a.value("config")
        if let f = a.value("format") { self.flags.stdoutFormat = f }
        for (name, values) in a.values where Self.valueOptions.contains(name) && name != "output" && name != "config" {
            for value in values {
                if let problem = Self.applyGeneral(name, value, to: &self.flags) {
                    throw UsageError(message: "--\(name): \(problem)")
                }
            }
        }
        for spec in a.all("output") {
            do {
                self.flagOutputs.append(try Self.parseOutputFlag(spec))
            } catch {
                throw UsageError(message: "--output: \(error.message)")
            }
        }
    }

    /// `KIND[:TARGET][;key=value...]`.
    static func parseOutputFlag(_ spec: String) throws(UsageError) -> Output {
        var parts = spec.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        let head = parts.removeFirst()
        let target: Target
        if head == "stdout" || head == "-" {
            target = .stdout
        } else if head.hasPrefix("file:"), head.count > 5 {
            target = .file(String(head.dropFirst(5)))
        } else if head.hasPrefix("webhook:"), head.count > 8 {
            target = .webhook(String(head.dropFirst(8)))
        } else if head.hasPrefix("http://") || head.hasPrefix("https://") {
            target = .webhook(head)
        } else {
            throw UsageError(message: "'\(Self.safe(head))' is not stdout, file:PATH or webhook:URL")
        }
        var settings = Settings()
        for part in parts where !part.isEmpty {
            guard let eq = part.firstIndex(of: "=") else { throw UsageError(message: "expected key=value after ';', not '\(Self.safe(part))'") }
            let key = String(part[..<eq]), value = String(part[part.index(after: eq)...])
            if let problem = Self.applyOutput(key, value, to: &settings) { throw UsageError(message: "\(key): \(problem)") }
        }
        return Output(target: target, settings: settings, origin: "--output")
    }

    /// A URL or spec for messages: without anything that could be a token.
    static func safe(_ text: String) -> String {
        if let url = URL(string: text.hasPrefix("webhook:") ? String(text.dropFirst(8)) : text), url.host != nil {
            return (text.hasPrefix("webhook:") ? "webhook:" : "") + redactedURL(url)
        }
        return text.count > 40 ? String(text.prefix(20)) + "…" : text
    }

    static func redactedURL(_ url: URL) -> String {
        var s = (url.scheme ?? "") + "://" + (url.host ?? "")
        if let port = url.port { s += ":\(port)" }
        return s + (url.path.isEmpty || url.path == "/" ? "/" : "/…")
    }

    // MARK: Values

    /// `500ms`, `5s`, `2.5s`, `5m`, `1h`, or plain seconds.
    static func duration(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("min", 60), ("h", 3600)]
        for (suffix, factor) in units.sorted(by: { $0.0.count > $1.0.count }) where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count)), v >= 0, v.isFinite else { return nil }
            return v * factor
        }
        guard let v = Double(t), v >= 0, v.isFinite else { return nil }
        return v
    }

    /// `N/min` (also `N/s`, `N/sec`, `N/m`, `N/h`, `N/hour`; plain `N` is per minute).
    static func rate(_ text: String) -> (count: Int, period: Int64)? {
        let parts = text.lowercased().split(separator: "/", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = parts.first, let n = Int(first), n > 0 else { return nil }
        let period: Int64
        switch parts.count == 2 ? parts[1] : "min" {
        case "s", "sec", "second": period = 1_000_000_000
        case "m", "min", "minute": period = 60_000_000_000
        case "h", "hour": period = 3_600_000_000_000
        default: return nil
        }
        return (n, period)
    }

    /// `Name: value` → the pair (value unexpanded).
    static func header(_ text: String) -> (name: String, value: String)? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        let name = text[..<colon].trimmingCharacters(in: .whitespaces)
        let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        return (name, value)
    }

    /// Sets output setting `key` (hyphenated) from `value`; returns a problem (never showing the value of
    /// a header).
    static func applyOutput(_ key: String, _ value: String, to s: inout Settings) -> String? {
        func number(_ range: ClosedRange<Int>) -> Int? { Int(value).flatMap { range.contains($0) ? $0 : nil } }
        switch key {
        case "name":
            guard !value.isEmpty, value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }),
                  !value.hasPrefix(".") else { return "'\(value)' is not a name (letters, digits, . _ -)" }
            s.name = value
        case "format": s.format = value.lowercased()
        case "min-priority":
            guard let p = Priority(parsing: value) else { return "unknown priority '\(value)'" }
            s.minPriority = p
        case "dedupe-window":
            guard let d = duration(value) else { return "'\(value)' is not a duration (e.g. 5m, 30s)" }
            s.dedupeWindow = d
        case "rate-limit":
            guard let r = rate(value) else { return "'\(value)' is not a rate (e.g. 10/min)" }
            s.rateLimit = r
        case "max-size":
            guard let n = parseSize(value) else { return "'\(value)' is not a size (e.g. 100MiB)" }
            s.maxSize = n
        case "keep":
            guard let n = number(0...1000) else { return "'\(value)' is not a number in 0...1000" }
            s.keep = n
        case "header":
            guard let h = header(value) else { return "expected 'Name: value'" }
            s.headers.append(h)
        case "timeout", "batch-interval", "retry-initial", "retry-max":
            guard let d = duration(value), key == "batch-interval" || d > 0 else { return "'\(value)' is not a duration (e.g. 10s, 500ms)" }
            switch key {
            case "timeout": s.timeout = d
            case "batch-interval": s.batchInterval = d
            case "retry-initial": s.retryInitial = d
            default: s.retryMax = d
            }
        case "batch-size":
            guard let n = number(1...100_000) else { return "'\(value)' is not a number in 1...100000" }
            s.batchSize = n
        case "queue-size":
            guard let n = number(1...100_000_000) else { return "'\(value)' is not a number in 1...100000000" }
            s.queueSize = n
        default:
            return "unknown setting '\(key)'"
        }
        return nil
    }

    /// Sets general setting `key` (a flag name) from `value`; returns a problem.
    static func applyGeneral(_ key: String, _ value: String, to g: inout General) -> String? {
        switch key {
        case "format":
            guard value == "text" || value == "json" else { return "must be text or json, not '\(value)'" }
            g.stdoutFormat = value
        case "webhook-format":
            guard WebhookFormat(rawValue: value) != nil else {
                return "must be one of \(WebhookFormat.allCases.map { $0.rawValue }.joined(separator: ", ")), not '\(value)'"
            }
            g.webhookFormat = value
        case "spool":
            guard !value.isEmpty else { return "empty path" }
            g.spool = value
        case "spool-max-size":
            guard let n = parseSize(value) else { return "'\(value)' is not a size (e.g. 1GiB)" }
            g.spoolMaxSize = n
        case "when-full":
            guard let p = QueueFullPolicy(rawValue: value) else { return "must be drop-oldest or block, not '\(value)'" }
            g.whenFull = p
        case "dead-letter":
            guard !value.isEmpty else { return "empty path" }
            g.deadLetter = value
        case "flush-timeout":
            guard let d = duration(value) else { return "'\(value)' is not a duration (e.g. 30s)" }
            g.flushTimeout = d
        case "min-priority", "dedupe-window", "rate-limit":
            return applyOutput(key, value, to: &g.defaults)
        case "output-max-size", "output-keep":
            return applyOutput(String(key.dropFirst(7)), value, to: &g.defaults)
        case "webhook-header", "webhook-headers", "webhook-timeout", "webhook-batch-size", "webhook-batch-interval",
             "webhook-retry-initial", "webhook-retry-max", "webhook-queue-size":
            let k = key == "webhook-headers" ? "header" : String(key.dropFirst(8))
            return applyOutput(k, value, to: &g.defaults)
        default:
            return "unknown setting"
        }
        return nil
    }

    // MARK: Config file

    /// Reads the config file: general settings and outputs, or every problem as `path:line:column: …`.
    static func readConfig(_ path: String) -> (General, [Output]?, [String]) {
        var general = General()
        var problems: [String] = []
        guard let text = readTextFile(path) else { return (general, nil, ["\(path): cannot read the config file"]) }
        let root: YAMLNode?
        do {
            root = try YAMLReader.parse(text)
        } catch {
            return (general, nil, ["\(path):\(error.position.line):\(error.position.column): \(error.message)"])
        }
        guard let root else { return (general, nil, []) }
        func at(_ p: YAMLPosition) -> String { "\(path):\(p.line):\(p.column)" }
        guard let pairs = root.pairs else { return (general, nil, ["\(at(root.position)): the config must be a mapping"]) }
        var outputs: [Output]? = nil
        for (key, value) in pairs {
            let name = key.value.replacingOccurrences(of: "_", with: "-")
            if name == "outputs" {
                guard let items = value.items else {
                    problems.append("\(at(value.position)): outputs must be a list")
                    continue
                }
                outputs = []
                for item in items {
                    if let o = readOutput(item, at: at, problems: &problems) { outputs?.append(o) }
                }
            } else if name == "webhook-headers" {
                readHeaders(value, into: &general.defaults, at: at, problems: &problems)
            } else if let scalar = value.scalar, !scalar.isNull {
                if let problem = applyGeneral(name, scalar.value, to: &general) {
                    problems.append("\(at(key.position)): \(key.value): \(problem)")
                }
            } else {
                problems.append("\(at(key.position)): \(key.value): expected a value")
            }
        }
        return (general, outputs, problems)
    }

    static func readHeaders(_ node: YAMLNode, into s: inout Settings, at: (YAMLPosition) -> String, problems: inout [String]) {
        guard let pairs = node.pairs else {
            problems.append("\(at(node.position)): headers must be a mapping of name: value")
            return
        }
        for (k, v) in pairs {
            guard let value = v.scalar?.value, header(k.value + ": " + value) != nil else {
                problems.append("\(at(k.position)): header '\(k.value)': expected a name and a text value")
                continue
            }
            s.headers.append((k.value, value))
        }
    }

    static func readOutput(_ node: YAMLNode, at: (YAMLPosition) -> String, problems: inout [String]) -> Output? {
        guard let pairs = node.pairs else {
            problems.append("\(at(node.position)): an output must be a mapping with a type")
            return nil
        }
        var settings = Settings()
        var type: String?, path: String?, url: String?
        var ok = true
        for (key, value) in pairs {
            let name = key.value.replacingOccurrences(of: "_", with: "-")
            if name == "headers" {
                readHeaders(value, into: &settings, at: at, problems: &problems)
                continue
            }
            guard let scalar = value.scalar, !scalar.isNull else {
                problems.append("\(at(key.position)): \(key.value): expected a value")
                ok = false
                continue
            }
            switch name {
            case "type": type = scalar.value
            case "path": path = scalar.value
            case "url": url = scalar.value
            default:
                if let problem = applyOutput(name, scalar.value, to: &settings) {
                    problems.append("\(at(key.position)): \(key.value): \(problem)")
                    ok = false
                }
            }
        }
        let origin = at(node.position)
        switch type {
        case "stdout":
            return ok ? Output(target: .stdout, settings: settings, origin: origin) : nil
        case "file":
            guard let path, !path.isEmpty else {
                problems.append("\(origin): a file output needs a path")
                return nil
            }
            return ok ? Output(target: .file(path), settings: settings, origin: origin) : nil
        case "webhook":
            guard let url, !url.isEmpty else {
                problems.append("\(origin): a webhook output needs a url")
                return nil
            }
            return ok ? Output(target: .webhook(url), settings: settings, origin: origin) : nil
        default:
            problems.append("\(origin): an output needs a type: stdout, file or webhook")
            return nil
        }
    }

    // MARK: Building

    /// Header value: `${VAR}` replaced from the environment, `@/path` read from a file (trailing newline
    /// dropped). Problems never show the value.
    static func resolveHeaderValue(_ value: String, environment: [String: String]) -> Result<String, SinkError> {
        if value.hasPrefix("@") {
            let path = String(value.dropFirst())
            guard var text = readTextFile(path) else { return .failure(SinkError("cannot read \(path)")) }
            while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
            return .success(text)
        }
        var out = ""
        var rest = Substring(value)
        while let start = rest.range(of: "${") {
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                return .failure(SinkError("unterminated ${ in a header value"))
            }
            let name = String(rest[start.upperBound..<end])
            guard let v = environment[name] else { return .failure(SinkError("environment variable \(name) is not set")) }
            out += v
            rest = rest[rest.index(after: end)...]
        }
        return .success(out + rest)
    }

    /// The general settings in force (flags over the file) and the outputs, or problems.
    func resolve() -> (General, [Output], [String]) {
        var general = self.flags
        var outputs = self.flagOutputs
        var problems: [String] = []
        if let path = self.configPath {
            let (fileGeneral, fileOutputs, fileProblems) = Self.readConfig(path)
            problems += fileProblems
            general = self.flags.over(fileGeneral)
            if outputs.isEmpty, let fileOutputs { outputs = fileOutputs }
        }
        if outputs.isEmpty { outputs = [Output(target: .stdout, settings: Settings(), origin: "default")] }
        return (general, outputs, problems)
    }

    /// Builds the sinks. Returns `nil` after reporting problems through `problem`.
    func build(hostname: String, log: @escaping SinkLog, problem: (String) -> Void,
               environment: [String: String] = ProcessInfo.processInfo.environment) -> (sinks: SinkSet, flushTimeout: Double)? {
        let (general, outputs, problems) = self.resolve()
        for p in problems { problem(p) }
        if !problems.isEmpty { return nil }
        let set = SinkSet()
        var ids: Set<String> = []
        var failed = false
        for output in outputs {
            let s = output.settings.over(general.defaults)
            var filter = AlertFilter()
            filter.minimumPriority = s.minPriority ?? .debug
            filter.dedupeWindow = s.dedupeWindow.map { Int64($0 * 1e9) }
            filter.rateLimit = s.rateLimit
            do throws(SinkError) {
                switch output.target {
                case .stdout:
                    let format = s.format ?? general.stdoutFormat ?? "text"
                    guard let f = AlertFormat(rawValue: format) else { throw SinkError("stdout format must be text or json, not '\(format)'") }
                    set.add(StreamSink.standardOutput(format: f, hostname: hostname, log: log), filter: filter)
                case .file(let path):
                    let format = s.format ?? "json"
                    guard let f = AlertFormat(rawValue: format) else { throw SinkError("file format must be json or text, not '\(format)'") }
                    set.add(try FileSink(path: path, format: f, hostname: hostname, maxSize: s.maxSize, keep: s.keep ?? 5, log: log),
                            filter: filter)
                case .webhook(let text):
                    guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                          url.host != nil else { throw SinkError("not an http(s) URL: \(Self.safe(text))") }
                    var o = WebhookOptions(url: url)
                    let format = s.format ?? general.webhookFormat ?? "falco"
                    guard let f = WebhookFormat(rawValue: format) else {
                        throw SinkError("webhook format must be one of \(WebhookFormat.allCases.map { $0.rawValue }.joined(separator: ", ")), not '\(format)'")
                    }
                    o.format = f
                    for h in s.headers {
                        switch Self.resolveHeaderValue(h.value, environment: environment) {
                        case .success(let v): o.headers.append((h.name, v))
                        case .failure(let e): throw SinkError("header \(h.name): \(e.message)")
                        }
                    }
                    if let v = s.timeout { o.timeout = v }
                    if let v = s.batchSize { o.batchSize = v }
                    if let v = s.batchInterval { o.batchInterval = v }
                    if let v = s.retryInitial { o.retryInitial = v }
                    if let v = s.retryMax { o.retryMax = max(v, o.retryInitial) }
                    if let v = s.queueSize { o.queueCapacity = v }
                    o.spoolRoot = general.spool
                    if let v = general.spoolMaxSize { o.spoolMaxSize = v }
                    if let v = general.whenFull { o.whenFull = v }
                    o.deadLetterPath = general.deadLetter
                    o.id = s.name
                    guard ids.insert(o.resolvedID).inserted else {
                        throw SinkError("two webhook outputs share the id \(o.resolvedID); give them different names")
                    }
                    set.add(try WebhookSink(options: o, hostname: hostname, log: log), filter: filter)
                }
            } catch {
                problem("\(output.origin): \(error.message)")
                failed = true
            }
        }
        if failed {
            _ = set.finish(timeout: 0)
            return nil
        }
        return (set, general.flushTimeout ?? 30)
    }

    /// A `SinkLog` writing `audithound <command>: message` lines to stderr, each with one write(2), so that
    /// lines from delivery threads never interleave.
    static func stderrLog(command: String) -> SinkLog {
        return { message in
            let bytes = Array("audithound \(command): \(message)\n".utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                offset += n
            }
        }
    }

    /// Prints the sinks' summary lines (unless `quiet`, or stdout alone with nothing to say) and, always,
    /// the warnings about alerts not delivered.
    static func printReports(_ reports: [SinkReport], to err: OutputStream, quiet: Bool, command: String) {
        let interesting = reports.count > 1 || reports.contains { $0.name != "stdout" || $0.counters.failed > 0
            || $0.counters.suppressed > 0 || $0.counters.rateLimited > 0 }
        if !quiet && interesting {
            err.line("outputs:")
            for r in reports { err.line("  " + r.summaryLine) }
        }
        for r in reports {
            for w in r.warnings { err.line("audithound \(command): warning: \(w)") }
        }
    }
}
