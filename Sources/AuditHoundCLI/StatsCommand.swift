import AuditInput
import AuditPipeline
import AuditRules

/// `audithound stats`: what is in these audit logs.
enum StatsCommand {
    static let help = """
    Usage: audithound stats [options] [PATH|-]...

    Reads audit logs (files, directories, gzip, stdin) and reports: events, malformed records (with
    path:line and reason), the first and last event time, and counts by verb, resource, user, response
    code, authorization decision, stage, level and source IP.

    Options:
      --format text|json   Output format (default text). json: one object with keys events, malformed, ...
      --top N              Entries shown per table (default 10).
      --workers N          Worker threads (default: the number of CPUs).
      --max-record-size S  Largest record accepted (default 64MiB).
      --input-format F     Record format (default auto: recognised per record): lines, cloudwatch-export,
                           subscription, filter-log-events, firehose, aks (EKS via CloudWatch Logs, AKS).
      -h, --help           This help.

    Exit status: 0 the input could be read (malformed records included), 1 a path could not be read,
    2 usage error.

    """

    static func run(_ args: [String]) throws(UsageError) -> Int32 {
        let a = try Arguments(args, options: ["format", "top", "workers", "max-record-size", "input-format"], booleans: ["help"])
        if a.has("help") {
            OutputStream.standardOutput.write(help)
            OutputStream.standardOutput.flush()
            return 0
        }
        let format = try a.choice("format", ["text", "json"], default: "text")
        let top = try a.int("top", default: 10, range: 1...100_000)
        var options = PipelineOptions()
        options.workers = try a.int("workers", default: PipelineOptions.defaultWorkers, range: 1...1024)
        options.maxRecordSize = try a.size("max-record-size", default: 64 << 20)
        let inputFormat = InputFormat(rawValue: try a.choice("input-format", InputFormat.names, default: "auto")) ?? .auto
        options.inputFormat = inputFormat
        let err = OutputStream.standardError
        let inputs: [String]
        do {
            inputs = try expandInputPaths(a.positionals.isEmpty ? ["-"] : a.positionals)
        } catch {
            err.line("audithound stats: \(TextEscaper.escape("\(error)"))")
            return 1
        }
        StopSignal.install()
        let start = monotonicSeconds()
        var total = AuditStats()
        let report = Pipeline<AuditStats>(inputs: inputs, options: options).run(makeWorker: {
            let w = StatsWorker(inputFormat: inputFormat)
            return { batch, source in w.process(batch, source: source) }
        }, consume: { s, _, _ in total.merge(s) })
        let wall = monotonicSeconds() - start
        for e in report.inputErrors { err.line("audithound stats: \(TextEscaper.escape(e.description))") }
        let out = OutputStream.standardOutput
        if format == "json" {
            out.line(json(total, top: top, bytes: report.bytesRead, wall: wall, errors: report.inputErrors))
        } else {
            text(total, top: top, bytes: report.bytesRead, wall: wall, to: out)
        }
        out.flush()
        return report.inputErrors.isEmpty ? 0 : 1
    }

    static func tables(_ s: AuditStats) -> [(String, ByteCounter)] {
        [("verb", s.byVerb), ("resource", s.byResource), ("user", s.byUser), ("response_code", s.byCode),
         ("decision", s.byDecision), ("stage", s.byStage), ("level", s.byLevel), ("source_ip", s.bySourceIP)]
    }

    static func text(_ s: AuditStats, top: Int, bytes: Int64, wall: Double, to out: OutputStream) {
        out.line("events:    \(s.events)")
        out.line("malformed: \(s.malformed)")
        if s.truncatedMessages > 0 { out.line("  (\(s.truncatedMessages) messages truncated by CloudWatch)") }
        for p in s.problems.prefix(top) { out.line("  \(TextEscaper.escape(p.description))") }
        if s.problems.count > top { out.line("  ... and \(s.malformed - top) more") }
        if s.events > 0 && s.firstTime != .max {
            out.line("first:     \(TimeFormat.rfc3339(s.firstTime))")
            out.line("last:      \(TimeFormat.rfc3339(s.lastTime))")
        }
        out.line("bytes:     \(formatBytes(bytes)) in \(format(wall, 3)) s")
        for (name, counter) in tables(s) {
            out.line("")
            out.line("by \(name) (\(counter.distinct) distinct):")
            for (k, n) in counter.sorted().prefix(top) {
                out.line("  \(pad(String(n), 10)) \(TextEscaper.escape(k))")
            }
        }
    }

    static func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }

    static func json(_ s: AuditStats, top: Int, bytes: Int64, wall: Double, errors: [InputError]) -> String {
        var o = "{\"events\":\(s.events),\"malformed\":\(s.malformed),\"truncated_messages\":\(s.truncatedMessages),\"malformed_samples\":["
        for (i, p) in s.problems.prefix(top).enumerated() {
            if i > 0 { o += "," }
            o += "{\"input\":"
            JSONEscaper.quote("\(p.path):\(p.line)\(p.item > 0 ? "#\(p.item)" : "")", into: &o)
            o += ",\"reason\":"
            JSONEscaper.quote(p.reason, into: &o)
            o += "}"
        }
        o += "],\"bytes\":\(bytes)"
        if s.events > 0 && s.firstTime != .max {
            o += ",\"first_time\":"
            JSONEscaper.quote(TimeFormat.rfc3339(s.firstTime), into: &o)
            o += ",\"last_time\":"
            JSONEscaper.quote(TimeFormat.rfc3339(s.lastTime), into: &o)
        } else {
            o += ",\"first_time\":null,\"last_time\":null"
        }
        o += ",\"input_errors\":["
        for (i, e) in errors.enumerated() {
            if i > 0 { o += "," }
            JSONEscaper.quote(e.description, into: &o)
        }
        o += "]"
        for (name, counter) in tables(s) {
            o += ",\"by_\(name)\":{"
            for (i, (k, n)) in counter.sorted().prefix(top).enumerated() {
                if i > 0 { o += "," }
                JSONEscaper.quote(k, into: &o)
                o += ":\(n)"
            }
            o += "}"
        }
        return o + "}"
    }
}
