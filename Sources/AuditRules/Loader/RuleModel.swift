/// Falco's priorities, most severe first.
public enum Priority: Int, Sendable, CaseIterable, Comparable {
    case emergency = 0, alert, critical, error, warning, notice, informational, debug

    /// Orders by severity: `a < b` when `a` is less severe than `b`.
    public static func < (a: Priority, b: Priority) -> Bool { a.rawValue > b.rawValue }

    /// Falco's long name, as in its JSON alerts (`Warning`, `Informational`).
    public var name: String {
        switch self {
        case .emergency: return "Emergency"
        case .alert: return "Alert"
        case .critical: return "Critical"
        case .error: return "Error"
        case .warning: return "Warning"
        case .notice: return "Notice"
        case .informational: return "Informational"
        case .debug: return "Debug"
        }
    }

    /// Parses a priority case-insensitively; `info` is `Informational`.
    public init?(parsing text: String) {
        switch text.lowercased() {
        case "emergency": self = .emergency
        case "alert": self = .alert
        case "critical": self = .critical
        case "error": self = .error
        case "warning", "warn": self = .warning
        case "notice": self = .notice
        case "informational", "info": self = .informational
        case "debug": self = .debug
        default: return nil
        }
    }
}

/// A place in a rule file.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var column: Int

    public init(path: String, line: Int, column: Int) {
        self.path = path
        self.line = line
        self.column = column
    }

    public var description: String { "\(path):\(line):\(column)" }
}

/// A problem found while loading rules: `path:line:column: severity: message`, with the offending text.
public struct RuleDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning, notice }
    public var location: SourceLocation
    public var severity: Severity
    public var message: String
    /// The offending text (a field name, a condition fragment, a YAML line), when known.
    public var snippet: String?

    public init(_ location: SourceLocation, _ severity: Severity, _ message: String, snippet: String? = nil) {
        self.location = location
        self.severity = severity
        self.message = message
        self.snippet = snippet
    }

    public var description: String {
        var s = "\(location): \(severity.rawValue): \(message)"
        if let snippet, !snippet.isEmpty { s += "\n    \(snippet)" }
        return s
    }
}

/// A string from a rule file with enough information to turn an offset inside it back into a file
/// position (for condition errors).
public struct LocatedText: Sendable {
    public var text: String
    /// The position of the first character of `text`.
    public var location: SourceLocation
    /// For multi-line scalars: where each source line's content starts in `text` (UTF-8 offsets).
    public var lineStarts: [(offset: Int, line: Int, column: Int)]

    public init(text: String, location: SourceLocation, lineStarts: [(offset: Int, line: Int, column: Int)] = []) {
        self.text = text
        self.location = location
        self.lineStarts = lineStarts
    }

    /// The file position of the UTF-8 offset `offset` inside `text` (columns count Unicode scalars, as
    /// the YAML reader's do).
    public func location(ofOffset offset: Int) -> SourceLocation {
        var best = (offset: 0, line: location.line, column: location.column)
        for start in lineStarts where start.offset <= offset { best = start }
        var l = location
        l.line = best.line
        var columns = 0
        var index = 0
        for byte in text.utf8 {
            if index >= offset { break }
            if index >= best.offset && byte & 0xC0 != 0x80 { columns += 1 }
            index += 1
        }
        l.column = best.column + columns + max(0, offset - index)
        return l
    }
}

/// A condition assembled from one or more pieces of rule-file text (Falco's `append` concatenates
/// condition text with a space), able to map an offset back to the piece's file position.
public struct ConditionText: Sendable {
    public private(set) var pieces: [LocatedText]
    public private(set) var text: String

    public init(_ first: LocatedText) {
        self.pieces = [first]
        self.text = first.text
    }

    /// Appends a piece (joined with a space).
    public mutating func append(_ piece: LocatedText) {
        pieces.append(piece)
        text += " " + piece.text
    }

    /// The file position of a UTF-8 offset in ``text``.
    public func location(ofOffset offset: Int) -> SourceLocation {
        var start = 0
        for (i, piece) in pieces.enumerated() {
            let length = piece.text.utf8.count
            if offset <= start + length || i == pieces.count - 1 {
                return piece.location(ofOffset: max(0, offset - start))
            }
            start += length + 1
        }
        return pieces[0].location
    }
}

/// One exception of a rule (Falco's `exceptions:` entries).
public struct RuleException: Sendable {
    public var name: String
    /// One field, or a tuple of fields.
    public var fields: [String]
    public var fieldsIsList: Bool
    public var comps: [String]
    /// Each value tuple; an element may itself be a list of values.
    public var values: [[[String]]]
    public var location: SourceLocation
    /// Whether the item gave `fields` / `comps` (an exception appended to an existing one of the same
    /// name may only add values).
    public var hasFields = true
    public var hasComps = true
}

/// A rule after all files were collected (appends and overrides applied).
public struct RuleDefinition: Sendable {
    public var name: String
    public var condition: ConditionText
    /// The output template, and where its pieces come from (appends join pieces with a space).
    public var outputSource: ConditionText
    public var output: String { outputSource.text }
    public var priority: Priority
    public var description: String
    public var tags: [String]
    public var enabled: Bool
    public var source: String
    public var exceptions: [RuleException]
    public var location: SourceLocation
    /// Position in load order.
    public var order: Int
    /// The `aggregate:` settings of a stateful rule (nil: an ordinary rule, one alert per matching event).
    public var aggregate: AggregateSpec? = nil
}

public struct MacroDefinition: Sendable {
    public var name: String
    public var condition: ConditionText
    public var location: SourceLocation
}

public struct ListDefinition: Sendable {
    public var name: String
    public var items: [String]
    public var location: SourceLocation
}
