import AuditInput
import AuditPipeline
import AuditRules

/// `audithound tail`: follow audit log files as they grow and alert on new events.
enum TailCommand {
    static let help = """
    Usage: audithound tail [options] PATH...
           audithound tail [options] -

    Follows audit log files like `tail -F` and prints an alert for every rule that matches a new event,
    typically within a few milliseconds of the line being written. PATHs may be globs (quote them:
    '/var/log/kubernetes/audit/*.log'); files that appear later and match are picked up and read from
    their start. Rotation by rename (the API server's own), logrotate copytruncate, deletion and
    re-creation, and files that do not exist yet are handled: a rotated file is read to its end before
    the new one. A partial last line waits for its newline. - follows standard input until it closes.

    Options:
      --rules PATH            Rule file to load (repeatable). Default: the built-in ruleset.
      --format text|json      Alert format (default text). json: one Falco-compatible object per line.
      --min-priority P        Drop alerts below priority P (emergency ... debug; default debug).
      --checkpoint FILE       Save progress to FILE (atomically, about once a second and on exit) and
                              resume from it on restart, also after a crash: no event is skipped and no
                              alert repeated. FILE.journal holds the alerts emitted since the last save.
      --from-start            Read existing files from their start (default: only new lines). With
                              --checkpoint, applies to the files the checkpoint does not know.
      --stats-interval D      Print a status line on stderr every D (e.g. 10s, 500ms, 1m): events/s,
                              bytes not yet read, alerts.
      --checkpoint-interval D Least time between checkpoints while events flow (default 1s).
      --no-inotify            Poll every 200 ms instead of using inotify (e.g. on network file systems).
      --all-stages            Also evaluate RequestReceived events.
      --strict-json           Parse request and response bodies even when no rule reads them (see
                              'audithound replay --help').
      --max-record-size S     Largest record accepted (default 64MiB).
      --state FILE            Start stateful rules from FILE (e.g. a baseline from 'audithound baseline
                              learn') when the checkpoint has no saved state yet. With --checkpoint, the
                              stateful-rule state is saved in FILE.state beside it at every checkpoint.
      --max-lateness D        How far behind the newest event an event may arrive and still count for
                              stateful rules (default 2m).
      -h, --help              This help.

    \(SinkOptions.help)
    Signals: SIGTERM/SIGINT stop after the current batch (alerts flushed, checkpoint saved); SIGHUP
    reloads the rule files (when they have errors, the previous rules stay in force).

    Exit status: 0 stopped by a signal or end of stdin, 1 a rule file or the checkpoint could not be
    used, 2 usage error.

    """

    static func run(_ args: [String]) throws(UsageError) -> Int32 {
        let a = try Arguments(args, options: SinkOptions.valueOptions.union(["rules", "format", "min-priority", "checkpoint",
                                              "stats-interval", "checkpoint-interval", "max-record-size",
                                              "state", "max-lateness"]),
                              booleans: ["help", "from-start", "no-inotify", "all-stages", "strict-json"])
        if a.has("help") {
            OutputStream.standardOutput.write(help)
            OutputStream.standardOutput.flush()
            return 0
        }
        guard !a.positionals.isEmpty else { throw UsageError(message: "no PATH to follow (use - for stdin)") }
        if a.positionals.contains("-") && a.positionals.count > 1 {
            throw UsageError(message: "- (stdin) cannot be combined with file paths")
        }
        _ = try a.choice("format", ["text", "json"], default: "text")
        let sinkOptions = try SinkOptions(a)
        var configuration = TailConfiguration(paths: a.positionals)
        if let p = a.value("min-priority") {
            guard let priority = Priority(parsing: p) else { throw UsageError(message: "--min-priority: unknown priority '\(p)'") }
            configuration.settings.minimumPriority = priority
        }
        configuration.settings.allStages = a.has("all-stages")
        configuration.settings.deferBodies = !a.has("strict-json")
        configuration.start = a.has("from-start") ? .beginning : .end
        configuration.checkpointPath = a.value("checkpoint")
        if configuration.checkpointPath != nil && a.positionals == ["-"] {
            throw UsageError(message: "--checkpoint cannot be used with - (stdin)")
        }
        if let v = a.value("stats-interval") {
            configuration.statsIntervalMilliseconds = try parseDuration(v, option: "stats-interval")
        }
        if let v = a.value("checkpoint-interval") {
            configuration.checkpointIntervalMilliseconds = try parseDuration(v, option: "checkpoint-interval")
        }
        configuration.follow.useInotify = !a.has("no-inotify")
        configuration.follow.maxRecordSize = try a.size("max-record-size", default: 64 << 20)
        configuration.handleSignals = true
        configuration.initialStatePath = a.value("state")
        if let v = a.value("max-lateness") {
            guard let d = StatefulDuration.parse(v) else { throw UsageError(message: "--max-lateness: '\(v)' is not a duration (e.g. 2m, 30s, 0)") }
            configuration.stateful.maxLateness = d
        }

        let err = OutputStream.standardError
        let rulePaths = a.all("rules")
        guard let ruleSet = loadTailRules(rulePaths, errors: err, initial: true) else { return 1 }

        let host = hostName()
        guard let (sinks, flushTimeout) = sinkOptions.build(hostname: host, log: SinkOptions.stderrLog(command: "tail"),
                                                            problem: { err.line("audithound tail: \($0)") }) else { return 1 }
        let runner = TailRunner(
            configuration: configuration, ruleSet: ruleSet,
            emit: { alerts in writeAlerts(alerts, to: sinks) },
            // File names and messages come from the log host: escaped for the terminal (idempotent on text
            // that is escaped already).
            diagnostic: { err.line("audithound \(TextEscaper.escape($0))") },
            reloadRules: { loadTailRules(rulePaths, errors: err, initial: false) })
        let report: TailReport
        do {
            report = try runner.run()
        } catch {
            SinkOptions.printReports(sinks.finish(timeout: flushTimeout), to: err, quiet: false, command: "tail")
            err.line("audithound tail: \(TextEscaper.escape("\(error)"))")
            return 1
        }
        let sinkReports = sinks.finish(timeout: flushTimeout)
        err.line("audithound tail: stopped; events \(report.events), alerts \(report.alerts), malformed \(report.malformed)")
        SinkOptions.printReports(sinkReports, to: err, quiet: false, command: "tail")
        return 0
    }

    /// Hands a batch's alerts to the outputs and flushes stdout and file outputs: when this returns
    /// they are written (webhooks: queued, and spooled with --spool), and the runner journals them.
    static func writeAlerts(_ alerts: [Alert], to sinks: SinkSet) {
        sinks.send(alerts)
        sinks.flush()
    }

    /// Loads and compiles the rule files; reports problems and returns `nil` when they cannot be used.
    static func loadTailRules(_ paths: [String], errors err: OutputStream, initial: Bool) -> CompiledRuleSet? {
        let (files, readErrors) = loadRuleFiles(paths)
        for e in readErrors { err.line("audithound tail: \(e)") }
        if !readErrors.isEmpty { return nil }
        let loaded = RuleCompiler.load(files)
        for d in loaded.diagnostics where d.severity != .notice { err.line(d.description) }
        guard let ruleSet = loaded.ruleSet else {
            err.line(initial ? "audithound tail: the rules have errors; nothing was read"
                             : "audithound tail: the reloaded rules have errors")
            return nil
        }
        return ruleSet
    }

    /// Parses `10s`, `500ms`, `2m`, `1h` or a plain number of seconds into milliseconds.
    static func parseDuration(_ text: String, option: String) throws(UsageError) -> Int {
        let lower = text.lowercased()
        let number = lower.prefix { $0.isNumber || $0 == "." }
        let unit = lower.dropFirst(number.count)
        let scale: Double
        switch unit {
        case "ms": scale = 1
        case "", "s": scale = 1000
        case "m": scale = 60_000
        case "h": scale = 3_600_000
        default: scale = -1
        }
        guard scale > 0, let value = Double(number), value > 0, value * scale >= 1, value * scale < 1e12 else {
            throw UsageError(message: "--\(option): '\(text)' is not a duration (e.g. 10s, 500ms)")
        }
        return Int(value * scale)
    }
}
