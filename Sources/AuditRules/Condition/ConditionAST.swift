// The syntax tree of a Falco condition, as produced by `ConditionParser`.
//
// The tree is purely syntactic: field names are not checked against the known `ka.*`/`jevt.*`
// fields, macro references are not expanded and bare words inside lists are not yet resolved to
// list names. Those steps run later, on this tree.

/// A byte range inside a condition string.
///
/// Offsets and lengths count UTF-8 bytes of the condition text that was handed to
/// `ConditionParser.parse(_:)`, starting at 0.
public struct ConditionSpan: Sendable, Equatable, Hashable {
    /// Offset of the first byte.
    public var offset: Int
    /// Number of bytes covered (0 for a position, such as the end of the text).
    public var length: Int

    /// Creates a span of `length` bytes starting at byte `offset`.
    public init(offset: Int, length: Int) {
        self.offset = offset
        self.length = length
    }

    /// Offset just past the last byte.
    public var end: Int { self.offset + self.length }

    /// The 1-based line and column (in bytes) of `offset` inside `text`.
    ///
    /// Lines are separated by `\n`; this is meant for diagnostics only.
    public func lineAndColumn(in text: String) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        var index = 0
        for byte in text.utf8 {
            if index == self.offset { break }
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
            index += 1
        }
        return (line, column)
    }
}

/// A comparison operator of the condition language.
///
/// `==` is accepted as a spelling of `=` and parses to ``eq``.
public enum ComparisonOperator: String, Sendable, Equatable, Hashable, CaseIterable {
    case eq = "="
    case ne = "!="
    case lt = "<"
    case le = "<="
    case gt = ">"
    case ge = ">="
    case in_ = "in"
    case intersects
    case contains
    case icontains
    case startswith
    case endswith
    case glob
    case iglob
    case pmatch
    case bcontains
    case bstartswith

    /// Whether the right-hand side is a list: `(a, b)`, a list name, or `val(field)`.
    public var isListOperator: Bool {
        switch self {
        case .in_, .intersects, .pmatch: return true
        default: return false
        }
    }

    /// Whether the right-hand side must be a number (or `val(field)`).
    public var isNumericOperator: Bool {
        switch self {
        case .lt, .le, .gt, .ge: return true
        default: return false
        }
    }
}

/// A field named in a condition, such as `ka.verb` or `jevt.value[/requestObject/spec/tls]`.
public struct FieldReference: Sendable, Equatable {
    /// The dotted field name, without the argument (`ka.uri.param`).
    public var name: String
    /// The text between `[` and `]`, or `nil` when there are no brackets.
    ///
    /// A bare argument is taken verbatim (`/requestObject/spec/volumes`, `0`, `command`);
    /// a quoted one (`['a b']`) has its quotes removed and its escapes decoded.
    public var argument: String?
    /// The name and the bracketed argument, if any.
    public var span: ConditionSpan

    /// Creates a field reference.
    public init(name: String, argument: String? = nil, span: ConditionSpan) {
        self.name = name
        self.argument = argument
        self.span = span
    }
}

/// The right-hand side of a comparison.
public enum ConditionOperand: Sendable, Equatable {
    /// A single value: a bare word (`create`, `/api`, `system:anonymous`, `2`) or the decoded
    /// content of a quoted string. The span includes the quotes.
    ///
    /// After a list operator (`in`, `intersects`, `pmatch`) a `.value` is always a bare
    /// identifier written without parentheses (`ka.user.name in allowed_users`), which Falco
    /// treats as the name of a list.
    case value(String, ConditionSpan)
    /// A parenthesised list literal such as `(a, "b c", some_list)`. The span covers the parentheses.
    case list([ListItem], ConditionSpan)
    /// Another field, written `val(field)`.
    case field(FieldReference)
}

/// One item of a list literal.
public enum ListItem: Sendable, Equatable {
    /// A bare word or the decoded content of a quoted string, its span (quotes included) and
    /// whether it was quoted. A bare word may be the name of a list, to be expanded later;
    /// a quoted item is always a literal.
    case value(String, ConditionSpan, quoted: Bool)

    /// The item's text (decoded when quoted).
    public var text: String {
        switch self {
        case .value(let text, _, _): return text
        }
    }

    /// Where the item is, quotes included.
    public var span: ConditionSpan {
        switch self {
        case .value(_, let span, _): return span
        }
    }

    /// Whether the item was written as a quoted string.
    public var isQuoted: Bool {
        switch self {
        case .value(_, _, let quoted): return quoted
        }
    }
}

/// A node of a parsed condition.
///
/// `and` and `or` hold two or more children in source order; a parenthesised group does not
/// produce a node of its own. `not not x` parses to `x`, as in Falco.
public indirect enum ConditionNode: Sendable, Equatable {
    /// All children must hold.
    case and([ConditionNode])
    /// At least one child must hold.
    case or([ConditionNode])
    /// Negation.
    case not(ConditionNode)
    /// `field op value`. The span runs from the field to the end of the value.
    case compare(FieldReference, ComparisonOperator, ConditionOperand, ConditionSpan)
    /// `field exists`. The span runs from the field to the end of `exists`.
    case exists(FieldReference, ConditionSpan)
    /// A bare identifier in boolean position: a macro reference (`kevt`, `pod`).
    case reference(String, ConditionSpan)
}

// MARK: - Canonical text

extension ConditionNode: CustomStringConvertible {
    /// A compact S-expression, used by tests and diagnostics.
    ///
    /// Examples: `(and (= ka.verb "create") (not (ref pod)))`,
    /// `(in ka.target.namespace (kube-system "kube public" my_list))`,
    /// `(exists jevt.value[/requestObject/spec/tls])`, `(= ka.user.name (val ka.auth.reason))`.
    /// Values are always quoted; list items are quoted only when they were quoted in the source;
    /// `"` and `\` inside quotes are escaped with a backslash.
    public var description: String {
        var out = ""
        self.write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .and(let children), .or(let children):
            out += self.isAnd ? "(and" : "(or"
            for child in children {
                out += " "
                child.write(to: &out)
            }
            out += ")"
        case .not(let child):
            out += "(not "
            child.write(to: &out)
            out += ")"
        case .compare(let field, let op, let operand, _):
            out += "(\(op.rawValue) \(field.canonicalText) "
            switch operand {
            case .value(let text, _):
                out += ConditionNode.quoted(text)
            case .list(let items, _):
                out += "("
                out += items.map { $0.isQuoted ? ConditionNode.quoted($0.text) : $0.text }.joined(separator: " ")
                out += ")"
            case .field(let other):
                out += "(val \(other.canonicalText))"
            }
            out += ")"
        case .exists(let field, _):
            out += "(exists \(field.canonicalText))"
        case .reference(let name, _):
            out += "(ref \(name))"
        }
    }

    private var isAnd: Bool {
        if case .and = self { return true }
        return false
    }

    private static func quoted(_ text: String) -> String {
        var out = "\""
        for character in text {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        out += "\""
        return out
    }
}

extension FieldReference {
    /// `name` or `name[argument]`, as used in the canonical text.
    var canonicalText: String {
        guard let argument = self.argument else { return self.name }
        return "\(self.name)[\(argument)]"
    }
}

// MARK: - Errors

/// A syntax error in a condition: a short message and where it was found.
public struct ConditionSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, e.g. `unknown operator 'startwith'`. Does not repeat the position.
    public var message: String
    /// The offending bytes, or an empty span at the position where something was expected.
    public var span: ConditionSpan

    /// Creates an error.
    public init(message: String, span: ConditionSpan) {
        self.message = message
        self.span = span
    }

    /// `message (at offset N)`.
    public var description: String { "\(self.message) (at offset \(self.span.offset))" }
}
