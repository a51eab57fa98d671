import AuditRules

/// Entry point of the `audithound` command-line tool.
///
/// Exit status: 0 success (malformed records included), 1 when an input or rule file cannot be used
/// (or, with `--strict`, when a record was malformed), 2 for a usage error.
public enum AuditHoundCommand {
    public static let version = "0.1.0"

    /// Runs the tool with the given arguments (without the program name) and returns the exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        guard let command = arguments.first else {
            OutputStream.standardError.write(usage)
            return 2
        }
        let rest = Array(arguments.dropFirst())
        do {
            switch command {
            case "replay": return try ReplayCommand.run(rest)
            case "stats": return try StatsCommand.run(rest)
            case "tail": return try TailCommand.run(rest)
            case "rules": return try RulesCommand.run(rest)
            case "baseline": return try BaselineCommand.run(rest)
            case "help", "--help", "-h":
                OutputStream.standardOutput.write(usage)
                OutputStream.standardOutput.flush()
                return 0
            case "version", "--version":
                OutputStream.standardOutput.line("audithound \(version)")
                OutputStream.standardOutput.flush()
                return 0
            default:
                OutputStream.standardError.write("audithound: unknown command '\(command)'\n\n" + usage)
                return 2
            }
        } catch {
            OutputStream.standardError.line("audithound \(command): \(error.message)")
            OutputStream.standardError.line("Run 'audithound \(command) --help' for usage.")
            return 2
        }
    }

    static let usage = """
    AuditHound — reads Kubernetes API-server audit logs and raises alerts.

    Usage: audithound <command> [options] [PATH|-]...

    Commands:
      replay          Evaluate rules over audit logs (files, directories, gzip, stdin) and print alerts.
      tail            Follow audit log files (globs, rotation, checkpoints) or stdin and print alerts live.
      stats           Summarise audit logs: events, malformed records, time range, top verbs/resources/users.
      rules validate  Check rule files and report every problem as path:line:column.
      rules list      List the loaded rules.
      baseline learn  Learn the first-seen baselines of stateful rules from past logs (--state FILE).
      version         Print the version.

    Run 'audithound <command> --help' for the options of a command.

    """
}

/// Loads the rule files named by `--rules`, or the embedded default ruleset.
func loadRuleFiles(_ paths: [String]) -> (files: [RuleFile], errors: [String]) {
    if paths.isEmpty { return (DefaultRules.files, []) }
    var files: [RuleFile] = []
    var errors: [String] = []
    for path in paths {
        // `--rules builtin` loads the embedded default ruleset, so own files can be layered on top of it.
        if path == "builtin" {
            files += DefaultRules.files
            continue
        }
        if let text = readTextFile(path) {
            files.append(RuleFile(path: path, text: text))
        } else {
            errors.append("\(TextEscaper.escape(path)): cannot read rule file")
        }
    }
    return (files, errors)
}
