// Flow collections: `[a, b]` and `{k: v}`, nested, over several lines, with trailing commas.

extension YAMLParser {
    /// A flow sequence or mapping at `i` (the opening bracket), inside a block collection
    /// indented by `n`. Leaves `i` just after the closing bracket.
    mutating func parseFlowCollection(parent n: Int) throws(YAMLError) -> YAMLNode {
        try self.enter()
        defer { self.depth -= 1 }
        let start = self.position(self.i)
        let isSequence = self.current == YAMLChar.lbracket
        let close = isSequence ? YAMLChar.rbracket : YAMLChar.rbrace
        let kind = isSequence ? "flow sequence" : "flow mapping"
        self.i += 1
        var items: [YAMLNode] = []
        var pairs: [(key: YAMLScalar, value: YAMLNode)] = []
        var seen: [String: YAMLPosition] = [:]
        while true {
            try self.skipFlowSpace(parent: n, kind: kind, close: close, start: start)
            if self.current == close {
                self.i += 1
                break
            }
            if self.current == YAMLChar.comma {
                throw self.errorHere("unexpected ',' in a \(kind) (empty entries are not allowed)")
            }
            if isSequence {
                let item = try self.parseFlowNode(parent: n)
                try self.skipFlowSpace(parent: n, kind: kind, close: close, start: start)
                if self.current == YAMLChar.colon {
                    throw self.errorHere("single-pair mappings inside flow sequences ('[a: b]') are not supported")
                }
                items.append(item)
            } else {
                let key = try self.parseFlowKey(parent: n)
                try Self.register(key, in: &seen)
                let keyLine = self.line
                try self.skipFlowSpace(parent: n, kind: kind, close: close, start: start)
                let value: YAMLNode
                if self.current == YAMLChar.colon {
                    if self.line != keyLine {
                        throw self.errorHere("the ':' must be on the same line as its key")
                    }
                    self.i += 1
                    if key.style == .plain && !self.isSeparator(at: self.i) {
                        // `{a:[b]}`, `{a:}`: valid YAML 1.2, but rejected by libyaml; refuse both readings.
                        throw self.errorHere("a space is required after ':' following a plain key")
                    }
                    let afterColon = self.position(self.i)
                    try self.skipFlowSpace(parent: n, kind: kind, close: close, start: start)
                    if self.current == YAMLChar.comma || self.current == close {
                        value = .scalar(.null(at: afterColon))
                    } else {
                        value = try self.parseFlowNode(parent: n)
                        try self.skipFlowSpace(parent: n, kind: kind, close: close, start: start)
                    }
                } else {
                    // `{a, b: c}`: a key without ':' has a null value.
                    value = .scalar(.null(at: self.position(self.i)))
                }
                pairs.append((key: key, value: value))
            }
            if self.current == YAMLChar.comma {
                self.i += 1
                continue
            }
            if self.current == close {
                self.i += 1
                break
            }
            throw self.errorHere("expected ',' or '\(YAMLChar.show(close))' in a \(kind)")
        }
        return isSequence ? .sequence(items, start) : .mapping(pairs, start)
    }

    /// A node inside a flow collection.
    mutating func parseFlowNode(parent n: Int) throws(YAMLError) -> YAMLNode {
        switch self.current {
        case YAMLChar.lbracket, YAMLChar.lbrace:
            return try self.parseFlowCollection(parent: n)
        case YAMLChar.dquote, YAMLChar.squote:
            return .scalar(try self.parseQuoted(parent: n))
        default:
            try self.checkPlainStart(flow: true)
            let first = self.scanPlainLine(flow: true)
            return .scalar(try self.finishPlain(first, parent: n, flow: true))
        }
    }

    /// A key inside a flow mapping: a plain or quoted scalar on one line.
    mutating func parseFlowKey(parent n: Int) throws(YAMLError) -> YAMLScalar {
        let firstLine = self.line
        let key: YAMLScalar
        switch self.current {
        case YAMLChar.lbracket, YAMLChar.lbrace:
            throw self.errorHere("flow collections cannot be mapping keys (complex keys are not supported)")
        case YAMLChar.dquote, YAMLChar.squote:
            key = try self.parseQuoted(parent: n)
        default:
            try self.checkPlainStart(flow: true)
            let first = self.scanPlainLine(flow: true)
            key = try self.finishPlain(first, parent: n, flow: true)
        }
        if self.line != firstLine {
            throw YAMLError(message: "a mapping key must fit on one line (missing ','?)", position: key.position)
        }
        return key
    }

    /// Skips blanks, comments and line breaks between flow tokens. Lines must be indented at
    /// least `n` (more lenient than the spec's "more than `n`", like common YAML parsers, so that
    /// items and the closing bracket may line up with the key).
    mutating func skipFlowSpace(parent n: Int, kind: String, close: UInt8, start: YAMLPosition) throws(YAMLError) {
        while true {
            let c = self.current
            if Self.isBlank(c) {
                self.i += 1
                continue
            }
            if c == YAMLChar.hash {
                if self.i > self.lineStart && !Self.isBlank(self.b[self.i - 1]) {
                    throw self.errorHere("a comment must be separated from other tokens by whitespace")
                }
                while !Self.isBreakOrEnd(self.current) { self.i += 1 }
                continue
            }
            if c == YAMLChar.lf {
                self.newline()
                var j = self.i
                while self.byte(j) == YAMLChar.space { j += 1 }
                let indent = j - self.i
                var tab: Int?
                while Self.isBlank(self.byte(j)) {
                    if tab == nil && self.b[j] == YAMLChar.tab { tab = j }
                    j += 1
                }
                let d = self.byte(j)
                if Self.isBreakOrEnd(d) || d == YAMLChar.hash {
                    self.i = j
                    continue
                }
                if self.isDocumentMarker(at: self.lineStart) {
                    throw YAMLError(message: "document marker inside a \(kind) (missing '\(YAMLChar.show(close))'?)",
                                    position: self.position(self.lineStart))
                }
                if indent < n {
                    if let tab {
                        throw YAMLError(message: "tab characters must not be used for indentation",
                                        position: self.position(tab))
                    }
                    throw YAMLError(message: "bad indentation of a \(kind)'s continuation line: it must not be less "
                                        + "indented than column \(n + 1) (missing '\(YAMLChar.show(close))'?)",
                                    position: self.position(j))
                }
                self.i = j
                continue
            }
            if self.i >= self.b.count {
                throw YAMLError(message: "unterminated \(kind) (missing '\(YAMLChar.show(close))')", position: start)
            }
            return
        }
    }
}
