// The lexical layer of the condition language.
//
// Lexing is context dependent, as in Falco: `ka.uri startswith /api?x` holds the bare value
// `/api?x`, which would be several tokens anywhere else, and `not` is a keyword before a blank
// or `(` but part of a name in `not_macro`. So the lexer is a cursor over the UTF-8 bytes with
// one scanning method per token class, and the parser decides which class it expects next.
// Every method runs in time linear in the bytes it consumes and never backtracks.

/// A cursor over the bytes of a condition, with one scanning method per token class.
struct ConditionLexer {
    /// The condition text as UTF-8.
    let bytes: [UInt8]
    /// The current byte offset.
    var position: Int = 0

    init(_ text: String) {
        self.bytes = Array(text.utf8)
    }

    // MARK: Cursor

    var isAtEnd: Bool { self.position >= self.bytes.count }

    /// The byte at the cursor, or `nil` at the end.
    var current: UInt8? { self.position < self.bytes.count ? self.bytes[self.position] : nil }

    /// The byte at `offset`, or `nil` past the end.
    func byte(at offset: Int) -> UInt8? { offset < self.bytes.count ? self.bytes[offset] : nil }

    /// Text of a byte range.
    func text(_ range: Range<Int>) -> String {
        String(decoding: self.bytes[range], as: UTF8.self)
    }

    /// Skips blanks (space, tab, backspace, CR, LF: Falco's set). Returns whether any was skipped.
    @discardableResult
    mutating func skipBlanks() -> Bool {
        let start = self.position
        while let byte = self.current, ConditionLexer.isBlank(byte) {
            self.position += 1
        }
        return self.position > start
    }

    // MARK: Character classes

    static func isBlank(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x08 || byte == 0x0D || byte == 0x0A
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// `[A-Za-z0-9_]`: the characters after the first one of an identifier.
    static func isIdentifierByte(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte) || byte == UInt8(ascii: "_")
    }

    /// Characters of a bare value: anything but blanks, quotes, `(`, `)`, `,` and `=`.
    static func isBareValueByte(_ byte: UInt8) -> Bool {
        !isBlank(byte) && byte != UInt8(ascii: "(") && byte != UInt8(ascii: ")") && byte != UInt8(ascii: ",")
            && byte != UInt8(ascii: "=") && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "'")
    }

    /// Characters of a bare field argument: anything but blanks, quotes, `[` and `]`.
    static func isBareArgumentByte(_ byte: UInt8) -> Bool {
        !isBlank(byte) && byte != UInt8(ascii: "[") && byte != UInt8(ascii: "]") && byte != UInt8(ascii: "\"")
            && byte != UInt8(ascii: "'")
    }

    // MARK: Token classes

    /// Scans `[A-Za-z0-9_]*` (the caller checks the first byte when it matters).
    mutating func scanWord() -> Range<Int> {
        let start = self.position
        while let byte = self.current, ConditionLexer.isIdentifierByte(byte) {
            self.position += 1
        }
        return start..<self.position
    }

    /// Scans a name `[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*` at a letter.
    ///
    /// A `.` is consumed only when a letter follows it. Returns the range and whether the name
    /// has a dot, i.e. is a field name rather than an identifier.
    mutating func scanName() -> (range: Range<Int>, isField: Bool) {
        let start = self.position
        var isField = false
        _ = self.scanWord()
        while self.current == UInt8(ascii: "."), let next = self.byte(at: self.position + 1), ConditionLexer.isLetter(next) {
            self.position += 1
            _ = self.scanWord()
            isField = true
        }
        return (start..<self.position, isField)
    }

    /// Scans a run of bare-value bytes (possibly empty).
    mutating func scanBareValue() -> Range<Int> {
        let start = self.position
        while let byte = self.current, ConditionLexer.isBareValueByte(byte) {
            self.position += 1
        }
        return start..<self.position
    }

    /// Scans a run of bare field-argument bytes (possibly empty).
    mutating func scanBareArgument() -> Range<Int> {
        let start = self.position
        while let byte = self.current, ConditionLexer.isBareArgumentByte(byte) {
            self.position += 1
        }
        return start..<self.position
    }

    /// Scans a string quoted with `'` or `"` at the cursor and decodes its escapes.
    ///
    /// Escapes follow Falco: `\b \f \n \r \t \\ \/`, `\"` only inside `"…"`, `\'` only inside
    /// `'…'`, and `\ ` (kept by Falco for old rules) which decodes to a single backslash. Any
    /// other escape is an error. Unlike Falco, `\\` before the closing quote does end the string.
    /// Returns the decoded content and the range including both quotes.
    mutating func scanQuotedString() throws(ConditionSyntaxError) -> (value: String, range: Range<Int>) {
        let start = self.position
        let quote = self.bytes[start]
        var index = start + 1
        var decoded: [UInt8] = []
        var hasEscapes = false
        while index < self.bytes.count {
            let byte = self.bytes[index]
            if byte == quote {
                let value = hasEscapes ? String(decoding: decoded, as: UTF8.self) : self.text((start + 1)..<index)
                self.position = index + 1
                return (value, start..<(index + 1))
            }
            if byte != UInt8(ascii: "\\") {
                decoded.append(byte)
                index += 1
                continue
            }
            hasEscapes = true
            guard index + 1 < self.bytes.count else { break }
            let escaped = self.bytes[index + 1]
            switch escaped {
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "\\"), UInt8(ascii: " "): decoded.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): decoded.append(UInt8(ascii: "/"))
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                guard escaped == quote else {
                    let other = quote == UInt8(ascii: "\"") ? "\"" : "'"
                    throw ConditionSyntaxError(
                        message: "escape '\\\(Character(Unicode.Scalar(escaped)))' is not allowed in a \(other)-quoted string",
                        span: ConditionSpan(offset: index, length: 2))
                }
                decoded.append(escaped)
            default:
                let length = ConditionLexer.scalarLength(leadByte: escaped)
                let shown = self.text((index + 1)..<min(index + 1 + length, self.bytes.count))
                throw ConditionSyntaxError(
                    message: "unsupported escape '\\\(shown)' in string",
                    span: ConditionSpan(offset: index, length: 1 + length))
            }
            index += 2
        }
        throw ConditionSyntaxError(
            message: "unterminated string",
            span: ConditionSpan(offset: start, length: self.bytes.count - start))
    }

    /// Length in bytes of the UTF-8 scalar that starts with `leadByte`.
    static func scalarLength(leadByte: UInt8) -> Int {
        switch leadByte {
        case 0xF0...: return 4
        case 0xE0...: return 3
        case 0xC0...: return 2
        default: return 1
        }
    }

    // MARK: Diagnostics

    /// A short description of what is at `offset`, for messages: `'word'`, `'('` or
    /// `end of condition`, with the span it covers.
    func describeToken(at offset: Int) -> (text: String, span: ConditionSpan) {
        guard offset < self.bytes.count else {
            return ("end of condition", ConditionSpan(offset: self.bytes.count, length: 0))
        }
        let byte = self.bytes[offset]
        var end = offset
        if ConditionLexer.isIdentifierByte(byte) {
            while end < self.bytes.count, ConditionLexer.isIdentifierByte(self.bytes[end]) { end += 1 }
        } else if ConditionLexer.isBlank(byte) {
            return ("blank", ConditionSpan(offset: offset, length: 1))
        } else {
            end = offset + ConditionLexer.scalarLength(leadByte: byte)
            end = min(end, self.bytes.count)
        }
        let maxShown = 40
        let shownEnd = min(end, offset + maxShown)
        return ("'\(self.text(offset..<shownEnd))'", ConditionSpan(offset: offset, length: end - offset))
    }
}

// MARK: - Numbers

extension ConditionLexer {
    /// Whether `range` is a number as Falco's numeric operators accept it:
    /// `[+-]?[0-9]+\.?[0-9]*([eE][+-][0-9]+)?` or `0[xX][0-9a-zA-Z]+`.
    func isNumber(_ range: Range<Int>) -> Bool {
        var index = range.lowerBound
        let end = range.upperBound
        func at(_ i: Int) -> UInt8? { i < end ? self.bytes[i] : nil }

        // Hexadecimal.
        if at(index) == UInt8(ascii: "0"), let x = at(index + 1), x == UInt8(ascii: "x") || x == UInt8(ascii: "X") {
            var cursor = index + 2
            while let byte = at(cursor), ConditionLexer.isLetter(byte) || ConditionLexer.isDigit(byte) { cursor += 1 }
            if cursor == end && cursor > index + 2 { return true }
        }
        // Decimal.
        if let sign = at(index), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
        let digitsStart = index
        while let byte = at(index), ConditionLexer.isDigit(byte) { index += 1 }
        guard index > digitsStart else { return false }
        if at(index) == UInt8(ascii: ".") { index += 1 }
        while let byte = at(index), ConditionLexer.isDigit(byte) { index += 1 }
        if let e = at(index), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            index += 1
            guard let sign = at(index), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return false }
            index += 1
            let exponentStart = index
            while let byte = at(index), ConditionLexer.isDigit(byte) { index += 1 }
            guard index > exponentStart else { return false }
        }
        return index == end
    }
}
