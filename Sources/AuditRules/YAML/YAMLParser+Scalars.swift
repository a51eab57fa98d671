// Scalars: plain (single- and multi-line), single-quoted, double-quoted and block scalars.

extension YAMLParser {
    enum PlainStop {
        /// End of the line (more lines may continue the scalar).
        case lineEnd
        /// At a `:` followed by a blank or line end (or a flow indicator, in flow context).
        case colon
        /// At a `#` preceded by a blank.
        case comment
        /// At `,` `[` `]` `{` `}` (flow context only).
        case flowIndicator
    }

    /// The first line of a plain scalar.
    struct PlainLine {
        var start: Int
        /// End of the text, trailing blanks excluded.
        var end: Int
        var startPosition: YAMLPosition
        var stop: PlainStop
    }

    // MARK: Plain scalars

    /// Rejects a character that cannot start a plain scalar (indicators, unsupported features).
    mutating func checkPlainStart(flow: Bool) throws(YAMLError) {
        let c = self.current
        let next = self.byte(self.i + 1)
        let nextIsSeparator = Self.isBlank(next) || Self.isBreakOrEnd(next) || (flow && Self.isFlowIndicator(next))
        switch c {
        case YAMLChar.ampersand:
            throw self.errorHere("anchors ('&') are not supported")
        case YAMLChar.asterisk:
            throw self.errorHere("aliases ('*') are not supported")
        case YAMLChar.bang:
            throw self.errorHere("tags ('!') are not supported")
        case YAMLChar.question where nextIsSeparator:
            throw self.errorHere("complex mapping keys ('?') are not supported")
        case YAMLChar.colon where nextIsSeparator:
            throw self.errorHere("missing mapping key before ':' (empty keys are not supported)")
        case YAMLChar.question where flow, YAMLChar.colon where flow:
            // YAML 1.2 reads `[?x]` as the scalar "?x", YAML 1.1 parsers as a key: refuse to guess.
            throw self.errorHere("'\(YAMLChar.show(c))' at the start of a plain scalar inside a flow collection is ambiguous; quote the value")
        case YAMLChar.dash where nextIsSeparator:
            throw self.errorHere("block sequence entries ('- ') are not allowed inside flow collections")
        case YAMLChar.percent:
            throw self.errorHere("'%' cannot start a plain scalar (directives are not supported); quote the value")
        case YAMLChar.at, YAMLChar.backtick:
            throw self.errorHere("'\(YAMLChar.show(c))' is reserved and cannot start a plain scalar; quote the value")
        case YAMLChar.pipe, YAMLChar.greater:
            throw self.errorHere("block scalars ('|', '>') are not allowed inside flow collections")
        case YAMLChar.comma, YAMLChar.lbracket, YAMLChar.rbracket, YAMLChar.lbrace, YAMLChar.rbrace,
             YAMLChar.hash, YAMLChar.dquote, YAMLChar.squote:
            throw self.errorHere("unexpected '\(YAMLChar.show(c))'")
        default:
            return
        }
    }

    /// Scans one line of plain text from `i`; leaves `i` where it stopped.
    mutating func scanPlainLine(flow: Bool) -> PlainLine {
        let start = self.i
        let startPosition = self.position(start)
        var end = start
        var j = start
        var stop = PlainStop.lineEnd
        while j < self.b.count {
            let c = self.b[j]
            if c == YAMLChar.lf { break }
            if c == YAMLChar.colon {
                let next = self.byte(j + 1)
                if Self.isBlank(next) || Self.isBreakOrEnd(next) || (flow && Self.isFlowIndicator(next)) {
                    stop = .colon
                    break
                }
            } else if c == YAMLChar.hash {
                if j > start && Self.isBlank(self.b[j - 1]) {
                    stop = .comment
                    break
                }
            } else if flow && Self.isFlowIndicator(c) {
                stop = .flowIndicator
                break
            }
            j += 1
            if !Self.isBlank(c) { end = j }
        }
        self.i = j
        return PlainLine(start: start, end: end, startPosition: startPosition, stop: stop)
    }

    /// A single-line plain scalar used as a mapping key.
    func plainKey(_ first: PlainLine) -> YAMLScalar {
        let text = self.b[first.start..<first.end]
        return YAMLScalar(value: String(decoding: text, as: UTF8.self), style: .plain, position: first.startPosition,
                          isNull: Self.isNullPlain(text),
                          segments: [YAMLScalar.Segment(valueOffset: 0, position: first.startPosition)])
    }

    static func isNullPlain(_ text: ArraySlice<UInt8>) -> Bool {
        text.isEmpty || text.elementsEqual("~".utf8) || text.elementsEqual("null".utf8)
            || text.elementsEqual("Null".utf8) || text.elementsEqual("NULL".utf8)
    }

    /// Completes a plain scalar whose first line is `first`: folds in the continuation lines
    /// (indented more than `n`, not comments, not document markers).
    mutating func finishPlain(_ first: PlainLine, parent n: Int, flow: Bool) throws(YAMLError) -> YAMLScalar {
        var value = Array(self.b[first.start..<first.end])
        var segments = [YAMLScalar.Segment(valueOffset: 0, position: first.startPosition)]
        var stop = first.stop
        while stop == .lineEnd && self.current == YAMLChar.lf {
            let saved = (self.i, self.line, self.lineStart)
            var emptyLines = 0
            var contentStart = -1
            var indent = 0
            while self.current == YAMLChar.lf {
                self.newline()
                var j = self.i
                while self.byte(j) == YAMLChar.space { j += 1 }
                indent = j - self.i
                while Self.isBlank(self.byte(j)) { j += 1 }
                if Self.isBreakOrEnd(self.byte(j)) {
                    self.i = j
                    emptyLines += 1
                    continue
                }
                contentStart = j
                break
            }
            var continues = contentStart >= 0 && indent > n && !self.isDocumentMarker(at: self.lineStart)
            if continues {
                let c = self.b[contentStart]
                let next = self.byte(contentStart + 1)
                let nextIsSeparator = Self.isBlank(next) || Self.isBreakOrEnd(next) || (flow && Self.isFlowIndicator(next))
                if c == YAMLChar.hash || (c == YAMLChar.colon && nextIsSeparator) || (flow && Self.isFlowIndicator(c)) {
                    continues = false
                }
            }
            guard continues else {
                (self.i, self.line, self.lineStart) = saved
                break
            }
            if emptyLines == 0 {
                value.append(YAMLChar.space)
            } else {
                value.append(contentsOf: repeatElement(YAMLChar.lf, count: emptyLines))
            }
            self.i = contentStart
            let piece = self.scanPlainLine(flow: flow)
            segments.append(YAMLScalar.Segment(valueOffset: value.count, position: piece.startPosition))
            value.append(contentsOf: self.b[piece.start..<piece.end])
            stop = piece.stop
        }
        return YAMLScalar(value: String(decoding: value, as: UTF8.self), style: .plain, position: first.startPosition,
                          isNull: Self.isNullPlain(value[...]), segments: segments)
    }

    // MARK: Quoted scalars

    /// A single- or double-quoted scalar starting at `i` (the quote). Continuation lines must
    /// be indented more than `n`. Leaves `i` just after the closing quote.
    mutating func parseQuoted(parent n: Int) throws(YAMLError) -> YAMLScalar {
        let double = self.current == YAMLChar.dquote
        let kind = double ? "double-quoted" : "single-quoted"
        let start = self.position(self.i)
        self.i += 1
        var value: [UInt8] = []
        // value[..<keep] must survive line folding; blanks after it are trimmed at a line break.
        var keep = 0
        var segments = [YAMLScalar.Segment(valueOffset: 0, position: self.position(self.i))]
        while true {
            guard self.i < self.b.count else {
                throw YAMLError(message: "unterminated \(kind) scalar (missing closing quote)", position: start)
            }
            let c = self.b[self.i]
            if c == YAMLChar.squote && !double {
                if self.byte(self.i + 1) == YAMLChar.squote {
                    value.append(YAMLChar.squote)
                    self.i += 2
                    keep = value.count
                    segments.append(YAMLScalar.Segment(valueOffset: value.count, position: self.position(self.i)))
                    continue
                }
                self.i += 1
                break
            }
            if c == YAMLChar.dquote && double {
                self.i += 1
                break
            }
            if c == YAMLChar.backslash && double {
                if self.byte(self.i + 1) == YAMLChar.lf {
                    // Escaped line break: joins the lines without a space; blanks before it stay.
                    self.i += 1
                    try self.foldQuotedLineBreak(into: &value, segments: &segments, escaped: true, parent: n,
                                                 kind: kind, start: start)
                    keep = value.count
                    continue
                }
                try self.decodeEscape(into: &value, kind: kind, start: start)
                keep = value.count
                segments.append(YAMLScalar.Segment(valueOffset: value.count, position: self.position(self.i)))
                continue
            }
            if c == YAMLChar.lf {
                value.removeSubrange(keep...)
                try self.foldQuotedLineBreak(into: &value, segments: &segments, escaped: false, parent: n,
                                             kind: kind, start: start)
                keep = value.count
                continue
            }
            value.append(c)
            self.i += 1
            if !Self.isBlank(c) { keep = value.count }
        }
        return YAMLScalar(value: String(decoding: value, as: UTF8.self), style: double ? .doubleQuoted : .singleQuoted,
                          position: start, isNull: false, segments: segments)
    }

    /// At the `\n` inside a quoted scalar: skips empty lines and the next line's indentation,
    /// and appends the folded break (a space, or one `\n` per empty line; only the `\n`s
    /// when the break was escaped).
    mutating func foldQuotedLineBreak(into value: inout [UInt8], segments: inout [YAMLScalar.Segment], escaped: Bool,
                                      parent n: Int, kind: String, start: YAMLPosition) throws(YAMLError) {
        var emptyLines = 0
        while true {
            self.newline()
            var j = self.i
            while self.byte(j) == YAMLChar.space { j += 1 }
            let indent = j - self.i
            var tab: Int?
            while Self.isBlank(self.byte(j)) {
                if tab == nil && self.b[j] == YAMLChar.tab { tab = j }
                j += 1
            }
            let c = self.byte(j)
            if c == YAMLChar.lf {
                self.i = j
                emptyLines += 1
                continue
            }
            if j >= self.b.count {
                throw YAMLError(message: "unterminated \(kind) scalar (missing closing quote)", position: start)
            }
            if self.isDocumentMarker(at: self.lineStart) {
                throw YAMLError(message: "document marker inside a \(kind) scalar (missing closing quote?)",
                                position: self.position(self.lineStart))
            }
            if indent <= n {
                if let tab {
                    throw YAMLError(message: "tab characters must not be used for indentation", position: self.position(tab))
                }
                throw YAMLError(message: "bad indentation of a \(kind) scalar's continuation line: it must be indented "
                                    + "more than column \(n + 1) (missing closing quote?)",
                                position: self.position(j))
            }
            self.i = j
            break
        }
        if !escaped && emptyLines == 0 {
            value.append(YAMLChar.space)
        } else {
            value.append(contentsOf: repeatElement(YAMLChar.lf, count: emptyLines))
        }
        segments.append(YAMLScalar.Segment(valueOffset: value.count, position: self.position(self.i)))
    }

    /// Decodes the escape sequence at `i` (the backslash) and appends its UTF-8.
    mutating func decodeEscape(into value: inout [UInt8], kind: String, start: YAMLPosition) throws(YAMLError) {
        let escapePosition = self.position(self.i)
        let e = self.byte(self.i + 1)
        var hexDigits = 0
        var scalar: UInt32 = 0
        switch e {
        case 0: throw YAMLError(message: "unterminated \(kind) scalar (missing closing quote)", position: start)
        case UInt8(ascii: "0"): scalar = 0
        case UInt8(ascii: "a"): scalar = 0x07
        case UInt8(ascii: "b"): scalar = 0x08
        case UInt8(ascii: "t"), YAMLChar.tab: scalar = 0x09
        case UInt8(ascii: "n"): scalar = 0x0A
        case UInt8(ascii: "v"): scalar = 0x0B
        case UInt8(ascii: "f"): scalar = 0x0C
        case UInt8(ascii: "r"): scalar = 0x0D
        case UInt8(ascii: "e"): scalar = 0x1B
        case YAMLChar.space: scalar = 0x20
        case YAMLChar.dquote: scalar = 0x22
        case UInt8(ascii: "/"): scalar = 0x2F
        case YAMLChar.backslash: scalar = 0x5C
        case UInt8(ascii: "N"): scalar = 0x85
        case UInt8(ascii: "_"): scalar = 0xA0
        case UInt8(ascii: "L"): scalar = 0x2028
        case UInt8(ascii: "P"): scalar = 0x2029
        case UInt8(ascii: "x"): hexDigits = 2
        case UInt8(ascii: "u"): hexDigits = 4
        case UInt8(ascii: "U"): hexDigits = 8
        default:
            let shown = e < 0x80 ? "'\\\(YAMLChar.show(e))'" : "'\\' followed by a non-ASCII character"
            throw YAMLError(message: "invalid escape sequence \(shown) in a double-quoted scalar", position: escapePosition)
        }
        self.i += 2
        if hexDigits > 0 {
            for _ in 0..<hexDigits {
                let h = self.current
                let digit: UInt8
                switch h {
                case YAMLChar.zero...YAMLChar.nine: digit = h - YAMLChar.zero
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = h - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = h - UInt8(ascii: "A") + 10
                default:
                    throw YAMLError(message: "invalid escape sequence: '\\\(YAMLChar.show(e))' needs \(hexDigits) hexadecimal digits",
                                    position: escapePosition)
                }
                scalar = scalar << 4 | UInt32(digit)
                self.i += 1
            }
        }
        guard let unicode = Unicode.Scalar(scalar) else {
            throw YAMLError(message: "escape sequence is not a valid Unicode scalar (surrogate or out of range)",
                            position: escapePosition)
        }
        UTF8.encode(unicode) { value.append($0) }
    }

    // MARK: Block scalars

    enum Chomping { case strip, clip, keep }

    /// A `|` or `>` block scalar at `i`, inside a block collection indented by `n`. Leaves `i`
    /// at the start of the first line after the content (or at the end of input).
    mutating func parseBlockScalar(parent n: Int) throws(YAMLError) -> YAMLScalar {
        let start = self.position(self.i)
        let folded = self.current == YAMLChar.greater
        self.i += 1
        var chomping: Chomping?
        var indentIndicator: Int?
        for _ in 0..<2 {
            let c = self.current
            if (c == YAMLChar.plus || c == YAMLChar.dash) && chomping == nil {
                chomping = c == YAMLChar.plus ? .keep : .strip
            } else if c > YAMLChar.zero && c <= YAMLChar.nine && indentIndicator == nil {
                indentIndicator = Int(c - YAMLChar.zero)
            } else if c == YAMLChar.zero {
                throw self.errorHere("a block scalar indentation indicator must be between 1 and 9")
            } else {
                break
            }
            self.i += 1
        }
        if !Self.isBlank(self.current) && !Self.isBreakOrEnd(self.current) {
            throw self.errorHere(
                "invalid block scalar header: expected '-' or '+' (chomping), 1-9 (indentation), a comment or the end of the line")
        }
        self.skipBlanks()
        if self.current == YAMLChar.hash {
            while !Self.isBreakOrEnd(self.current) { self.i += 1 }
        } else if !Self.isBreakOrEnd(self.current) {
            throw self.errorHere("the text of a block scalar must start on the line after '|' or '>'")
        }

        var contentIndent = indentIndicator.map { max(n, 0) + $0 }
        var value: [UInt8] = []
        var segments: [YAMLScalar.Segment] = []
        var sawContent = false
        var breakAfterContent = false   // the last content line ended with a line break
        var emptyLines = 0              // empty lines since the last content line (or the header)
        var previousMoreIndented = false
        var widestLeadingEmptyLine: (spaces: Int, position: YAMLPosition)?
        if self.current == YAMLChar.lf { self.newline() }
        while self.i < self.b.count {
            var j = self.i
            while self.byte(j) == YAMLChar.space { j += 1 }
            let spaces = j - self.i
            var k = j
            while Self.isBlank(self.byte(k)) { k += 1 }
            let whitespaceOnly = Self.isBreakOrEnd(self.byte(k))
            if whitespaceOnly && (contentIndent == nil || spaces < contentIndent! || k == self.i + contentIndent!) {
                // An empty line. Blanks beyond the content indentation make it a text line;
                // tabs within the indentation are tolerated.
                if contentIndent == nil && spaces > (widestLeadingEmptyLine?.spaces ?? 0) {
                    widestLeadingEmptyLine = (spaces, YAMLPosition(line: self.line, column: spaces + 1))
                }
                self.i = k
                guard self.current == YAMLChar.lf else { break }
                emptyLines += 1
                self.newline()
                continue
            }
            if contentIndent == nil {
                // Text must be indented more than the parent, and at least by 1 even at the
                // top level (as libyaml requires; the spec would allow column 1 there).
                if spaces <= max(n, 0) { break }
                if let widest = widestLeadingEmptyLine, widest.spaces > spaces {
                    throw YAMLError(message: "a leading empty line of a block scalar has more spaces (\(widest.spaces)) "
                                        + "than its first text line (\(spaces))", position: widest.position)
                }
                contentIndent = spaces
            }
            let indent = contentIndent!
            if spaces < indent || (indent == 0 && self.isDocumentMarker(at: self.i)) { break }

            let textStart = self.i + indent
            var textEnd = textStart
            while !Self.isBreakOrEnd(self.byte(textEnd)) { textEnd += 1 }
            let moreIndented = Self.isBlank(self.byte(textStart))
            if sawContent {
                if folded && !previousMoreIndented && !moreIndented {
                    if emptyLines == 0 { value.append(YAMLChar.space) }
                } else {
                    value.append(YAMLChar.lf)
                }
            }
            value.append(contentsOf: repeatElement(YAMLChar.lf, count: emptyLines))
            emptyLines = 0
            segments.append(YAMLScalar.Segment(valueOffset: value.count,
                                               position: YAMLPosition(line: self.line, column: indent + 1)))
            value.append(contentsOf: self.b[textStart..<textEnd])
            sawContent = true
            previousMoreIndented = moreIndented
            self.i = textEnd
            breakAfterContent = self.current == YAMLChar.lf
            guard breakAfterContent else { break }
            self.newline()
        }
        switch chomping ?? .clip {
        case .strip:
            break
        case .clip:
            if sawContent && breakAfterContent { value.append(YAMLChar.lf) }
        case .keep:
            if breakAfterContent { value.append(YAMLChar.lf) }
            value.append(contentsOf: repeatElement(YAMLChar.lf, count: emptyLines))
        }
        return YAMLScalar(value: String(decoding: value, as: UTF8.self), style: folded ? .folded : .literal,
                          position: start, isNull: false, segments: segments)
    }
}
