import AuditInput
import AuditPipeline
import AuditRules

/// `audithound baseline`: learn the first_seen baselines of stateful rules from past audit logs.
enum BaselineCommand {
    static let help = """
    Usage: audithound baseline learn --state FILE [options] PATH...
           audithound baseline show --state FILE [--rules PATH]...

    learn: reads audit logs (files, directories, gzip, - for stdin) and records, for every first_seen
    rule (aggregate type first_seen), the key values it sees and how often. The result is written to
    FILE; 'audithound replay --state FILE' (and tail) then alert on values not in it, without a learning
    period. A value seen fewer than the rule's min_observations times does not count as known.
    show: prints how many values each rule's baseline holds.

    Options:
      --state FILE          The baseline file (written atomically by learn).
      --update              learn: extend the baseline already in FILE instead of starting afresh.
      --rules PATH          Rule file to load (repeatable). Default: the built-in ruleset.
      --workers N           Worker threads (default: the number of CPUs).
      --max-lateness D      Allowed lateness of event time (default 2m).
      --all-stages          Also evaluate RequestReceived events.
      --input-format F      Record format (default auto); see 'audithound replay --help'.
      --quiet               No summary on stderr.
      -h, --help            This help.

    Exit status: 0 done, 1 an input, rule or state file could not be used, 2 usage error.

    """

    static func run(_ args: [String]) throws(UsageError) -> Int32 {
        let a = try Arguments(args, options: ["state", "rules", "workers", "max-lateness", "input-format"],
                              booleans: ["help", "update", "all-stages", "quiet"])
        if a.has("help") || a.positionals.isEmpty {
            if !a.has("help") { throw UsageError(message: "expected a subcommand: learn or show") }
            OutputStream.standardOutput.write(help)
            OutputStream.standardOutput.flush()
            return 0
        }
        let sub = a.positionals[0]
        guard sub == "learn" || sub == "show" else { throw UsageError(message: "unknown subcommand '\(sub)' (expected learn or show)") }
        guard let statePath = a.value("state") else { throw UsageError(message: "--state FILE is required") }
        let err = OutputStream.standardError
        let command = "baseline \(sub)"
        let (files, readErrors) = loadRuleFiles(a.all("rules"))
        for e in readErrors { err.line("audithound \(command): \(e)") }
        if !readErrors.isEmpty { return 1 }
        let loaded = RuleCompiler.load(files)
        for d in loaded.diagnostics where d.severity != .notice { err.line(d.description) }
        guard let ruleSet = loaded.ruleSet else {
            err.line("audithound \(command): the rules have errors")
            return 1
        }

        if sub == "show" {
            let detectors = StatefulDetectors(ruleSet: ruleSet)
            guard StatefulStage.load(statePath, into: detectors, command: command, err: err) else { return 1 }
            printBaselines(detectors, to: OutputStream.standardOutput)
            OutputStream.standardOutput.flush()
            return 0
        }

        let paths = Array(a.positionals.dropFirst())
        guard !paths.isEmpty else { throw UsageError(message: "learn needs at least one PATH (- for stdin)") }
        var settings = ReplaySettings()
        settings.allStages = a.has("all-stages")
        var options = PipelineOptions()
        options.workers = try a.int("workers", default: PipelineOptions.defaultWorkers, range: 1...1024)
        options.inputFormat = InputFormat(rawValue: try a.choice("input-format", InputFormat.names, default: "auto")) ?? .auto
        settings.inputFormat = options.inputFormat
        guard let stage = try StatefulStage(a, ruleSet: ruleSet, command: command, learnOnly: true, loadState: false, err: err) else { return 1 }
        if !stage.detectors.baselineSummary.isEmpty, a.has("update") {
            guard StatefulStage.load(statePath, into: stage.detectors, command: command, err: err) else { return 1 }
        }
        if stage.detectors.baselineSummary.isEmpty {
            err.line("audithound \(command): the rules have no enabled first_seen rule; nothing to learn")
            return 1
        }
        let inputs: [String]
        do {
            inputs = try expandInputPaths(paths)
        } catch {
            err.line("audithound \(command): \(TextEscaper.escape("\(error)"))")
            return 1
        }
        StopSignal.install()
        var summary = RunSummary()
        let workerSettings = settings
        let report = Pipeline<ReplayBatchResult>(inputs: inputs, options: options).run(makeWorker: {
            let worker = ReplayWorker(ruleSet: ruleSet, settings: workerSettings)
            return { batch, source in worker.process(batch, source: source) }
        }, consume: { result, _, _ in
            summary.add(result, errors: err)
            _ = stage.observe(result.observations)
        })
        _ = stage.finish()
        for e in report.inputErrors { err.line("audithound \(command): \(TextEscaper.escape(e.description))") }
        if !report.inputErrors.isEmpty || report.stopped {
            err.line("audithound \(command): \(report.stopped ? "stopped" : "input errors"); \(statePath) not written")
            return 1
        }
        guard StatefulStage.write(stage.detectors.save(), to: statePath, command: command, err: err) else { return 1 }
        if !a.has("quiet") {
            err.line("audithound \(command): \(summary.events) events, \(summary.malformed) malformed; baseline written to \(statePath)")
            stage.printSummary(to: err, events: summary.events)
            printBaselines(stage.detectors, to: err)
        }
        return 0
    }

    static func printBaselines(_ detectors: StatefulDetectors, to out: OutputStream) {
        for b in detectors.baselineSummary {
            out.line("  \(b.rule): \(b.values) values (\(b.known) known)\(b.complete ? "" : ", still learning")")
        }
    }
}
