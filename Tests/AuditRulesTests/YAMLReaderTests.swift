import XCTest
import AuditRules

final class YAMLReaderTests: XCTestCase {
    // MARK: Helpers

    /// A compact, unambiguous rendering of a tree: scalars as JSON-like strings, null as `~`.
    private func render(_ node: YAMLNode?) -> String {
        guard let node else { return "<empty>" }
        switch node {
        case .scalar(let scalar):
            return self.render(scalar)
        case .sequence(let items, _):
            return "[" + items.map { self.render($0) }.joined(separator: ", ") + "]"
        case .mapping(let pairs, _):
            return "{" + pairs.map { "\(self.render($0.key)): \(self.render($0.value))" }.joined(separator: ", ") + "}"
        }
    }

    private func render(_ scalar: YAMLScalar) -> String {
        if scalar.isNull { return "~" }
        var out = "\""
        for u in scalar.value.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += "\\u{\(String(u.value, radix: 16))}" } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> YAMLNode? {
        do {
            return try YAMLReader.parse(text)
        } catch {
            XCTFail("unexpected error \(error) for input \(text.debugDescription)", file: file, line: line)
            return nil
        }
    }

    private func parseError(_ text: String) -> YAMLError? {
        do {
            _ = try YAMLReader.parse(text)
            return nil
        } catch {
            return error
        }
    }

    private static var sharedDirectory: URL {
        // …/Tests/AuditRulesTests/YAMLReaderTests.swift -> …/../shared
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared")
    }

    // MARK: Accepted input

    func testAcceptTable() {
        let cases: [(input: String, expected: String, line: UInt)] = [
            // Empty documents.
            ("", "<empty>", #line),
            ("# only a comment\n\n", "<empty>", #line),
            ("---\n", "<empty>", #line),
            ("--- # comment\n...\n", "<empty>", #line),
            // Block mappings and sequences.
            ("a: b", #"{"a": "b"}"#, #line),
            ("a: b\nc: d\n", #"{"a": "b", "c": "d"}"#, #line),
            ("- a\n- b\n", #"["a", "b"]"#, #line),
            ("- a: 1\n  b: 2\n- c: 3\n", #"[{"a": "1", "b": "2"}, {"c": "3"}]"#, #line),
            ("-   a: 1\n    b: 2\n", #"[{"a": "1", "b": "2"}]"#, #line),
            ("items:\n- a\n- b\nnext: c\n", #"{"items": ["a", "b"], "next": "c"}"#, #line),
            ("items:\n  - a\n  - b\n", #"{"items": ["a", "b"]}"#, #line),
            ("- rule: r\n  tags:\n  - a\n  - b\n  priority: x\n- macro: m\n",
             #"[{"rule": "r", "tags": ["a", "b"], "priority": "x"}, {"macro": "m"}]"#, #line),
            ("a:\n  b:\n    c: d\n  e: f\n", #"{"a": {"b": {"c": "d"}, "e": "f"}}"#, #line),
            ("a:\n  b:\nc: d\n", #"{"a": {"b": ~}, "c": "d"}"#, #line),
            ("a:\nb: ~\nc: null\nd: ''\ne: NULL\n", #"{"a": ~, "b": ~, "c": ~, "d": "", "e": ~}"#, #line),
            ("-\n- a\n- \n", #"[~, "a", ~]"#, #line),
            ("- - a\n  - b\n- c\n", #"[["a", "b"], "c"]"#, #line),
            ("- # comment\n  a: b\n", #"[{"a": "b"}]"#, #line),
            ("- a\n  # comment\n- b\n", #"["a", "b"]"#, #line),
            ("a:\n  # comment\n\n  - x\n", #"{"a": ["x"]}"#, #line),
            ("  a: b\n  c: d\n", #"{"a": "b", "c": "d"}"#, #line),
            ("a: 1\n\t# a comment indented by a tab\nb: 2\n", #"{"a": "1", "b": "2"}"#, #line),
            ("\"a b\": 1\n'c': 2\n", #"{"a b": "1", "c": "2"}"#, #line),
            ("clé: valeur é\n", #"{"clé": "valeur é"}"#, #line),
            ("'<<': x\n", #"{"<<": "x"}"#, #line),
            // Plain scalars.
            ("a: b#c d:e http://x [y] {z}", #"{"a": "b#c d:e http://x [y] {z}"}"#, #line),
            ("a: b # comment\n", #"{"a": "b"}"#, #line),
            ("a:\tb\t# comment\n", #"{"a": "b"}"#, #line),
            ("a: -1\nb: ?x\nc: :y\nd: x - y\ne: a\tb\n", #"{"a": "-1", "b": "?x", "c": ":y", "d": "x - y", "e": "a\tb"}"#, #line),
            ("a: key:value\n", #"{"a": "key:value"}"#, #line),
            ("condition: kevt and pod\n    and kcreate\n", #"{"condition": "kevt and pod and kcreate"}"#, #line),
            ("a: x\n  y\n\n  z  \n\n\n  w\nb: 1\n", #"{"a": "x y\nz\n\nw", "b": "1"}"#, #line),
            ("- a\n  b\n- c\n", #"["a b", "c"]"#, #line),
            ("- a\n  - b\n", #"["a - b"]"#, #line),
            ("hello\n  world\n", #""hello world""#, #line),
            // Quoted scalars.
            ("a: 'it''s'\n", #"{"a": "it's"}"#, #line),
            ("a: 'x # y' # c\n", #"{"a": "x # y"}"#, #line),
            ("a: 'one  \n   two\n\n   three  '\n", #"{"a": "one two\nthree  "}"#, #line),
            ("a: 'back\\slash'\n", #"{"a": "back\\slash"}"#, #line),
            (#"a: "x\ty\n\"q\" \\ \/ \u00e9 \x41 \U0001F600 \ ""#, "{\"a\": \"x\\ty\\n\\\"q\\\" \\\\ / é A 😀  \"}", #line),
            ("a: \"one\n  two\"\n", #"{"a": "one two"}"#, #line),
            ("a: \"one\n\n  two\"\n", #"{"a": "one\ntwo"}"#, #line),
            ("a: \"one \\\n  two\"\n", #"{"a": "one two"}"#, #line),
            ("a: \"one\\\n  two\"\n", #"{"a": "onetwo"}"#, #line),
            ("a: \"tab\\t\n  x\"\n", #"{"a": "tab\t x"}"#, #line),
            ("a: \"\"\nb: ''\n", #"{"a": "", "b": ""}"#, #line),
            ("a: \"x\" # c\n", #"{"a": "x"}"#, #line),
            ("- \"k\": v\n  'l': w\n", #"[{"k": "v", "l": "w"}]"#, #line),
            // Block scalars.
            ("a: |\n  line1\n  line2\n", #"{"a": "line1\nline2\n"}"#, #line),
            ("a: |-\n  line1\n  line2\n\n", #"{"a": "line1\nline2"}"#, #line),
            ("a: |+\n  x\n\n\nb: 1\n", #"{"a": "x\n\n\n", "b": "1"}"#, #line),
            ("a: |\n  x\n\n\nb: 1\n", #"{"a": "x\n", "b": "1"}"#, #line),
            ("a: |\n  x", #"{"a": "x"}"#, #line),
            ("a: |+\n\nb: c\n", #"{"a": "\n", "b": "c"}"#, #line),
            ("a: |\nb: c\n", #"{"a": "", "b": "c"}"#, #line),
            ("a: |\n\n  x\n", #"{"a": "\nx\n"}"#, #line),
            ("a: |\n  # not a comment\n  x: y\n# a comment\n", ##"{"a": "# not a comment\nx: y\n"}"##, #line),
            ("a: |\n  x\n   y\n  \tz\n", #"{"a": "x\n y\n\tz\n"}"#, #line),
            ("a: |2\n    x\n   y\n", #"{"a": "  x\n y\n"}"#, #line),
            ("- |1\n  x\n", #"[" x\n"]"#, #line),
            ("a: >\n  one\n  two\n\n  three\n    more\n  four\n", #"{"a": "one two\nthree\n  more\nfour\n"}"#, #line),
            ("a: >- # comment\n  x\n  y\n", #"{"a": "x y"}"#, #line),
            ("a: >+2\n   x\n\n", #"{"a": " x\n\n"}"#, #line),
            ("a: 2-\n", #"{"a": "2-"}"#, #line),
            ("a:  > \n    x != \"\" and\n    y\nb: 1\n", #"{"a": "x != \"\" and y\n", "b": "1"}"#, #line),
            ("a:\n  b: |\n    text\n  c: d\n", #"{"a": {"b": "text\n", "c": "d"}}"#, #line),
            // Flow collections.
            ("items: [a, \"b c\", [d, e]]", #"{"items": ["a", "b c", ["d", "e"]]}"#, #line),
            ("override: {condition: append, exceptions: replace}",
             #"{"override": {"condition": "append", "exceptions": "replace"}}"#, #line),
            ("items:\n  [\n    \"x\", # one\n    y,\n\n    'z'\n  ]\n", #"{"items": ["x", "y", "z"]}"#, #line),
            ("- list: l\n  items: [\n    a,\n    b\n  ]\n  override:\n    items: append\n",
             #"[{"list": "l", "items": ["a", "b"], "override": {"items": "append"}}]"#, #line),
            ("- list: l\n  items: [a,\n  b,\n  ]\n", #"[{"list": "l", "items": ["a", "b"]}]"#, #line),
            ("a: [b,\nc]\n", #"{"a": ["b", "c"]}"#, #line),
            ("a: []\nb: {}\nc: [ ]\n", #"{"a": [], "b": {}, "c": []}"#, #line),
            ("{\"a\":1, 'b': [x], c: {d: e}}", #"{"a": "1", "b": ["x"], "c": {"d": "e"}}"#, #line),
            ("{a, b: , c: d,}", #"{"a": ~, "b": ~, "c": "d"}"#, #line),
            ("{\"a\":b, 'c':}", #"{"a": "b", "c": ~}"#, #line),
            ("[http://x, a:b, -1, a#b, \"@x\"]", #"["http://x", "a:b", "-1", "a#b", "@x"]"#, #line),
            ("[a\n  b, c]", #"["a b", "c"]"#, #line),
            ("- [a, b]\n- {c: d}\n", #"[["a", "b"], {"c": "d"}]"#, #line),
            ("values:\n  - [\"@x.com\"]\n", #"{"values": [["@x.com"]]}"#, #line),
            ("a: [b, [c, [d, {e: [f]}]]] # c\n", #"{"a": ["b", ["c", ["d", {"e": ["f"]}]]]}"#, #line),
            ("a: [x, \"y\n   z\"]\n", #"{"a": ["x", "y z"]}"#, #line),
            // Documents.
            ("---\na: b\n...\n# trailing\n", #"{"a": "b"}"#, #line),
            ("--- text\n", #""text""#, #line),
            ("--- |\n  x\n", #""x\n""#, #line),
            ("--- >\n\n# comment\n", #""""#, #line),
            ("--- [a]\n", #"["a"]"#, #line),
            ("--- 'q'\n...\n", #""q""#, #line),
            // Line breaks and byte-order mark.
            ("a: b\r\nc: |\r\n  x\r\n  y\r\n", #"{"a": "b", "c": "x\ny\n"}"#, #line),
            ("a: b\rc: d\r", #"{"a": "b", "c": "d"}"#, #line),
            ("\u{FEFF}a: b\n", #"{"a": "b"}"#, #line),
        ]
        for (input, expected, line) in cases {
            XCTAssertEqual(self.render(self.parse(input, line: line)), expected, "input: \(input.debugDescription)", line: line)
        }
    }

    // MARK: Rejected input

    func testRejectTable() {
        let deepFlow = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let deepBlock = String(repeating: "- ", count: 10_000) + "x\n"
        var deepMapping = ""
        for level in 0..<1_000 { deepMapping += String(repeating: " ", count: level) + "k:\n" }
        let cases: [(input: String, line: Int, column: Int, fragment: String, testLine: UInt)] = [
            // Unsupported features.
            ("a: &x b", 1, 4, "anchors", #line),
            ("a: *x", 1, 4, "aliases", #line),
            ("a: !!str b", 1, 4, "tags", #line),
            ("- !tag x", 1, 3, "tags", #line),
            ("[&a x]", 1, 2, "anchors", #line),
            ("? a\n: b", 1, 1, "complex mapping keys", #line),
            ("a: [? b]", 1, 5, "complex mapping keys", #line),
            ("[a]: b", 1, 4, "cannot be mapping keys", #line),
            ("a: {[b]: c}", 1, 5, "cannot be mapping keys", #line),
            ("a: [b]: c", 1, 7, "cannot be mapping keys", #line),
            ("%YAML 1.2\n---\na: b", 1, 1, "directives", #line),
            ("a: 1\n<<: {b: 2}", 2, 1, "merge keys", #line),
            ("{a: 1, <<: x}", 1, 8, "merge keys", #line),
            ("a: %x", 1, 4, "'%'", #line),
            ("a: @x", 1, 4, "reserved", #line),
            ("a: `x", 1, 4, "reserved", #line),
            ("[a: b]", 1, 3, "single-pair mappings", #line),
            ("a: [b\nc: d", 2, 1, "expected ',' or ']'", #line),
            ("{a:[b]}", 1, 4, "a space is required", #line),
            ("{a:, b}", 1, 4, "a space is required", #line),
            ("{a\n b: c}", 1, 2, "must fit on one line", #line),
            ("{a\n : c}", 2, 2, "same line as its key", #line),
            ("[?x]", 1, 2, "ambiguous", #line),
            ("{a: :x}", 1, 5, "ambiguous", #line),
            (": b", 1, 1, "missing mapping key", #line),
            // Documents.
            ("a: b\n---\nc: d", 2, 1, "multiple documents", #line),
            ("---\na\n---\nb", 3, 1, "multiple documents", #line),
            ("---\n---\n", 2, 1, "multiple documents", #line),
            ("a: b\n...\n---\nc: d", 3, 1, "multiple documents", #line),
            ("a: b\n...\nc: d", 3, 1, "after the document end marker", #line),
            ("a: [b,\n---\n]", 2, 1, "document marker inside a flow sequence", #line),
            ("a: 'b\n...\n'", 2, 1, "document marker inside a single-quoted scalar", #line),
            ("--- a: b", 1, 6, "cannot start on the '---' line", #line),
            ("--- |\nx\n", 2, 1, "unexpected content after the document's root node", #line),
            ("\"a\"\nb\n", 2, 1, "unexpected content after the document's root node", #line),
            ("[a]\nb\n", 2, 1, "unexpected content after the document's root node", #line),
            // Tabs.
            ("a:\n\tb: c", 2, 1, "tab", #line),
            ("a:\n  \tb: c", 2, 3, "tab", #line),
            ("- a: [\n\tb]", 2, 1, "tab", #line),
            ("-\ta: b", 1, 4, "not tabs", #line),
            ("a: \"x\n\ty\"", 2, 1, "tab", #line),
            // Duplicate keys.
            ("a: b\na: c", 2, 1, "duplicate key 'a'", #line),
            ("- a: 1\n  \"a\": 2", 2, 3, "duplicate key 'a'", #line),
            ("{a: 1, b: 2, a: 3}", 1, 14, "duplicate key 'a' in mapping (first at line 1)", #line),
            // Indentation and structure.
            ("a:\n    b: 1\n  c: 2", 3, 3, "bad indentation of a mapping entry", #line),
            ("a: \"x\"\n  c: d", 2, 3, "bad indentation of a mapping entry", #line),
            ("a: |\n  x\n y", 3, 2, "bad indentation of a mapping entry", #line),
            ("- a\nb", 2, 1, "expected a sequence entry", #line),
            ("a:\n  - b\n  c: d", 3, 3, "expected a sequence entry", #line),
            ("- |\n  x\n - y", 3, 2, "bad indentation of a sequence entry", #line),
            ("a: 1\n- b", 2, 1, "found a sequence entry", #line),
            ("  a: 1\nb: 2", 2, 1, "less indented than the document's root", #line),
            ("a: 1\nb", 2, 1, "found no ':'", #line),
            ("a: b: c", 1, 5, "block mapping is not allowed here", #line),
            ("desc: Detect foo:\n", 1, 17, "block mapping is not allowed here", #line),
            ("key: - a", 1, 6, "block sequence is not allowed here", #line),
            ("- a\n b: c", 2, 3, "mapping values are not allowed here", #line),
            ("a: x\n  y: z", 2, 4, "mapping values are not allowed here", #line),
            ("a\nb: c", 2, 2, "mapping values are not allowed here", #line),
            ("\"a\nb\": c", 1, 1, "must fit on one line", #line),
            ("a: \"x\"y", 1, 7, "unexpected content", #line),
            ("a: 'x'#c", 1, 7, "whitespace", #line),
            ("a: [x]#c", 1, 7, "whitespace", #line),
            ("a: [x,#c\n]", 1, 7, "whitespace", #line),
            ("a: |\n   \n  x", 2, 4, "leading empty line", #line),
            ("a: |\n  x\n---x\n", 3, 1, "found no ':'", #line),
            // Unterminated and malformed scalars / collections.
            ("a: [b, c", 1, 4, "unterminated flow sequence", #line),
            ("a: {b: c", 1, 4, "unterminated flow mapping", #line),
            ("- items: [a,\n- b", 2, 1, "bad indentation of a flow sequence's continuation line", #line),
            ("a: [b}", 1, 6, "expected ',' or ']'", #line),
            ("a: [1, , 2]", 1, 8, "empty entries", #line),
            ("a: [,]", 1, 5, "empty entries", #line),
            ("a: {b: c d: e}", 1, 11, "expected ',' or '}'", #line),
            ("a: [|]", 1, 5, "block scalars", #line),
            ("a: [- b]", 1, 5, "block sequence entries", #line),
            ("a: \"abc", 1, 4, "unterminated double-quoted scalar", #line),
            ("a: 'abc\n  def", 1, 4, "unterminated single-quoted scalar", #line),
            ("- a: 'abc\n- b: c'", 2, 1, "bad indentation of a single-quoted scalar's continuation line", #line),
            ("a: \"\\q\"", 1, 5, "invalid escape sequence '\\q'", #line),
            ("a: \"\\u12\"", 1, 5, "4 hexadecimal digits", #line),
            ("a: \"\\ud800\"", 1, 5, "not a valid Unicode scalar", #line),
            ("a: \"\\U00110000\"", 1, 5, "not a valid Unicode scalar", #line),
            ("a: |0\n x", 1, 5, "between 1 and 9", #line),
            ("a: |x", 1, 5, "invalid block scalar header", #line),
            ("a: |#x", 1, 5, "invalid block scalar header", #line),
            ("a: | x", 1, 6, "must start on the line after", #line),
            ("a: b\u{01}", 1, 5, "control character U+0001", #line),
            ("é: b\u{7F}", 1, 5, "control character U+007F", #line),
            // Depth limit.
            (deepFlow, 1, 256, "nesting is too deep", #line),
            (deepBlock, 1, 513, "nesting is too deep", #line),
            (deepMapping, 257, 257, "nesting is too deep", #line),
        ]
        for (input, line, column, fragment, testLine) in cases {
            let shown = input.count > 60 ? String(input.prefix(60)).debugDescription + "…" : input.debugDescription
            guard let error = self.parseError(input) else {
                XCTFail("expected an error for \(shown)", line: testLine)
                continue
            }
            XCTAssertEqual(error.position, YAMLPosition(line: line, column: column), "\(shown): \(error)", line: testLine)
            XCTAssertTrue(error.message.contains(fragment), "\(shown): \(error) lacks \(fragment.debugDescription)",
                          line: testLine)
        }
    }

    // MARK: Scalar details

    func testStylesAndNull() throws {
        let root = try XCTUnwrap(YAMLReader.parse("""
            p: plain
            s: 'single'
            d: "double"
            l: |
              literal
            f: >
              folded
            n: null
            q: 'null'
            e:
            """))
        let expected: [(String, YAMLScalar.Style, Bool)] = [
            ("p", .plain, false), ("s", .singleQuoted, false), ("d", .doubleQuoted, false), ("l", .literal, false),
            ("f", .folded, false), ("n", .plain, true), ("q", .singleQuoted, false), ("e", .plain, true),
        ]
        for (key, style, isNull) in expected {
            let scalar = try XCTUnwrap(root[key]?.scalar, key)
            XCTAssertEqual(scalar.style, style, key)
            XCTAssertEqual(scalar.isNull, isNull, key)
        }
        XCTAssertEqual(root["q"]?.scalar?.value, "null")
        XCTAssertNil(root["missing"])
        XCTAssertEqual(root.kindName, "mapping")
        XCTAssertEqual(root.pairs?.map(\.key.value), ["p", "s", "d", "l", "f", "n", "q", "e"])
    }

    func testNodePositions() throws {
        let root = try XCTUnwrap(YAMLReader.parse("""
            # comment
            - rule: x
              tags: [a, "b"]
              desc: |
                text
              empty:
            - 'q'
            """))
        XCTAssertEqual(root.position, YAMLPosition(line: 2, column: 1))
        let items = try XCTUnwrap(root.items)
        XCTAssertEqual(items[0].position, YAMLPosition(line: 2, column: 3))
        let pairs = try XCTUnwrap(items[0].pairs)
        XCTAssertEqual(pairs[0].key.position, YAMLPosition(line: 2, column: 3))
        XCTAssertEqual(pairs[0].value.position, YAMLPosition(line: 2, column: 9))
        XCTAssertEqual(pairs[1].value.position, YAMLPosition(line: 3, column: 9))
        XCTAssertEqual(pairs[1].value.items?[1].position, YAMLPosition(line: 3, column: 13))
        XCTAssertEqual(pairs[2].value.position, YAMLPosition(line: 4, column: 9))
        XCTAssertEqual(pairs[3].value.position, YAMLPosition(line: 6, column: 9))
        XCTAssertEqual(items[1].position, YAMLPosition(line: 7, column: 3))
        // Columns count Unicode scalars, not bytes.
        let unicode = try XCTUnwrap(YAMLReader.parse("é: ü x"))
        XCTAssertEqual(unicode["é"]?.position, YAMLPosition(line: 1, column: 4))
    }

    func testOffsetsMapBackToTheSource() throws {
        let text = """
            - macro: m
              condition: kevt and pod
                and kcreate
            - rule: r
              output: "user=%ka.user.name \\t\\u00e9 x"
              desc: 'it''s here'
              block: >
                first line
                  more
                last é x
              single: ka.verb=get
            """
        let root = try XCTUnwrap(YAMLReader.parse(text))
        let items = try XCTUnwrap(root.items)
        func check(_ scalar: YAMLScalar?, _ needle: String, _ line: Int, _ column: Int, file: StaticString = #filePath,
                   testLine: UInt = #line) {
            guard let scalar, let range = scalar.value.range(of: needle) else {
                XCTFail("\(needle) not found", file: file, line: testLine)
                return
            }
            let offset = scalar.value.utf8.distance(from: scalar.value.startIndex, to: range.lowerBound)
            XCTAssertEqual(scalar.position(atUTF8Offset: offset), YAMLPosition(line: line, column: column),
                           needle, file: file, line: testLine)
        }
        let condition = items[0]["condition"]?.scalar
        XCTAssertEqual(condition?.value, "kevt and pod and kcreate")
        check(condition, "kevt", 2, 14)
        check(condition, "pod", 2, 23)
        check(condition, "kcreate", 3, 9)
        XCTAssertEqual(condition?.position(atUTF8Offset: 12), YAMLPosition(line: 2, column: 26))  // folded space
        let output = items[1]["output"]?.scalar
        XCTAssertEqual(output?.value, "user=%ka.user.name \té x")
        check(output, "%ka", 5, 17)
        check(output, "\t", 5, 31)  // the escape's backslash
        check(output, "é", 5, 33)
        check(output, " x", 5, 39)
        let desc = items[1]["desc"]?.scalar
        check(desc, "it", 6, 10)
        check(desc, "s here", 6, 14)
        let block = items[1]["block"]?.scalar
        XCTAssertEqual(block?.value, "first line\n  more\nlast é x\n")
        XCTAssertEqual(block?.position, YAMLPosition(line: 7, column: 10))
        check(block, "first", 8, 5)
        check(block, "  more", 9, 5)
        check(block, "more", 9, 7)
        check(block, "x\n", 10, 12)
        let single = items[1]["single"]?.scalar
        check(single, "get", 11, 19)
        XCTAssertEqual(single?.segments, [YAMLScalar.Segment(valueOffset: 0, position: YAMLPosition(line: 11, column: 11))])
        XCTAssertEqual(single.map { $0.position(atUTF8Offset: 1000) }, YAMLPosition(line: 11, column: 22))
    }

    func testErrorDescription() {
        let error = self.parseError("a: b\na: c")
        XCTAssertEqual(error?.description, "line 2, column 1: duplicate key 'a' in mapping (first at line 1)")
    }

    // MARK: Size and depth

    func testLargeScalarsAreLinear() throws {
        // 1 MB in several shapes; a quadratic algorithm would take minutes here.
        let big = String(repeating: "abcdefgh", count: 131_072)
        let plain = try XCTUnwrap(YAMLReader.parse("k: " + big + "\n"))
        XCTAssertEqual(plain["k"]?.scalar?.value.utf8.count, big.utf8.count)
        let escaped = String(repeating: "\\tx", count: 300_000)
        let quoted = try XCTUnwrap(YAMLReader.parse("k: \"" + escaped + "\""))
        XCTAssertEqual(quoted["k"]?.scalar?.value.utf8.count, 600_000)
        XCTAssertEqual(quoted["k"]?.scalar?.segments.count, 300_001)
        let lines = String(repeating: "  word word word\n", count: 60_000)
        let block = try XCTUnwrap(YAMLReader.parse("k: >\n" + lines))
        XCTAssertEqual(block["k"]?.scalar?.value.utf8.count, 60_000 * 15)
        let multiline = try XCTUnwrap(YAMLReader.parse("k: a\n" + lines))
        XCTAssertEqual(multiline["k"]?.scalar?.value.utf8.count, 1 + 60_000 * 15)
        let flow = "[" + String(repeating: "item, ", count: 150_000) + "]"
        XCTAssertEqual(try XCTUnwrap(YAMLReader.parse(flow)).items?.count, 150_000)
    }

    func testDepthLimitAllowsReasonableNesting() throws {
        let nested = String(repeating: "[", count: 200) + "x" + String(repeating: "]", count: 200)
        var node = try XCTUnwrap(YAMLReader.parse(nested))
        for _ in 0..<200 { node = try XCTUnwrap(node.items?.first) }
        XCTAssertEqual(node.scalar?.value, "x")
    }

    // MARK: Falco rule files

    func testFalcoK8sAuditRules() throws {
        let url = Self.sharedDirectory.appendingPathComponent("reference/falco/k8s_audit_rules.yaml")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("\(url.path) not present") }
        let root = try XCTUnwrap(YAMLReader.parse(String(contentsOf: url, encoding: .utf8)))
        let items = try XCTUnwrap(root.items)
        func count(_ key: String) -> Int { items.filter { $0[key] != nil }.count }
        XCTAssertEqual(count("rule"), 48)
        XCTAssertEqual(count("macro"), 45)
        XCTAssertEqual(count("list"), 18)
        XCTAssertEqual(items.first?["required_engine_version"]?.scalar?.value, "15")

        let plugins = try XCTUnwrap(items[1]["required_plugin_versions"]?.items)
        XCTAssertEqual(plugins.map { $0["name"]?.scalar?.value }, ["k8saudit", "json"])
        XCTAssertEqual(plugins[0]["alternatives"]?.items?.count, 4)
        XCTAssertEqual(plugins[0]["alternatives"]?.items?[2]["name"]?.scalar?.value, "k8saudit-gke")

        func item(_ kind: String, _ name: String) -> YAMLNode? {
            items.first { $0[kind]?.scalar?.value == name }
        }
        let joined = try XCTUnwrap(item("rule", "Untrusted Node Successfully Joined the Cluster"))
        XCTAssertEqual(joined["condition"]?.scalar?.value,
                       "kevt and node and kcreate and response_successful and not allow_all_k8s_nodes "
                           + "and not ka.target.name in (allowed_k8s_nodes)\n")
        XCTAssertEqual(joined["condition"]?.scalar?.style, .folded)
        XCTAssertEqual(joined["tags"]?.items?.map { $0.scalar?.value }, ["k8s"])

        let users = try XCTUnwrap(item("list", "allowed_k8s_users")?["items"]?.items)
        XCTAssertEqual(users.count, 14)
        XCTAssertEqual(users.first?.scalar?.value, "minikube")
        XCTAssertEqual(users.first?.scalar?.style, .doubleQuoted)
        XCTAssertEqual(users[9].scalar?.value, "vertical_pod_autoscaler_users")
        XCTAssertEqual(users[9].scalar?.style, .plain)
        XCTAssertEqual(item("list", "allowed_k8s_nodes")?["items"]?.items?.count, 0)

        let nonSystem = try XCTUnwrap(item("macro", "non_system_user")?["condition"]?.scalar)
        XCTAssertEqual(nonSystem.value, #"(not ka.user.name startswith "system:")"#)
        let configmap = try XCTUnwrap(item("macro", "contains_private_credentials")?["condition"]?.scalar)
        XCTAssertTrue(configmap.value.hasPrefix("(ka.req.configmap.obj contains \"aws_access_key_id\" or\n "),
                      configmap.value)
        // Every rule has the fields the engine needs.
        for rule in items where rule["rule"] != nil {
            let name = rule["rule"]?.scalar?.value ?? "?"
            for key in ["desc", "condition", "output", "priority"] {
                XCTAssertNotNil(rule[key]?.scalar, "\(name) lacks \(key)")
            }
        }
    }

    func testFalcoGKERules() throws {
        let directory = Self.sharedDirectory.appendingPathComponent("reference/falco/gke")
        guard FileManager.default.fileExists(atPath: directory.path) else { throw XCTSkip("\(directory.path) not present") }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertFalse(names.isEmpty)
        for name in names {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            XCTAssertNoThrow(try YAMLReader.parse(text), name)
        }
        let hack = try XCTUnwrap(YAMLReader.parse(
            String(contentsOf: directory.appendingPathComponent("hack_rules.yaml"), encoding: .utf8)))
        let hackItems = try XCTUnwrap(hack.items)
        XCTAssertEqual(hackItems[2]["rule"]?.scalar?.value, "GKE Pod Event")
        XCTAssertEqual(hackItems[2]["condition"]?.scalar?.value, #"ka.auditid != "" and ka.target.resource == "pods""# + "\n")

        let gke = try XCTUnwrap(YAMLReader.parse(
            String(contentsOf: directory.appendingPathComponent("k8s_audit_rules_gke.yaml"), encoding: .utf8)))
        let items = try XCTUnwrap(gke.items)
        let disallowed = try XCTUnwrap(items.first { $0["rule"]?.scalar?.value == "Disallowed K8s User" })
        XCTAssertEqual(disallowed["override"]?["exceptions"]?.scalar?.value, "append")
        let exception = try XCTUnwrap(disallowed["exceptions"]?.items?.first)
        XCTAssertEqual(exception["fields"]?.items?.map { $0.scalar?.value }, ["ka.user.name"])
        XCTAssertEqual(exception["values"]?.items?.first?.items?.first?.scalar?.value,
                       "@container-engine-robot.iam.gserviceaccount.com")
        let lists = items.filter { $0["list"] != nil }
        XCTAssertEqual(lists.count, 4)
        XCTAssertEqual(lists.map { $0["items"]?.items?.count }, [5, 11, 2, 18])
        XCTAssertTrue(lists.allSatisfy { $0["override"]?["items"]?.scalar?.value == "append" })
    }
}
