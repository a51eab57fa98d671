/// A usage error: exit status 2 with the message and the command's help hint.
struct UsageError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// A small, strict command-line parser: `--name value`, `--name=value`, boolean flags, repeatable
/// options, `--` to end options, and positional arguments (`-` is a positional: stdin).
struct Arguments {
    private(set) var values: [String: [String]] = [:]
    private(set) var flags: Set<String> = []
    private(set) var positionals: [String] = []

    /// - Parameters:
    ///   - options: names (without `--`) that take a value.
    ///   - booleans: names that take no value.
    init(_ args: [String], options: Set<String>, booleans: Set<String>) throws(UsageError) {
        var i = 0
        var onlyPositionals = false
        while i < args.count {
            let a = args[i]
            i += 1
            if onlyPositionals || a == "-" || !a.hasPrefix("-") {
                positionals.append(a)
                continue
            }
            if a == "--" { onlyPositionals = true; continue }
            var name = String(a.drop(while: { $0 == "-" }))
            var inline: String? = nil
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            if a.hasPrefix("-") && !a.hasPrefix("--") {
                // Short forms.
                switch name {
                case "h": name = "help"
                case "w": name = "workers"
                case "r": name = "rules"
                case "f": name = "format"
                default: throw UsageError(message: "unknown option '\(a)'")
                }
            }
            if booleans.contains(name) {
                if inline != nil { throw UsageError(message: "option '--\(name)' takes no value") }
                flags.insert(name)
            } else if options.contains(name) {
                let value: String
                if let inline {
                    value = inline
                } else {
                    guard i < args.count else { throw UsageError(message: "option '--\(name)' needs a value") }
                    value = args[i]
                    i += 1
                }
                values[name, default: []].append(value)
            } else {
                throw UsageError(message: "unknown option '--\(name)'")
            }
        }
    }

    func has(_ flag: String) -> Bool { flags.contains(flag) }

    func value(_ name: String) -> String? { values[name]?.last }

    func all(_ name: String) -> [String] { values[name] ?? [] }

    func int(_ name: String, default d: Int, range: ClosedRange<Int>) throws(UsageError) -> Int {
        guard let v = value(name) else { return d }
        guard let n = Int(v), range.contains(n) else {
            throw UsageError(message: "--\(name) must be a number in \(range.lowerBound)...\(range.upperBound), not '\(v)'")
        }
        return n
    }

    func choice(_ name: String, _ allowed: [String], default d: String) throws(UsageError) -> String {
        guard let v = value(name) else { return d }
        guard allowed.contains(v) else {
            throw UsageError(message: "--\(name) must be one of \(allowed.joined(separator: ", ")), not '\(v)'")
        }
        return v
    }

    /// Parses sizes like `64MiB`, `64MB`, `1G`, `4096`.
    func size(_ name: String, default d: Int) throws(UsageError) -> Int {
        guard let v = value(name) else { return d }
        guard let n = parseSize(v) else { throw UsageError(message: "--\(name): '\(v)' is not a size (e.g. 64MiB)") }
        return n
    }
}

func parseSize(_ text: String) -> Int? {
    let lower = text.lowercased()
    let digits = lower.prefix { $0.isNumber }
    guard let n = Int(digits), n > 0 else { return nil }
    let unit = lower.dropFirst(digits.count)
    let multiplier: Int
    switch unit {
    case "", "b": multiplier = 1
    case "k", "kb", "kib": multiplier = 1 << 10
    case "m", "mb", "mib": multiplier = 1 << 20
    case "g", "gb", "gib": multiplier = 1 << 30
    default: return nil
    }
    let (bytes, overflow) = n.multipliedReportingOverflow(by: multiplier)
    return overflow ? nil : bytes
}
