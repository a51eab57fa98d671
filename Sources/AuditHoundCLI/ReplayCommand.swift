import AuditInput
import AuditPipeline
import AuditRules

/// `audithound replay`: evaluate rules over audit logs and print alerts.
enum ReplayCommand {
    static let help = """
    Usage: audithound replay [options] [PATH|-]...

    Evaluates rules over Kubernetes audit logs and prints alerts to stdout, in input order (see --sort).
    PATHs may be files (plain or gzip, detected by content), directories (read recursively, in byte-wise
    path order) or - for stdin (the default when no PATH is given). Diagnostics and the end-of-run summary
    go to stderr.

    Options:
      --rules PATH          Rule file to load (repeatable, loaded in order). Default: the built-in ruleset;
                            "--rules builtin" loads it explicitly, e.g. before your own overrides.
      --format text|json   Alert format (default text). json: one Falco-compatible alert object per line.
      --min-priority P      Drop alerts below priority P (emergency ... debug; default debug).
      --workers N           Worker threads (default: the number of CPUs).
      --max-record-size S   Largest record accepted (default 64MiB); larger records are reported and skipped.
      --all-stages          Also evaluate RequestReceived events (skipped by default: each request is
                            evaluated at ResponseStarted/ResponseComplete).
      --compression auto|none|gzip   Force the input compression (default auto).
      --input-format F      Record format (default auto: recognised per record): lines, cloudwatch-export,
                            subscription, filter-log-events, firehose, aks (EKS via CloudWatch Logs, AKS).
      --strict              Exit 1 when any record was malformed.
      --strict-json         Parse every byte of every record strictly. By default request and response
                            bodies are only parsed when a rule reads them (the rest of a body is checked
                            for well-formed strings and balanced brackets); a body a rule reads that is
                            not valid JSON is reported and its event evaluated without it.
      --quiet               No summary on stderr.
      --no-dedupe           Keep repeated alerts of one rule for one auditID.
      --since T, --until T  Only events with since <= time < until (event time: stageTimestamp). T is RFC 3339
                            (2026-11-23T10:00:00Z) or a duration before now (90s, 30m, 2h, 7d, 1w).
      --user U, --namespace N, --verb V, --resource R
                            Only events with one of these values (repeatable or comma lists; exact match; a
                            user ending in * matches by prefix). Several options must all match. Filtered
                            events are counted in the summary, not evaluated.
      --sort input|time     Alert order. input (default): file by file, line by line, streamed. time: by event
                            time across all inputs (ties in input order). Memory: the alerts (not the events)
                            are kept until the end of the input and only then sent to the outputs.
      --report FILE.html    Also write a self-contained HTML report (volume, timeline, top identities, IPs
                            and user agents, every alert with its event position, malformed input). Like
                            --sort time, it keeps the alerts in memory until the end.
    \(StatefulStage.help)
      -h, --help            This help.

    \(SinkOptions.help)
    Exit status: 0 done, 1 an input, rule or config file or an output could not be used (or --strict and
    malformed input), 2 usage error.

    """

    static func run(_ args: [String]) throws(UsageError) -> Int32 {
        let a = try Arguments(args, options: SinkOptions.valueOptions.union(StatefulStage.valueOptions).union(["rules", "format", "min-priority", "workers", "max-record-size", "compression", "batch-size", "input-format"])
                                  .union(["since", "until", "user", "namespace", "verb", "resource", "sort", "report"]),
                              booleans: ["help", "all-stages", "strict", "strict-json", "quiet", "no-dedupe"])
        if a.has("help") {
            OutputStream.standardOutput.write(help)
            OutputStream.standardOutput.flush()
            return 0
        }
        _ = try a.choice("format", ["text", "json"], default: "text")
        let sinkOptions = try SinkOptions(a)
        var settings = ReplaySettings()
        if let p = a.value("min-priority") {
            guard let priority = Priority(parsing: p) else { throw UsageError(message: "--min-priority: unknown priority '\(p)'") }
            settings.minimumPriority = priority
        }
        settings.allStages = a.has("all-stages")
        settings.deferBodies = !a.has("strict-json")
        settings.filter = try replayFilter(a)
        let sortByTime = try a.choice("sort", ["input", "time"], default: "input") == "time"
        let reportPath = a.value("report")
        if reportPath?.isEmpty == true { throw UsageError(message: "--report needs a file name") }
        settings.collectAlertContext = reportPath != nil
        var options = PipelineOptions()
        options.workers = try a.int("workers", default: PipelineOptions.defaultWorkers, range: 1...1024)
        options.maxRecordSize = try a.size("max-record-size", default: 64 << 20)
        options.batchSize = try a.size("batch-size", default: PipelineOptions.defaultBatchSize)
        switch try a.choice("compression", ["auto", "none", "gzip"], default: "auto") {
        case "none": options.compression = .none
        case "gzip": options.compression = .gzip
        default: options.compression = .auto
        }
        options.inputFormat = InputFormat(rawValue: try a.choice("input-format", InputFormat.names, default: "auto")) ?? .auto
        settings.inputFormat = options.inputFormat

        let err = OutputStream.standardError
        let (files, readErrors) = loadRuleFiles(a.all("rules"))
        for e in readErrors { err.line("audithound replay: \(e)") }
        if !readErrors.isEmpty { return 1 }
        let loaded = RuleCompiler.load(files)
        for d in loaded.diagnostics where d.severity != .notice || !a.has("quiet") { err.line(d.description) }
        guard let ruleSet = loaded.ruleSet else {
            err.line("audithound replay: the rules have errors; nothing was read")
            return 1
        }
        guard let stateful = try StatefulStage(a, ruleSet: ruleSet, command: "replay", err: err) else { return 1 }

        let inputs: [String]
        do {
            inputs = try expandInputPaths(a.positionals.isEmpty ? ["-"] : a.positionals)
        } catch {
            err.line("audithound replay: \(TextEscaper.escape("\(error)"))")
            return 1
        }

        let host = hostName()
        guard let (sinks, flushTimeout) = sinkOptions.build(hostname: host, log: SinkOptions.stderrLog(command: "replay"),
                                                            problem: { err.line("audithound replay: \($0)") }) else { return 1 }
        StopSignal.install()
        let start = monotonicSeconds()
        var summary = RunSummary()
        var dedupe = AlertDeduplicator()
        let noDedupe = a.has("no-dedupe")
        let workerSettings = settings
        let pipeline = Pipeline<ReplayBatchResult>(inputs: inputs, options: options)
        let progress = ProgressLine(inputs: inputs, enabled: isTerminal(2) && !a.has("quiet"))
        let recorder: ReplayRecorder? = sortByTime || reportPath != nil ? ReplayRecorder() : nil
        var progressBytes: Int64 = 0
        let report = pipeline.run(makeWorker: {
            let worker = ReplayWorker(ruleSet: ruleSet, settings: workerSettings)
            return { batch, source in worker.process(batch, source: source) }
        }, consume: { result, _, _ in
            summary.add(result, errors: err)
            recorder?.add(result)
            progressBytes += Int64(result.bytes)
            progress.update(done: progressBytes, events: summary.events)
            for (i, alert) in (result.alerts + stateful.observe(result.observations)).enumerated() {
                if !noDedupe && !dedupe.admit(alert) { continue }
                summary.count(alert)
                recorder?.add(alert, context: i < result.alertContexts.count ? result.alertContexts[i] : nil)
                if !sortByTime { sinks.send(alert) }
            }
        })
        for alert in stateful.finish() where noDedupe || dedupe.admit(alert) {
            summary.count(alert)
            recorder?.add(alert, context: nil)
            if !sortByTime { sinks.send(alert) }
        }
        if sortByTime, let recorder {
            for r in recorder.alertsInTimeOrder() { sinks.send(r.alert) }
        }
        let sinkReports = sinks.finish(timeout: flushTimeout)
        for e in report.inputErrors { err.line("audithound replay: \(TextEscaper.escape(e.description))") }
        summary.duplicatesSuppressed = dedupe.suppressed
        progress.finish()
        if !a.has("quiet") {
            summary.printLevelWarning(ruleSet: ruleSet, to: err)
            summary.print(to: err, wall: monotonicSeconds() - start, bytes: report.bytesRead, stopped: report.stopped)
            stateful.printSummary(to: err, events: summary.events)
        }
        if !stateful.saveIfRequested(err: err) { return 1 }
        SinkOptions.printReports(sinkReports, to: err, quiet: a.has("quiet"), command: "replay")
        if let reportPath, let recorder {
            var data = ReplayReportData(recorder: recorder, timeOrder: sortByTime)
            data.generatedAt = EventFilter.currentTime()
            data.inputs = report.sources.map { $0.displayName }
            data.filter = settings.filter.summary
            data.bytes = report.bytesRead
            data.stopped = report.stopped
            data.inputErrors = report.inputErrors.map { TextEscaper.escape($0.description) }
            if let problem = HTMLReport.write(HTMLReport.render(data), to: reportPath) {
                err.line("audithound replay: \(TextEscaper.escape(problem))")
                return 1
            }
        }
        if !report.inputErrors.isEmpty { return 1 }
        if a.has("strict") && summary.malformed > 0 { return 1 }
        return 0
    }
}

/// The end-of-run summary.
struct RunSummary {
    var events = 0
    var evaluated = 0
    var malformed = 0
    var shownProblems = 0
    var alerts = 0
    var byRule: [String: Int] = [:]
    var byPriority: [Priority: Int] = [:]
    var levelsSeen: UInt8 = 0
    var duplicatesSuppressed = 0
    var truncatedMessages = 0
    var filtered = 0
    static let problemsShown = 10

    mutating func add(_ r: ReplayBatchResult, errors: OutputStream) {
        events += r.events
        evaluated += r.evaluated
        filtered += r.filtered
        levelsSeen |= r.levelsSeen
        truncatedMessages += r.truncatedMessages
        for p in r.problems {
            malformed += 1
            if shownProblems < RunSummary.problemsShown {
                errors.line("malformed: \(TextEscaper.escape(p.description))")
                shownProblems += 1
                if shownProblems == RunSummary.problemsShown { errors.line("(further malformed records are counted in the summary)") }
            }
        }
    }

    mutating func count(_ a: Alert) {
        alerts += 1
        byRule[a.rule, default: 0] += 1
        byPriority[a.priority, default: 0] += 1
    }

    /// Warns once when enabled rules need Request/RequestResponse data but only Metadata events were seen.
    func printLevelWarning(ruleSet: CompiledRuleSet, to err: OutputStream) {
        guard events > 0, levelsSeen & 0b110 == 0 else { return }
        let blind = ruleSet.rules.filter { $0.enabled && $0.levelNeeded > .metadata }.map { $0.name }
        guard !blind.isEmpty else { return }
        err.line("warning: every event seen was logged at level Metadata, so \(blind.count) enabled rules that read request or response bodies can never fire: \(blind.sorted().joined(separator: ", ")). See rules/audit-policy.yaml.")
    }

    func print(to err: OutputStream, wall: Double, bytes: Int64, stopped: Bool) {
        let mb = Double(bytes) / 1_000_000
        let rate = wall > 0 ? mb / wall : 0
        let eps = wall > 0 ? Double(events) / wall : 0
        err.line("--- audithound summary\(stopped ? " (stopped early by a signal)" : "") ---")
        err.line("events: \(events) (evaluated \(evaluated)\(filtered > 0 ? ", filtered out \(filtered)" : "")), malformed: \(malformed), alerts: \(alerts)\(duplicatesSuppressed > 0 ? " (\(duplicatesSuppressed) repeated stage alerts suppressed)" : "")")
        if truncatedMessages > 0 { err.line("messages truncated by CloudWatch: \(truncatedMessages) (counted as malformed)") }
        err.line("bytes: \(formatBytes(bytes)), wall: \(format(wall, 3)) s, \(format(rate, 1)) MB/s, \(Int(eps)) events/s")
        if !byPriority.isEmpty {
            let parts = Priority.allCases.compactMap { p in byPriority[p].map { "\(p.name) \($0)" } }
            err.line("alerts by priority: " + parts.joined(separator: ", "))
        }
        for (rule, n) in byRule.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
            err.line("  \(n)\t\(rule)")
        }
    }
}

/// The event filter of `replay` (`--since`, `--until`, `--user`, `--namespace`, `--verb`, `--resource`).
func replayFilter(_ a: Arguments) throws(UsageError) -> EventFilter {
    let now = EventFilter.currentTime()
    func time(_ name: String) throws(UsageError) -> Int64? {
        guard let v = a.value(name) else { return nil }
        guard let t = EventFilter.parseTime(v, now: now) else {
            throw UsageError(message: "--\(name): '\(v)' is neither an RFC 3339 time (2026-11-23T10:00:00Z) nor a duration (30m, 2h, 7d)")
        }
        return t
    }
    let filter = EventFilter(since: try time("since"), until: try time("until"), users: EventFilter.list(a.all("user")),
                             namespaces: EventFilter.list(a.all("namespace")), verbs: EventFilter.list(a.all("verb")),
                             resources: EventFilter.list(a.all("resource")))
    if let s = filter.since, let u = filter.until, s >= u { throw UsageError(message: "--since must be before --until") }
    return filter
}
