// Recursive-descent parser over normalized UTF-8 bytes: cursor, document and block structure.
// Scalars live in YAMLParser+Scalars.swift, flow collections in YAMLParser+Flow.swift.
//
// Indentation model (as in the YAML spec): every node is parsed with the indentation `n` of
// the block collection that contains it (-1 for the document root). Continuation lines of
// multi-line plain and quoted scalars must be indented more than `n` (so that a missing
// closing quote cannot swallow the next key); lines inside flow collections must be indented
// at least `n`; block scalar content must be indented more than `n`.

/// Byte constants.
enum YAMLChar {
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let bang: UInt8 = 0x21        // !
    static let dquote: UInt8 = 0x22      // "
    static let hash: UInt8 = 0x23        // #
    static let percent: UInt8 = 0x25     // %
    static let ampersand: UInt8 = 0x26   // &
    static let squote: UInt8 = 0x27      // '
    static let asterisk: UInt8 = 0x2A    // *
    static let plus: UInt8 = 0x2B        // +
    static let comma: UInt8 = 0x2C       // ,
    static let dash: UInt8 = 0x2D        // -
    static let dot: UInt8 = 0x2E         // .
    static let zero: UInt8 = 0x30        // 0
    static let nine: UInt8 = 0x39        // 9
    static let colon: UInt8 = 0x3A       // :
    static let greater: UInt8 = 0x3E     // >
    static let question: UInt8 = 0x3F    // ?
    static let at: UInt8 = 0x40          // @
    static let lbracket: UInt8 = 0x5B    // [
    static let backslash: UInt8 = 0x5C   // \
    static let rbracket: UInt8 = 0x5D    // ]
    static let backtick: UInt8 = 0x60    // `
    static let lbrace: UInt8 = 0x7B      // {
    static let pipe: UInt8 = 0x7C        // |
    static let rbrace: UInt8 = 0x7D      // }

    /// The byte as a character, for messages.
    static func show(_ byte: UInt8) -> String {
        String(UnicodeScalar(byte))
    }
}

struct YAMLParser {
    /// The input: UTF-8, every line break is `\n`, no NUL (so 0 can mean "end of input").
    let b: [UInt8]
    let maxDepth: Int
    /// Cursor.
    var i = 0
    /// 1-based line number of the line that contains `i`.
    var line = 1
    /// Index of the first byte of that line.
    var lineStart = 0
    /// Current collection nesting.
    var depth = 0
    // Column cache, so that computing columns along one long line stays linear.
    private var columnCacheLineStart = -1
    private var columnCacheIndex = 0
    private var columnCacheColumn = 1

    init(bytes: [UInt8], maxDepth: Int) {
        self.b = bytes
        self.maxDepth = maxDepth
    }

    // MARK: Cursor

    /// The byte at `k`, or 0 past the end.
    @inline(__always) func byte(_ k: Int) -> UInt8 { k < self.b.count ? self.b[k] : 0 }
    var current: UInt8 { self.byte(self.i) }
    @inline(__always) static func isBlank(_ c: UInt8) -> Bool { c == YAMLChar.space || c == YAMLChar.tab }
    @inline(__always) static func isBreakOrEnd(_ c: UInt8) -> Bool { c == YAMLChar.lf || c == 0 }
    @inline(__always) static func isFlowIndicator(_ c: UInt8) -> Bool {
        c == YAMLChar.comma || c == YAMLChar.lbracket || c == YAMLChar.rbracket
            || c == YAMLChar.lbrace || c == YAMLChar.rbrace
    }
    /// Blank, line break or end of input at `k`.
    func isSeparator(at k: Int) -> Bool {
        let c = self.byte(k)
        return Self.isBlank(c) || Self.isBreakOrEnd(c)
    }

    /// Position of byte `index`, which must be on the current line (or at its end).
    mutating func position(_ index: Int) -> YAMLPosition {
        var from = self.lineStart
        var column = 1
        if self.columnCacheLineStart == self.lineStart && self.columnCacheIndex <= index {
            from = self.columnCacheIndex
            column = self.columnCacheColumn
        }
        var k = from
        while k < index {
            if self.b[k] & 0xC0 != 0x80 { column += 1 }
            k += 1
        }
        self.columnCacheLineStart = self.lineStart
        self.columnCacheIndex = index
        self.columnCacheColumn = column
        return YAMLPosition(line: self.line, column: column)
    }

    mutating func errorHere(_ message: String) -> YAMLError {
        YAMLError(message: message, position: self.position(self.i))
    }

    /// Steps over the `\n` at `i`.
    mutating func newline() {
        self.i += 1
        self.line += 1
        self.lineStart = self.i
    }

    mutating func skipBlanks() {
        while Self.isBlank(self.current) { self.i += 1 }
    }

    /// `---` or `...` at `k` (a line start), followed by a blank, a line break or the end.
    func isDocumentMarker(at k: Int) -> Bool {
        let c = self.byte(k)
        guard c == YAMLChar.dash || c == YAMLChar.dot, self.byte(k + 1) == c, self.byte(k + 2) == c else {
            return false
        }
        return self.isSeparator(at: k + 3)
    }

    var atDocumentMarker: Bool { self.i == self.lineStart && self.isDocumentMarker(at: self.i) }
    var atSequenceEntry: Bool { self.current == YAMLChar.dash && self.isSeparator(at: self.i + 1) }

    mutating func enter() throws(YAMLError) {
        self.depth += 1
        if self.depth > self.maxDepth {
            throw self.errorHere("nesting is too deep (more than \(self.maxDepth) levels)")
        }
    }

    /// After a complete value: allows blanks and a comment, then requires the end of the line.
    /// Leaves `i` at the `\n` or at the end of input.
    mutating func finishLine() throws(YAMLError) {
        self.skipBlanks()
        let c = self.current
        if c == YAMLChar.hash {
            if self.i > self.lineStart && !Self.isBlank(self.b[self.i - 1]) {
                throw self.errorHere("a comment must be separated from the value by whitespace")
            }
            while !Self.isBreakOrEnd(self.current) { self.i += 1 }
            return
        }
        if Self.isBreakOrEnd(c) { return }
        if c == YAMLChar.colon {
            throw self.errorHere(
                "mapping values are not allowed here (quote a scalar that contains ': '; a nested mapping must start on a new line)")
        }
        throw self.errorHere("unexpected content after the value")
    }

    /// Moves to the first character of the next line that has content (not blank, not only a
    /// comment) and returns that line's indentation, or `nil` at the end of input. If `i` is
    /// already at the first character of a line, stays there. Rejects tabs in indentation.
    mutating func nextContentLine() throws(YAMLError) -> Int? {
        while true {
            if self.i >= self.b.count { return nil }
            if self.b[self.i] == YAMLChar.lf {
                self.newline()
                continue
            }
            var k = self.i
            while k > self.lineStart && self.b[k - 1] == YAMLChar.space { k -= 1 }
            if k != self.lineStart {
                // In the middle of a line: only blanks and a comment may follow.
                try self.finishLine()
                continue
            }
            var j = self.lineStart
            while self.byte(j) == YAMLChar.space { j += 1 }
            let indent = j - self.lineStart
            var tab: Int?
            while Self.isBlank(self.byte(j)) {
                if tab == nil && self.b[j] == YAMLChar.tab { tab = j }
                j += 1
            }
            let c = self.byte(j)
            if Self.isBreakOrEnd(c) {
                self.i = j
                continue
            }
            if c == YAMLChar.hash {
                self.i = j
                while !Self.isBreakOrEnd(self.current) { self.i += 1 }
                continue
            }
            if let tab {
                throw YAMLError(message: "tab characters must not be used for indentation", position: self.position(tab))
            }
            self.i = j
            return indent
        }
    }

    // MARK: Document

    mutating func parseDocument() throws(YAMLError) -> YAMLNode? {
        var root: YAMLNode?
        var hasRoot = false
        var indent = try self.nextContentLine()
        if indent != nil && self.i == self.lineStart && self.current == YAMLChar.percent {
            throw self.errorHere("directives ('%YAML', '%TAG') are not supported")
        }
        if indent != nil && self.atDocumentMarker && self.current == YAMLChar.dash {
            self.i += 3
            self.skipBlanks()
            if !Self.isBreakOrEnd(self.current) && self.current != YAMLChar.hash {
                root = try self.parseBlockNode(indent: self.i - self.lineStart, parent: -1,
                                               restriction: .documentStartLine)
                hasRoot = true
            }
            indent = try self.nextContentLine()
        }
        var rootIndent: Int?
        if !hasRoot, let k = indent, !self.atDocumentMarker {
            rootIndent = k
            root = try self.parseBlockNode(indent: k, parent: -1, restriction: nil)
            hasRoot = true
            indent = try self.nextContentLine()
        }
        guard indent != nil else { return root }
        if self.atDocumentMarker {
            if self.current == YAMLChar.dot {
                self.i += 3
                if try self.nextContentLine() != nil {
                    if self.atDocumentMarker && self.current == YAMLChar.dash {
                        throw self.errorHere("multiple documents are not supported")
                    }
                    throw self.errorHere("content after the document end marker '...'")
                }
                return root
            }
            throw self.errorHere("multiple documents are not supported")
        }
        if let rootIndent, let k = indent, k < rootIndent {
            throw self.errorHere("bad indentation: this line is less indented than the document's root node")
        }
        throw self.errorHere("unexpected content after the document's root node (check indentation)")
    }

    // MARK: Block structure

    /// Why a block collection cannot start at some place on a line.
    enum CompactRestriction: Equatable {
        case afterKey, afterTab, documentStartLine

        var reason: String {
            switch self {
            case .afterKey: return "it cannot start on the same line as its key"
            case .afterTab: return "use spaces, not tabs, between '-' and a nested collection"
            case .documentStartLine: return "it cannot start on the '---' line"
            }
        }
    }

    /// Parses the node whose first character is at `i`, in column `m` (0-based), inside a
    /// block collection indented by `n`. With a `restriction`, a block sequence or mapping
    /// starting here is an error.
    mutating func parseBlockNode(indent m: Int, parent n: Int, restriction: CompactRestriction?) throws(YAMLError) -> YAMLNode {
        try self.enter()
        defer { self.depth -= 1 }
        let c = self.current
        switch c {
        case YAMLChar.dash where self.isSeparator(at: self.i + 1):
            if let restriction {
                throw self.errorHere("a block sequence is not allowed here: \(restriction.reason)")
            }
            return try self.parseBlockSequence(indent: m, sameIndentAsKey: false)
        case YAMLChar.pipe, YAMLChar.greater:
            return .scalar(try self.parseBlockScalar(parent: n))
        case YAMLChar.lbracket, YAMLChar.lbrace:
            let node = try self.parseFlowCollection(parent: n)
            self.skipBlanks()
            if self.current == YAMLChar.colon {
                throw self.errorHere("flow collections cannot be mapping keys (complex keys are not supported)")
            }
            try self.finishLine()
            return node
        case YAMLChar.dquote, YAMLChar.squote:
            let firstLine = self.line
            let scalar = try self.parseQuoted(parent: n)
            self.skipBlanks()
            if self.current == YAMLChar.colon && self.isSeparator(at: self.i + 1) {
                if let restriction {
                    throw self.errorHere("a block mapping is not allowed here: \(restriction.reason)")
                }
                if self.line != firstLine {
                    throw YAMLError(message: "a mapping key must fit on one line", position: scalar.position)
                }
                return try self.parseBlockMapping(indent: m, firstKey: scalar)
            }
            try self.finishLine()
            return .scalar(scalar)
        default:
            try self.checkPlainStart(flow: false)
            let first = self.scanPlainLine(flow: false)
            if first.stop == .colon {
                if let restriction {
                    throw self.errorHere("a block mapping is not allowed here: \(restriction.reason)"
                                             + (restriction == .afterKey ? " (quote a scalar that contains ': ')" : ""))
                }
                return try self.parseBlockMapping(indent: m, firstKey: self.plainKey(first))
            }
            let scalar = try self.finishPlain(first, parent: n, flow: false)
            try self.finishLine()
            return .scalar(scalar)
        }
    }

    /// A block mapping in column `m`; `i` is at the `:` after `firstKey`.
    mutating func parseBlockMapping(indent m: Int, firstKey: YAMLScalar) throws(YAMLError) -> YAMLNode {
        var pairs: [(key: YAMLScalar, value: YAMLNode)] = []
        var seen: [String: YAMLPosition] = [:]
        var key = firstKey
        while true {
            try Self.register(key, in: &seen)
            self.i += 1  // ':'
            let value = try self.parseBlockValue(parent: m, inMapping: true)
            pairs.append((key: key, value: value))
            guard let k = try self.nextContentLine(), k >= m, !self.atDocumentMarker else { break }
            if k > m {
                throw self.errorHere("bad indentation of a mapping entry (expected column \(m + 1))")
            }
            key = try self.parseBlockKey(indent: m)
        }
        return .mapping(pairs, firstKey.position)
    }

    /// The key of a block mapping entry, at `i`; leaves `i` at the `:` that follows it.
    mutating func parseBlockKey(indent m: Int) throws(YAMLError) -> YAMLScalar {
        let c = self.current
        switch c {
        case YAMLChar.dash where self.isSeparator(at: self.i + 1):
            throw self.errorHere("expected a mapping key, found a sequence entry ('- ')")
        case YAMLChar.lbracket, YAMLChar.lbrace:
            throw self.errorHere("flow collections cannot be mapping keys (complex keys are not supported)")
        case YAMLChar.pipe, YAMLChar.greater:
            throw self.errorHere("expected a mapping key, found a block scalar indicator")
        case YAMLChar.dquote, YAMLChar.squote:
            let firstLine = self.line
            let key = try self.parseQuoted(parent: m)
            if self.line != firstLine {
                throw YAMLError(message: "a mapping key must fit on one line", position: key.position)
            }
            self.skipBlanks()
            guard self.current == YAMLChar.colon && self.isSeparator(at: self.i + 1) else {
                throw self.errorHere("expected ':' after the mapping key")
            }
            return key
        default:
            try self.checkPlainStart(flow: false)
            let first = self.scanPlainLine(flow: false)
            guard first.stop == .colon else {
                throw YAMLError(message: "expected a mapping entry ('key: value'), found no ':' after the key",
                                position: first.startPosition)
            }
            return self.plainKey(first)
        }
    }

    /// A block sequence in column `m`; `i` is at its first `-`. `sameIndentAsKey`: the
    /// sequence is the value of a mapping key in the same column, so a non-`-` line in that
    /// column ends it (it is the mapping's next key).
    mutating func parseBlockSequence(indent m: Int, sameIndentAsKey: Bool) throws(YAMLError) -> YAMLNode {
        let start = self.position(self.i)
        var items: [YAMLNode] = []
        while true {
            self.i += 1  // '-'
            items.append(try self.parseBlockValue(parent: m, inMapping: false))
            guard let k = try self.nextContentLine(), k >= m, !self.atDocumentMarker else { break }
            if k > m {
                throw self.errorHere("bad indentation of a sequence entry (expected column \(m + 1))")
            }
            if !self.atSequenceEntry {
                if sameIndentAsKey { break }
                throw self.errorHere("expected a sequence entry ('- ') in this column")
            }
        }
        return .sequence(items, start)
    }

    /// The value after a mapping key's `:` or a sequence entry's `-` (`i` just after it),
    /// in a block collection indented by `n`.
    mutating func parseBlockValue(parent n: Int, inMapping: Bool) throws(YAMLError) -> YAMLNode {
        let emptyPosition = self.position(self.i)
        var tabBefore = false
        while Self.isBlank(self.current) {
            if self.current == YAMLChar.tab { tabBefore = true }
            self.i += 1
        }
        if Self.isBreakOrEnd(self.current) || self.current == YAMLChar.hash {
            // Nothing more on this line: the value is on the next lines, or empty.
            if let k = try self.nextContentLine(), !self.atDocumentMarker {
                if k > n {
                    return try self.parseBlockNode(indent: k, parent: n, restriction: nil)
                }
                if k == n && inMapping && self.atSequenceEntry {
                    try self.enter()
                    defer { self.depth -= 1 }
                    return try self.parseBlockSequence(indent: n, sameIndentAsKey: true)
                }
            }
            return .scalar(.null(at: emptyPosition))
        }
        let restriction: CompactRestriction? = inMapping ? .afterKey : tabBefore ? .afterTab : nil
        // Inside a sequence entry, the content column is the compact collection's indentation
        // (everything before it on this line is '-' and spaces, so bytes equal columns).
        return try self.parseBlockNode(indent: self.i - self.lineStart, parent: n, restriction: restriction)
    }

    /// Rejects a duplicate key (keys compare by content) and the YAML 1.1 merge key `<<`.
    static func register(_ key: YAMLScalar, in seen: inout [String: YAMLPosition]) throws(YAMLError) {
        if key.style == .plain && key.value == "<<" {
            throw YAMLError(message: "merge keys ('<<') are not supported", position: key.position)
        }
        if let first = seen[key.value] {
            throw YAMLError(message: "duplicate key '\(Self.abbreviate(key.value))' in mapping (first at line \(first.line))",
                            position: key.position)
        }
        seen[key.value] = key.position
    }

    static func abbreviate(_ text: String) -> String {
        text.count <= 60 ? text : String(text.prefix(57)) + "..."
    }
}
