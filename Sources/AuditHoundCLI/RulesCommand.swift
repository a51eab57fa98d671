import Foundation
import AuditRules

/// `audithound rules validate|list`.
enum RulesCommand {
    static let help = """
    Usage: audithound rules validate [--rules PATH]...
           audithound rules list [--rules PATH]... [--format text|markdown|json]

    validate  Loads the rule files (default: the built-in ruleset) and reports every problem at once, each
              as path:line:column: severity: message, with the offending text. Exit 1 when there is an error.
    list      Prints each loaded rule with its priority, tags, source and enabled state. markdown prints the
              table of rules/README.md.

    """

    static func run(_ args: [String]) throws(UsageError) -> Int32 {
        guard let sub = args.first, sub == "validate" || sub == "list" else {
            if args.first == "--help" || args.first == "-h" || args.first == "help" {
                OutputStream.standardOutput.write(help)
                OutputStream.standardOutput.flush()
                return 0
            }
            throw UsageError(message: "expected 'validate' or 'list'")
        }
        let a = try Arguments(Array(args.dropFirst()), options: ["rules", "format"], booleans: ["help"])
        if a.has("help") {
            OutputStream.standardOutput.write(help)
            OutputStream.standardOutput.flush()
            return 0
        }
        if !a.positionals.isEmpty { throw UsageError(message: "unexpected argument '\(a.positionals[0])' (rule files go after --rules)") }
        let format = try a.choice("format", ["text", "markdown", "json"], default: "text")
        let err = OutputStream.standardError
        let out = OutputStream.standardOutput
        let (files, readErrors) = loadRuleFiles(a.all("rules"))
        for e in readErrors { err.line(e) }
        let loaded = RuleCompiler.load(files)
        if sub == "validate" {
            for d in loaded.diagnostics { out.line(d.description) }
            let errors = loaded.diagnostics.filter { $0.severity == .error }.count + readErrors.count
            let warnings = loaded.diagnostics.filter { $0.severity == .warning }.count
            let rules = loaded.collection.rules.count
            out.line(errors == 0
                     ? "ok: \(files.count) file(s), \(rules) rules, \(loaded.collection.macros.count) macros, \(loaded.collection.lists.count) lists\(warnings > 0 ? ", \(warnings) warning(s)" : "")"
                     : "\(errors) error(s), \(warnings) warning(s)")
            out.flush()
            return errors == 0 ? 0 : 1
        }
        guard let set = loaded.ruleSet, readErrors.isEmpty else {
            for d in loaded.diagnostics { err.line(d.description) }
            return 1
        }
        switch format {
        case "markdown":
            out.line("| rule | priority | tags | level needed | enabled | description |")
            out.line("|---|---|---|---|---|---|")
            for r in set.rules {
                let desc = r.description.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "|", with: "\\|")
                out.line("| \(r.name) | \(r.priority.name) | \(r.tags.joined(separator: ", ")) | \(r.levelNeeded.name) | \(r.enabled ? "yes" : "no") | \(desc.trimmingCharacters(in: .whitespaces)) |")
            }
        case "json":
            for r in set.rules {
                var o = "{\"rule\":"
                JSONEscaper.quote(r.name, into: &o)
                o += ",\"priority\":"
                JSONEscaper.quote(r.priority.name, into: &o)
                o += ",\"tags\":[" + r.tags.map { JSONEscaper.quote($0) }.joined(separator: ",") + "]"
                o += ",\"source\":"
                JSONEscaper.quote(r.source, into: &o)
                o += ",\"enabled\":\(r.enabled),\"level\":"
                JSONEscaper.quote(r.levelNeeded.name, into: &o)
                o += "}"
                out.line(o)
            }
        default:
            for r in set.rules {
                out.line("\(r.name)\n    priority: \(r.priority.name)  source: \(r.source)  enabled: \(r.enabled ? "yes" : "no")  level: \(r.levelNeeded.name)\n    tags: \(r.tags.joined(separator: ", "))")
            }
        }
        out.flush()
        return 0
    }
}
