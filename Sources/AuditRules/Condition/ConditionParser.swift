// The parser of Falco's condition language (the `condition:` of rules and macros).
//
// Grammar (EBNF; quoted text is literal, case-sensitive):
//
//     Condition    ::= Blank* OrExpr Blank* END
//     OrExpr       ::= AndExpr ( 'or' Sep AndExpr )*
//     AndExpr      ::= NotExpr ( 'and' Sep NotExpr )*
//     NotExpr      ::= ( 'not' Sep )* Primary
//     Primary      ::= '(' OrExpr ')' | Check | MacroName
//     Sep          ::= Blank+ | (nothing, when '(' follows)
//     Check        ::= Field Blank* ( 'exists'
//                                   | NumOp Blank* ( Number | Val )
//                                   | StrOp Blank* ( Quoted | Bare | Val )
//                                   | ListOp Blank* ( List | Identifier | Val ) )
//     Field        ::= FieldName ( '[' ( Quoted | BareArg ) ']' )?
//     Val          ::= 'val(' Blank* Field Blank* ')'
//     List         ::= '(' Blank* ( Item ( Blank* ',' Blank* Item )* Blank* )? ')'
//     Item         ::= Quoted | Bare
//     NumOp        ::= '<=' | '<' | '>=' | '>'
//     StrOp        ::= '==' | '=' | '!=' | ( 'contains' | 'icontains' | 'bcontains' | 'startswith'
//                      | 'bstartswith' | 'endswith' | 'glob' | 'iglob' ) Blank
//     ListOp       ::= 'in' | 'intersects' | 'pmatch'
//
//     Blank        ::= ' ' | '\t' | '\b' | '\r' | '\n'
//     MacroName    ::= Identifier   (not 'and', 'or', 'not')
//     Identifier   ::= [A-Za-z][A-Za-z0-9_]*
//     FieldName    ::= Identifier ( '.' Identifier )+
//     BareArg      ::= [^ Blank [ ] " ']+
//     Bare         ::= [^ Blank ( ) , = " ']+
//     Number       ::= [+-]?[0-9]+ '.'? [0-9]* ( [eE] [+-] [0-9]+ )? | '0' [xX] [0-9A-Za-z]+
//     Quoted       ::= '"' ... '"' | "'" ... "'"   (backslash escapes: see ConditionLexer)
//
// This follows falcosecurity/libs `userspace/libsinsp/filter/parser.h`:
// - Precedence: `not` binds tightest, then `and`, then `or`. Mixing `and` and `or` without
//   parentheses is allowed (Falco accepts `a.a=1 or b.b=2 and c`). Chains are n-ary and keep
//   source order; parentheses do not flatten (`(a and b) and c` is `and(and(a, b), c)`).
// - `not not x` cancels out, as in Falco.
// - A name is a field when it contains a dot (`ka.verb`, `jevt.value`), otherwise a macro
//   reference. The parser does not check that the field exists: that is the binder's job.
// - The right-hand side of `=` is never a field unless written `val(field)`; `ka.a = ka.b`
//   compares with the literal text "ka.b", as in Falco.
// - After `in`/`intersects`/`pmatch`, a bare identifier without parentheses
//   (`ka.user.name in allowed_users`) is accepted and becomes `.value`, naming a list.
// Deliberate differences from Falco, all on inputs no real rule uses:
// - Operators and keywords are whole words: Falco accepts `x.y existsand m` (prefix match),
//   we reject it; `x.y inlist` is an unknown operator here, `in` + list name `list` in Falco.
// - `and`, `or` and a lone `not` are never macro names (Falco reads `a and not` as a macro
//   called `not`).
// - The field transformers `tolower(`, `toupper(`, `b64(`, `basename(` are rejected as
//   "not supported"; `val(field)` is supported on the right-hand side.
// - A string ends at the first quote not preceded by an escaping backslash, so `"a\\"` is the
//   one-character string `a\` (Falco keeps scanning past that quote).
// - Nesting of parentheses is capped at `ConditionParser.maxNestingDepth` levels, and the
//   parser keeps its own stack, so deep input never overflows the thread stack.

/// Parses condition strings into a `ConditionNode` tree.
///
/// ```swift
/// let node = try ConditionParser.parse("kevt and pod and not ka.user.name in (admin, 'ops team')")
/// print(node)  // (and (ref kevt) (ref pod) (not (in ka.user.name (admin "ops team"))))
/// ```
///
/// Parsing runs in time linear in the length of the text and stops at the first error.
public enum ConditionParser {
    /// Maximum number of nested parentheses in boolean position.
    public static let maxNestingDepth = 100
    /// Maximum length of a condition, in UTF-8 bytes.
    public static let maxLength = 1 << 20

    /// Parses one condition.
    ///
    /// - Throws: `ConditionSyntaxError` with a short message and the span of the problem.
    public static func parse(_ text: String) throws(ConditionSyntaxError) -> ConditionNode {
        var parser = ConditionParserEngine(text)
        return try parser.parseCondition()
    }
}

/// The parser proper: a loop with an explicit stack of open parentheses.
struct ConditionParserEngine {
    /// An open parenthesised group (or the whole condition at the bottom of the stack).
    private struct Group {
        /// Completed `or` operands.
        var orTerms: [ConditionNode] = []
        /// Completed operands of the current `and` chain.
        var andTerms: [ConditionNode] = []
        /// Whether an odd number of `not` preceded the `(`.
        var negated: Bool
        /// Offset of the `(`, or -1 for the whole condition.
        var openOffset: Int
    }

    private var lexer: ConditionLexer

    private static let transformers: Set<String> = ["tolower", "toupper", "b64", "basename"]

    init(_ text: String) {
        self.lexer = ConditionLexer(text)
    }

    // MARK: Boolean structure

    mutating func parseCondition() throws(ConditionSyntaxError) -> ConditionNode {
        let count = self.lexer.bytes.count
        guard count <= ConditionParser.maxLength else {
            throw ConditionSyntaxError(
                message: "condition is too long (more than \(ConditionParser.maxLength) bytes)",
                span: ConditionSpan(offset: ConditionParser.maxLength, length: count - ConditionParser.maxLength))
        }
        self.lexer.skipBlanks()
        guard !self.lexer.isAtEnd else {
            throw ConditionSyntaxError(message: "condition is empty", span: ConditionSpan(offset: count, length: 0))
        }

        var groups = [Group(negated: false, openOffset: -1)]
        // The token consumed just before the expression we expect, for messages.
        var context: String? = nil

        while true {
            var operand = try self.parseOperand(groups: &groups, context: &context)

            // After an operand: 'and', 'or', ')' or the end.
            while true {
                self.lexer.skipBlanks()
                guard let byte = self.lexer.current else {
                    if groups.count > 1 {
                        throw ConditionSyntaxError(
                            message: "expected ')' to close '(' at offset \(groups[groups.count - 1].openOffset)",
                            span: ConditionSpan(offset: count, length: 0))
                    }
                    return Self.fold(groups[0], operand)
                }
                if byte == UInt8(ascii: ")") {
                    guard groups.count > 1 else {
                        throw ConditionSyntaxError(
                            message: "unexpected ')' without a matching '('",
                            span: ConditionSpan(offset: self.lexer.position, length: 1))
                    }
                    let group = groups.removeLast()
                    operand = Self.fold(group, operand)
                    if group.negated { operand = .not(operand) }
                    self.lexer.position += 1
                    continue
                }
                if ConditionLexer.isLetter(byte) {
                    let start = self.lexer.position
                    let word = self.lexer.text(self.lexer.scanWord())
                    if word == "and" || word == "or" {
                        try self.expectSeparator(after: word)
                        let top = groups.count - 1
                        groups[top].andTerms.append(operand)
                        if word == "or" {
                            let terms = groups[top].andTerms
                            groups[top].andTerms = []
                            groups[top].orTerms.append(terms.count == 1 ? terms[0] : .and(terms))
                        }
                        context = "'\(word)'"
                        break
                    }
                    self.lexer.position = start
                }
                let found = self.lexer.describeToken(at: self.lexer.position)
                let expected = groups.count > 1 ? "'and', 'or' or ')'" : "'and', 'or' or end of condition"
                throw ConditionSyntaxError(message: "unexpected \(found.text); expected \(expected)", span: found.span)
            }
        }
    }

    /// Requires a blank or `(` after the keyword `and`/`or`/`not` just scanned.
    private func expectSeparator(after keyword: String) throws(ConditionSyntaxError) {
        guard let next = self.lexer.current else {
            throw ConditionSyntaxError(
                message: "expected an expression after '\(keyword)'",
                span: ConditionSpan(offset: self.lexer.position, length: 0))
        }
        guard ConditionLexer.isBlank(next) || next == UInt8(ascii: "(") else {
            throw ConditionSyntaxError(
                message: "expected a blank or '(' after '\(keyword)'",
                span: ConditionSpan(offset: self.lexer.position, length: 1))
        }
    }

    /// Parses `not`* and then a check, a macro reference, or `(` (which opens a group and loops).
    private mutating func parseOperand(
        groups: inout [Group], context: inout String?
    ) throws(ConditionSyntaxError) -> ConditionNode {
        var negated = false
        while true {
            self.lexer.skipBlanks()
            let start = self.lexer.position
            guard let byte = self.lexer.current else {
                throw self.expectedExpression(context: context)
            }
            if byte == UInt8(ascii: "(") {
                guard groups.count <= ConditionParser.maxNestingDepth else {
                    throw ConditionSyntaxError(
                        message: "too many nested parentheses (more than \(ConditionParser.maxNestingDepth))",
                        span: ConditionSpan(offset: start, length: 1))
                }
                groups.append(Group(negated: negated, openOffset: start))
                negated = false
                context = "'('"
                self.lexer.position += 1
                continue
            }
            guard ConditionLexer.isLetter(byte) else {
                throw self.expectedExpression(context: context)
            }

            let (range, isField) = self.lexer.scanName()
            if isField {
                let node = try self.parseCheck(fieldRange: range)
                return negated ? .not(node) : node
            }
            let word = self.lexer.text(range)
            let next = self.lexer.current
            switch word {
            case "not":
                if next == nil || next == UInt8(ascii: ")") {
                    throw ConditionSyntaxError(
                        message: "expected an expression after 'not'",
                        span: ConditionSpan(offset: self.lexer.position, length: next == nil ? 0 : 1))
                }
                try self.expectSeparator(after: word)
                negated.toggle()
                context = "'not'"
                continue
            case "and", "or":
                self.lexer.position = start
                throw self.expectedExpression(context: context)
            default:
                break
            }
            if next == UInt8(ascii: "(") {
                let message: String
                if word == "val" {
                    message = "'val()' is only allowed on the right of a comparison"
                } else if Self.transformers.contains(word) {
                    message = "field transformer '\(word)()' is not supported"
                } else {
                    message = "unknown function '\(word)()'"
                }
                throw ConditionSyntaxError(message: message, span: ConditionSpan(offset: start, length: range.count + 1))
            }
            if self.looksLikeOperatorAhead() {
                throw ConditionSyntaxError(
                    message: "'\(word)' is a macro name, not a field (field names contain a dot)",
                    span: ConditionSpan(offset: start, length: range.count))
            }
            let node = ConditionNode.reference(word, ConditionSpan(offset: start, length: range.count))
            return negated ? .not(node) : node
        }
    }

    /// Whether an operator (or `[`) follows, after blanks. Does not move the cursor.
    private func looksLikeOperatorAhead() -> Bool {
        var probe = self.lexer
        probe.skipBlanks()
        guard let byte = probe.current else { return false }
        switch byte {
        case UInt8(ascii: "="), UInt8(ascii: "!"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "["):
            return true
        default:
            guard ConditionLexer.isLetter(byte) else { return false }
            let word = probe.text(probe.scanWord())
            return word == "exists" || Self.wordOperator(word) != nil
        }
    }

    private func expectedExpression(context: String?) -> ConditionSyntaxError {
        let position = self.lexer.position
        var message = "expected an expression"
        if let context { message += " after \(context)" }
        if position >= self.lexer.bytes.count {
            return ConditionSyntaxError(message: message, span: ConditionSpan(offset: position, length: 0))
        }
        let found = self.lexer.describeToken(at: position)
        return ConditionSyntaxError(message: "\(message), found \(found.text)", span: found.span)
    }

    /// Closes a group whose last operand is `last`.
    private static func fold(_ group: Group, _ last: ConditionNode) -> ConditionNode {
        var andTerms = group.andTerms
        andTerms.append(last)
        let conjunction = andTerms.count == 1 ? andTerms[0] : .and(andTerms)
        if group.orTerms.isEmpty { return conjunction }
        var orTerms = group.orTerms
        orTerms.append(conjunction)
        return .or(orTerms)
    }

    // MARK: Checks

    /// The operators spelled as words (everything but `exists` and the symbols).
    private static func wordOperator(_ word: String) -> ComparisonOperator? {
        switch word {
        case "in": return .in_
        case "intersects": return .intersects
        case "pmatch": return .pmatch
        case "contains": return .contains
        case "icontains": return .icontains
        case "bcontains": return .bcontains
        case "startswith": return .startswith
        case "bstartswith": return .bstartswith
        case "endswith": return .endswith
        case "glob": return .glob
        case "iglob": return .iglob
        default: return nil
        }
    }

    /// Parses the rest of a check after its field name: `[arg]`, the operator and the value.
    private mutating func parseCheck(fieldRange: Range<Int>) throws(ConditionSyntaxError) -> ConditionNode {
        let field = try self.parseFieldRemainder(nameRange: fieldRange)
        let start = fieldRange.lowerBound
        self.lexer.skipBlanks()

        // Operator.
        let opStart = self.lexer.position
        guard let byte = self.lexer.current else {
            throw ConditionSyntaxError(
                message: "expected an operator after '\(field.canonicalText)'",
                span: ConditionSpan(offset: opStart, length: 0))
        }
        let op: ComparisonOperator
        switch byte {
        case UInt8(ascii: "="):
            self.lexer.position += self.lexer.byte(at: opStart + 1) == UInt8(ascii: "=") ? 2 : 1
            op = .eq
        case UInt8(ascii: "!") where self.lexer.byte(at: opStart + 1) == UInt8(ascii: "="):
            self.lexer.position += 2
            op = .ne
        case UInt8(ascii: "<"), UInt8(ascii: ">"):
            let orEqual = self.lexer.byte(at: opStart + 1) == UInt8(ascii: "=")
            self.lexer.position += orEqual ? 2 : 1
            if byte == UInt8(ascii: "<") {
                op = orEqual ? .le : .lt
            } else {
                op = orEqual ? .ge : .gt
            }
        case _ where ConditionLexer.isLetter(byte):
            let wordRange = self.lexer.scanWord()
            let word = self.lexer.text(wordRange)
            if word == "exists" {
                return .exists(field, ConditionSpan(offset: start, length: self.lexer.position - start))
            }
            guard let wordOp = Self.wordOperator(word) else {
                throw ConditionSyntaxError(
                    message: "unknown operator '\(word)'",
                    span: ConditionSpan(offset: wordRange.lowerBound, length: wordRange.count))
            }
            if !wordOp.isListOperator, let next = self.lexer.current, !ConditionLexer.isBlank(next) {
                throw ConditionSyntaxError(
                    message: "expected a blank after '\(word)'",
                    span: ConditionSpan(offset: self.lexer.position, length: 1))
            }
            op = wordOp
        default:
            let found = self.lexer.describeToken(at: opStart)
            throw ConditionSyntaxError(
                message: "expected an operator after '\(field.canonicalText)', found \(found.text)",
                span: found.span)
        }
        let opText = self.lexer.text(opStart..<self.lexer.position)

        // Value.
        self.lexer.skipBlanks()
        let operand = try self.parseValue(for: op, spelled: opText)
        return .compare(field, op, operand, ConditionSpan(offset: start, length: self.lexer.position - start))
    }

    /// Parses the optional `[argument]` right after a field name.
    private mutating func parseFieldRemainder(nameRange: Range<Int>) throws(ConditionSyntaxError) -> FieldReference {
        let name = self.lexer.text(nameRange)
        let start = nameRange.lowerBound
        guard self.lexer.current == UInt8(ascii: "[") else {
            return FieldReference(name: name, argument: nil, span: ConditionSpan(offset: start, length: nameRange.count))
        }
        let open = self.lexer.position
        self.lexer.position += 1
        let unclosed = ConditionSyntaxError(
            message: "expected ']' to close '[' at offset \(open)",
            span: ConditionSpan(offset: self.lexer.bytes.count, length: 0))
        guard let first = self.lexer.current else { throw unclosed }

        let argument: String
        if first == UInt8(ascii: "\"") || first == UInt8(ascii: "'") {
            argument = try self.lexer.scanQuotedString().value
        } else {
            let range = self.lexer.scanBareArgument()
            if range.isEmpty && self.lexer.current == UInt8(ascii: "]") {
                throw ConditionSyntaxError(
                    message: "empty field argument",
                    span: ConditionSpan(offset: open, length: 2))
            }
            argument = self.lexer.text(range)
        }
        guard let close = self.lexer.current else { throw unclosed }
        guard close == UInt8(ascii: "]") else {
            let found = self.lexer.describeToken(at: self.lexer.position)
            let hint = ConditionLexer.isBlank(close) ? " (quote the argument)" : ""
            throw ConditionSyntaxError(message: "unexpected \(found.text) in field argument\(hint)", span: found.span)
        }
        self.lexer.position += 1
        return FieldReference(name: name, argument: argument, span: ConditionSpan(offset: start, length: self.lexer.position - start))
    }

    /// Parses the right-hand side of `op` at the cursor (blanks already skipped).
    private mutating func parseValue(
        for op: ComparisonOperator, spelled opText: String
    ) throws(ConditionSyntaxError) -> ConditionOperand {
        let start = self.lexer.position
        guard let byte = self.lexer.current, byte != UInt8(ascii: ")"), byte != UInt8(ascii: ","),
            byte != UInt8(ascii: "=")
        else {
            throw ConditionSyntaxError(
                message: "expected a value after '\(opText)'",
                span: ConditionSpan(offset: start, length: self.lexer.isAtEnd ? 0 : 1))
        }
        let isQuote = byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")

        if op.isListOperator {
            if byte == UInt8(ascii: "(") {
                return try self.parseList()
            }
            let range = isQuote ? start..<start : self.lexer.scanBareValue()
            if self.lexer.current == UInt8(ascii: "(") && !range.isEmpty {
                return try self.parseFunctionOperand(nameRange: range)
            }
            guard !range.isEmpty, Self.isIdentifier(self.lexer.bytes[range]) else {
                let found = isQuote ? "a quoted string" : "'\(self.lexer.text(range))'"
                throw ConditionSyntaxError(
                    message: "expected '(' or a list name after '\(opText)', found \(found)",
                    span: ConditionSpan(offset: start, length: max(range.count, 1)))
            }
            return .value(self.lexer.text(range), ConditionSpan(offset: start, length: range.count))
        }

        if byte == UInt8(ascii: "(") {
            throw ConditionSyntaxError(
                message: "a list is not allowed after '\(opText)' (only after 'in', 'intersects', 'pmatch')",
                span: ConditionSpan(offset: start, length: 1))
        }
        if isQuote {
            if op.isNumericOperator {
                throw ConditionSyntaxError(
                    message: "expected a number after '\(opText)', found a quoted string",
                    span: ConditionSpan(offset: start, length: 1))
            }
            let (value, range) = try self.lexer.scanQuotedString()
            return .value(value, ConditionSpan(offset: start, length: range.count))
        }
        let range = self.lexer.scanBareValue()
        if self.lexer.current == UInt8(ascii: "(") {
            return try self.parseFunctionOperand(nameRange: range)
        }
        if op.isNumericOperator && !self.lexer.isNumber(range) {
            throw ConditionSyntaxError(
                message: "expected a number after '\(opText)', found '\(self.lexer.text(range))'",
                span: ConditionSpan(offset: start, length: range.count))
        }
        return .value(self.lexer.text(range), ConditionSpan(offset: start, length: range.count))
    }

    /// `[A-Za-z][A-Za-z0-9_]*`
    private static func isIdentifier(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let first = bytes.first, ConditionLexer.isLetter(first) else { return false }
        return bytes.allSatisfy(ConditionLexer.isIdentifierByte)
    }

    /// Parses `val(field)` with the cursor on `(`; rejects transformers and other calls.
    private mutating func parseFunctionOperand(nameRange: Range<Int>) throws(ConditionSyntaxError) -> ConditionOperand {
        let name = self.lexer.text(nameRange)
        let open = self.lexer.position
        guard name == "val" else {
            let message = Self.transformers.contains(name)
                ? "field transformer '\(name)()' is not supported"
                : "unexpected '(' after '\(name)'"
            let span = Self.transformers.contains(name)
                ? ConditionSpan(offset: nameRange.lowerBound, length: nameRange.count + 1)
                : ConditionSpan(offset: open, length: 1)
            throw ConditionSyntaxError(message: message, span: span)
        }
        self.lexer.position += 1
        self.lexer.skipBlanks()
        guard let byte = self.lexer.current, ConditionLexer.isLetter(byte) else {
            throw ConditionSyntaxError(
                message: "expected a field name inside 'val()'",
                span: ConditionSpan(offset: self.lexer.position, length: self.lexer.isAtEnd ? 0 : 1))
        }
        let (range, isField) = self.lexer.scanName()
        guard isField else {
            throw ConditionSyntaxError(
                message: "expected a field name inside 'val()', found '\(self.lexer.text(range))'",
                span: ConditionSpan(offset: range.lowerBound, length: range.count))
        }
        let field = try self.parseFieldRemainder(nameRange: range)
        self.lexer.skipBlanks()
        guard self.lexer.current == UInt8(ascii: ")") else {
            throw ConditionSyntaxError(
                message: "expected ')' to close 'val(' at offset \(open)",
                span: ConditionSpan(offset: self.lexer.position, length: self.lexer.isAtEnd ? 0 : 1))
        }
        self.lexer.position += 1
        return .field(field)
    }

    /// Parses a list literal with the cursor on `(`.
    private mutating func parseList() throws(ConditionSyntaxError) -> ConditionOperand {
        let open = self.lexer.position
        self.lexer.position += 1
        var items: [ListItem] = []
        let unclosed = ConditionSyntaxError(
            message: "expected ')' to close '(' at offset \(open)",
            span: ConditionSpan(offset: self.lexer.bytes.count, length: 0))

        self.lexer.skipBlanks()
        if self.lexer.current == UInt8(ascii: ")") {
            self.lexer.position += 1
            return .list([], ConditionSpan(offset: open, length: self.lexer.position - open))
        }
        while true {
            self.lexer.skipBlanks()
            let itemStart = self.lexer.position
            guard let byte = self.lexer.current else { throw unclosed }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                let (value, range) = try self.lexer.scanQuotedString()
                items.append(.value(value, ConditionSpan(offset: itemStart, length: range.count), quoted: true))
            } else if ConditionLexer.isBareValueByte(byte) {
                let range = self.lexer.scanBareValue()
                items.append(.value(self.lexer.text(range), ConditionSpan(offset: itemStart, length: range.count), quoted: false))
            } else if byte == UInt8(ascii: "(") {
                throw ConditionSyntaxError(
                    message: "nested lists are not supported (use a list name)",
                    span: ConditionSpan(offset: itemStart, length: 1))
            } else {
                let found = self.lexer.describeToken(at: itemStart)
                let after = items.isEmpty ? "" : " after ','"
                throw ConditionSyntaxError(message: "expected a list item\(after), found \(found.text)", span: found.span)
            }

            self.lexer.skipBlanks()
            guard let next = self.lexer.current else { throw unclosed }
            if next == UInt8(ascii: ",") {
                self.lexer.position += 1
                continue
            }
            if next == UInt8(ascii: ")") {
                self.lexer.position += 1
                return .list(items, ConditionSpan(offset: open, length: self.lexer.position - open))
            }
            let found = self.lexer.describeToken(at: self.lexer.position)
            throw ConditionSyntaxError(message: "expected ',' or ')' in list, found \(found.text)", span: found.span)
        }
    }
}
