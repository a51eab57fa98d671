import Foundation
import XCTest

@testable import AuditRules

final class ConditionParserTests: XCTestCase {

    // MARK: Helpers

    private func canonical(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            return try ConditionParser.parse(text).description
        } catch {
            XCTFail("rejected \(text.debugDescription): \(error)", file: file, line: line)
            return nil
        }
    }

    private func parseError(_ text: String) -> ConditionSyntaxError? {
        do {
            let node = try ConditionParser.parse(text)
            XCTFail("accepted \(text.debugDescription) as \(node)")
            return nil
        } catch {
            return error
        }
    }

    // MARK: Accept tables

    /// Condition -> canonical S-expression.
    private static let accepted: [(String, String)] = [
        // Boolean structure (after libs' smoke tests).
        ("a", "(ref a)"),
        ("  a", "(ref a)"),
        ("(a)", "(ref a)"),
        ("a and b", "(and (ref a) (ref b))"),
        ("a and b and c", "(and (ref a) (ref b) (ref c))"),
        ("a and b and(c)", "(and (ref a) (ref b) (ref c))"),
        ("(a)and(b)and(c)", "(and (ref a) (ref b) (ref c))"),
        ("a or b or(c)", "(or (ref a) (ref b) (ref c))"),
        ("(a)or(b)or(c)", "(or (ref a) (ref b) (ref c))"),
        ("(a and b) and c", "(and (and (ref a) (ref b)) (ref c))"),
        ("(a.a exists and b)", "(and (exists a.a) (ref b))"),
        ("(a.a exists) and (b)", "(and (exists a.a) (ref b))"),
        ("not (a)", "(not (ref a))"),
        ("not(a)", "(not (ref a))"),
        ("not not a", "(ref a)"),
        ("not not not a", "(not (ref a))"),
        ("not (not (a))", "(not (not (ref a)))"),
        ("not(not(a))", "(not (not (ref a)))"),
        ("not(a)and(not(b))", "(and (not (ref a)) (not (ref b)))"),
        ("not a.b=1", "(not (= a.b \"1\"))"),
        ("not a.a exists", "(not (exists a.a))"),
        ("a and notb", "(and (ref a) (ref notb))"),
        ("notz and a", "(and (ref notz) (ref a))"),
        ("macro and not_macro", "(and (ref macro) (ref not_macro))"),
        ("macro and not not_macro", "(and (ref macro) (not (ref not_macro)))"),
        ("macro and and_macro or or_macro", "(or (and (ref macro) (ref and_macro)) (ref or_macro))"),
        ("((macro) and (not_macro))", "(and (ref macro) (ref not_macro))"),
        ("not.x exists", "(exists not.x)"),
        ("a\n and\tb\r\n", "(and (ref a) (ref b))"),

        // Values.
        ("a.b = not", "(= a.b \"not\")"),
        ("a.b = bla", "(= a.b \"bla\")"),
        ("a.b = 'bla'", "(= a.b \"bla\")"),
        ("a.b = a.a", "(= a.b \"a.a\")"),
        ("evt.dir=> and fd.name=*.log", "(and (= evt.dir \">\") (= fd.name \"*.log\"))"),
        ("test.str = 0a!@#456:/\\.;!$%^&*[]{}|", "(= test.str \"0a!@#456:/\\\\.;!$%^&*[]{}|\")"),
        ("test.str = \"\"", "(= test.str \"\")"),
        ("test.str = ''", "(= test.str \"\")"),
        ("test.str = \"mixed '\"", "(= test.str \"mixed '\")"),
        ("test.str = 'mixed \"'", "(= test.str \"mixed \\\"\")"),
        ("ka.verb=create", "(= ka.verb \"create\")"),
        ("ka.verb == create", "(= ka.verb \"create\")"),
        ("ka.verb!=\"create\"", "(!= ka.verb \"create\")"),
        ("ka.uri startswith /api", "(startswith ka.uri \"/api\")"),
        ("ka.target.name=system:anonymous", "(= ka.target.name \"system:anonymous\")"),
        ("ka.response.code startswith 2", "(startswith ka.response.code \"2\")"),
        ("ka.uri=/healthz or ka.uri startswith /healthz?",
         "(or (= ka.uri \"/healthz\") (startswith ka.uri \"/healthz?\"))"),
        ("ka.auth.decision=\"allow\" and x", "(and (= ka.auth.decision \"allow\") (ref x))"),
        ("ka.x = \"a\"and b", "(and (= ka.x \"a\") (ref b))"),
        ("ka.x = héllo and b", "(and (= ka.x \"héllo\") (ref b))"),

        // Every operator.
        ("t.op != v", "(!= t.op \"v\")"),
        ("t.op < 1", "(< t.op \"1\")"),
        ("t.op <= 0x12345", "(<= t.op \"0x12345\")"),
        ("t.op > -0.1222e+10", "(> t.op \"-0.1222e+10\")"),
        ("t.op >= +1.", "(>= t.op \"+1.\")"),
        ("t.op<0XaB00AB", "(< t.op \"0XaB00AB\")"),
        ("t.op contains v", "(contains t.op \"v\")"),
        ("t.op icontains 'v'", "(icontains t.op \"v\")"),
        ("t.op bcontains 48545450", "(bcontains t.op \"48545450\")"),
        ("t.op startswith v", "(startswith t.op \"v\")"),
        ("t.op bstartswith 12ab001fc5", "(bstartswith t.op \"12ab001fc5\")"),
        ("t.op endswith\tv", "(endswith t.op \"v\")"),
        ("t.op glob '*.x'", "(glob t.op \"*.x\")"),
        ("t.op iglob *.X", "(iglob t.op \"*.X\")"),
        ("t.op pmatch (/etc, /usr/bin)", "(pmatch t.op (/etc /usr/bin))"),
        ("t.op intersects (true)", "(intersects t.op (true))"),
        ("t.op in ()", "(in t.op ())"),
        ("t.op in()", "(in t.op ())"),
        ("t.op intersects( )", "(intersects t.op ())"),
        ("t.op exists", "(exists t.op)"),
        ("t.op exists and macro", "(and (exists t.op) (ref macro))"),

        // Lists: quoted, bare, list names.
        ("a.g in (1, 'a', b)", "(in a.g (1 \"a\" b))"),
        ("a.g in (1, 'a', b.c)", "(in a.g (1 \"a\" b.c))"),
        ("t.l in (0a!@#456:/\\.;!$%^&*[]{}|, value)", "(in t.l (0a!@#456:/\\.;!$%^&*[]{}| value))"),
        ("x.y in ( a ,\n'b' , \"c d\" )", "(in x.y (a \"b\" \"c d\"))"),
        ("ka.target.name in (known_sa_list, user_known_sa_list)",
         "(in ka.target.name (known_sa_list user_known_sa_list))"),
        ("ka.req.role.rules.resources intersects (\"*\")", "(intersects ka.req.role.rules.resources (\"*\"))"),
        ("ka.user.name in allowed_users", "(in ka.user.name \"allowed_users\")"),

        // Field arguments.
        ("ka.uri.param[command] exists", "(exists ka.uri.param[command])"),
        ("ka.req.pod.containers.image[0] = nginx", "(= ka.req.pod.containers.image[0] \"nginx\")"),
        ("jevt.value[/requestObject/spec/volumes] exists", "(exists jevt.value[/requestObject/spec/volumes])"),
        ("jevt.value[/stage] in (k8s_audit_stages)", "(in jevt.value[/stage] (k8s_audit_stages))"),
        ("t.s[0a!@#456:/\\.;!$%^&*(){}|] = v", "(= t.s[0a!@#456:/\\.;!$%^&*(){}|] \"v\")"),
        ("t.s[+0.25e+10] = a", "(= t.s[+0.25e+10] \"a\")"),
        ("t.s['a aa'] = a", "(= t.s[a aa] \"a\")"),
        ("t.s[\"\"] = empty", "(= t.s[] \"empty\")"),
        ("t.s[\"x \\\"y\\\"\"] = a", "(= t.s[x \"y\"] \"a\")"),
        ("evt.arg[0] contains /bin", "(contains evt.arg[0] \"/bin\")"),

        // val(field) on the right.
        ("a.b = val(c.d)", "(= a.b (val c.d))"),
        ("a.b != val( c.d[x] )", "(!= a.b (val c.d[x]))"),
        ("a.n > val(c.d)", "(> a.n (val c.d))"),
        ("a.b in val(c.d)", "(in a.b (val c.d))"),
        ("a.b contains val(\nc.d\n) and e", "(and (contains a.b (val c.d)) (ref e))"),

        // Precedence: not > and > or; mixing and/or is allowed.
        ("a or b and not c", "(or (ref a) (and (ref b) (not (ref c))))"),
        ("a and b or c and d", "(or (and (ref a) (ref b)) (and (ref c) (ref d)))"),
        ("a or b or c and d and e or f",
         "(or (ref a) (ref b) (and (ref c) (ref d) (ref e)) (ref f))"),
        ("not a and b", "(and (not (ref a)) (ref b))"),
        ("not a or b", "(or (not (ref a)) (ref b))"),
        ("a.a=1 or b.b=2 and c", "(or (= a.a \"1\") (and (= b.b \"2\") (ref c)))"),
        ("not (a or b) and c", "(and (not (or (ref a) (ref b))) (ref c))"),
        ("(a or b) and (c or d)", "(and (or (ref a) (ref b)) (or (ref c) (ref d)))"),
        ("a and (b or (c and not (d)))", "(and (ref a) (or (ref b) (and (ref c) (not (ref d)))))"),

        // Real conditions from the k8saudit ruleset.
        ("kevt and pod and kcreate and ka.req.pod.host_network intersects (true) and not ka.req.pod.containers.image.repository in (k8s_audit_hostnetwork_images)",
         "(and (ref kevt) (ref pod) (ref kcreate) (intersects ka.req.pod.host_network (true)) (not (in ka.req.pod.containers.image.repository (k8s_audit_hostnetwork_images))))"),
        ("kevt and ka.user.name=system:anonymous and ka.auth.decision=\"allow\" and not health_endpoint",
         "(and (ref kevt) (= ka.user.name \"system:anonymous\") (= ka.auth.decision \"allow\") (not (ref health_endpoint)))"),
        ("kevt_started and pod_subresource and (kcreate or kget) and ka.target.subresource in (exec,attach)",
         "(and (ref kevt_started) (ref pod_subresource) (or (ref kcreate) (ref kget)) (in ka.target.subresource (exec attach)))"),
        ("(ka.req.pod.volumes.hostpath intersects (/proc, /var/run/docker.sock, /, /etc))",
         "(intersects ka.req.pod.volumes.hostpath (/proc /var/run/docker.sock / /etc))"),
    ]

    func testAcceptTable() {
        for (text, expected) in Self.accepted {
            XCTAssertEqual(self.canonical(text), expected, "for \(text.debugDescription)")
        }
    }

    /// As in libs' tests: inputs keep their meaning when blanks become newlines or tabs.
    func testAcceptTableWithOtherBlanks() {
        for (text, expected) in Self.accepted where !text.contains("'") && !text.contains("\"") {
            for blank in ["\n", "\t", " \r\n "] {
                let variant = text.replacingOccurrences(of: " ", with: blank)
                XCTAssertEqual(self.canonical(variant), expected, "for \(variant.debugDescription)")
            }
        }
    }

    // MARK: Structure and spans

    func testSpansAreUTF8ByteOffsets() throws {
        let text = "kevt and ka.verb = \"create\""
        guard case .and(let children) = try ConditionParser.parse(text), children.count == 2 else {
            return XCTFail("expected and")
        }
        guard case .reference("kevt", let refSpan) = children[0] else { return XCTFail("expected ref") }
        XCTAssertEqual(refSpan, ConditionSpan(offset: 0, length: 4))
        guard case .compare(let field, .eq, .value("create", let valueSpan), let span) = children[1] else {
            return XCTFail("expected compare")
        }
        XCTAssertEqual(field.span, ConditionSpan(offset: 9, length: 7))
        XCTAssertEqual(valueSpan, ConditionSpan(offset: 19, length: 8))
        XCTAssertEqual(span, ConditionSpan(offset: 9, length: 18))

        // 'é' and '→' take 2 and 3 bytes.
        let unicode = "x.y = é→ and m"
        guard case .and(let parts) = try ConditionParser.parse(unicode),
            case .compare(_, _, .value("é→", let span2), _) = parts[0],
            case .reference("m", let mSpan) = parts[1]
        else { return XCTFail("unexpected shape") }
        XCTAssertEqual(span2, ConditionSpan(offset: 6, length: 5))
        XCTAssertEqual(mSpan, ConditionSpan(offset: 16, length: 1))
    }

    func testFieldArgumentAndListSpans() throws {
        let text = "jevt.value[/stage] in (a, 'b c')"
        guard case .compare(let field, .in_, .list(let items, let listSpan), let span) = try ConditionParser.parse(text)
        else { return XCTFail("unexpected shape") }
        XCTAssertEqual(field.name, "jevt.value")
        XCTAssertEqual(field.argument, "/stage")
        XCTAssertEqual(field.span, ConditionSpan(offset: 0, length: 18))
        XCTAssertEqual(listSpan, ConditionSpan(offset: 22, length: 10))
        XCTAssertEqual(span, ConditionSpan(offset: 0, length: 32))
        XCTAssertEqual(items, [
            .value("a", ConditionSpan(offset: 23, length: 1), quoted: false),
            .value("b c", ConditionSpan(offset: 26, length: 5), quoted: true),
        ])
        XCTAssertEqual(items[1].text, "b c")
        XCTAssertTrue(items[1].isQuoted)
        XCTAssertFalse(items[0].isQuoted)

        guard case .exists(let plain, let existsSpan) = try ConditionParser.parse("  ka.verb   exists ") else {
            return XCTFail("expected exists")
        }
        XCTAssertNil(plain.argument)
        XCTAssertEqual(existsSpan, ConditionSpan(offset: 2, length: 16))

        guard case .compare(_, .eq, .field(let other), let valSpan) = try ConditionParser.parse("a.b = val(c.d[k])")
        else { return XCTFail("expected val") }
        XCTAssertEqual(other, FieldReference(name: "c.d", argument: "k", span: ConditionSpan(offset: 10, length: 6)))
        XCTAssertEqual(valSpan, ConditionSpan(offset: 0, length: 17))
    }

    func testStringEscapes() throws {
        let cases: [(String, String)] = [
            (#"a.b = "x\"y""#, "x\"y"),
            (#"a.b = 'it\'s'"#, "it's"),
            (#"a.b = "t\tn\nr\rb\bf\f""#, "t\tn\nr\rb\u{8}f\u{C}"),
            (#"a.b = "back\\slash\/""#, "back\\slash/"),
            (#"a.b = "a\\""#, "a\\"),
            // Falco keeps `\ ` for old rules; it decodes to a lone backslash.
            (#"a.b = "bad \ escape""#, "bad \\escape"),
            ("a.b = \"multi\nline\"", "multi\nline"),
        ]
        for (text, expected) in cases {
            guard case .compare(_, _, .value(let value, _), _) = try ConditionParser.parse(text) else {
                XCTFail("unexpected shape for \(text)")
                continue
            }
            XCTAssertEqual(value, expected, "for \(text.debugDescription)")
        }
    }

    func testOperatorProperties() {
        XCTAssertEqual(ComparisonOperator(rawValue: "in"), .in_)
        XCTAssertEqual(ComparisonOperator(rawValue: "<="), .le)
        XCTAssertEqual(ComparisonOperator.allCases.filter(\.isListOperator), [.in_, .intersects, .pmatch])
        XCTAssertEqual(ComparisonOperator.allCases.filter(\.isNumericOperator), [.lt, .le, .gt, .ge])
    }

    func testErrorDescriptionAndLineColumn() {
        let text = "kevt and\n  ka.verb startwith x"
        guard let error = self.parseError(text) else { return }
        XCTAssertEqual(error.message, "unknown operator 'startwith'")
        XCTAssertEqual(error.span, ConditionSpan(offset: 19, length: 9))
        XCTAssertEqual(error.description, "unknown operator 'startwith' (at offset 19)")
        let position = error.span.lineAndColumn(in: text)
        XCTAssertEqual(position.line, 2)
        XCTAssertEqual(position.column, 11)
    }

    // MARK: Reject table

    /// Condition -> (message, offset of the error span).
    private static let rejected: [(String, String, Int)] = [
        ("", "condition is empty", 0),
        ("  \n ", "condition is empty", 4),
        // Boolean structure.
        ("a andb", "unexpected 'andb'; expected 'and', 'or' or end of condition", 2),
        ("aand b", "unexpected 'b'; expected 'and', 'or' or end of condition", 5),
        ("a orb", "unexpected 'orb'; expected 'and', 'or' or end of condition", 2),
        ("a and", "expected an expression after 'and'", 5),
        ("a and b or", "expected an expression after 'or'", 10),
        ("a and ", "expected an expression after 'and'", 6),
        ("a and\"x\"", "expected a blank or '(' after 'and'", 5),
        ("and a", "expected an expression, found 'and'", 0),
        ("or a", "expected an expression, found 'or'", 0),
        ("a and or b", "expected an expression after 'and', found 'or'", 6),
        ("a not b", "unexpected 'not'; expected 'and', 'or' or end of condition", 2),
        ("a and b not", "unexpected 'not'; expected 'and', 'or' or end of condition", 8),
        ("a AND b", "unexpected 'AND'; expected 'and', 'or' or end of condition", 2),
        ("a andnot b", "unexpected 'andnot'; expected 'and', 'or' or end of condition", 2),
        ("(a)andnot(b)", "unexpected 'andnot'; expected 'and', 'or' or end of condition", 3),
        ("not", "expected an expression after 'not'", 3),
        ("a and not", "expected an expression after 'not'", 9),
        ("a and not ", "expected an expression after 'not'", 10),
        ("(not)", "expected an expression after 'not'", 4),
        ("not\"a\"", "expected a blank or '(' after 'not'", 3),
        ("(a.b = 1", "expected ')' to close '(' at offset 0", 8),
        ("(a and (b)", "expected ')' to close '(' at offset 0", 10),
        ("((a) and b", "expected ')' to close '(' at offset 0", 10),
        ("(a and (b", "expected ')' to close '(' at offset 7", 9),
        ("a)", "unexpected ')' without a matching '('", 1),
        ("(a))", "unexpected ')' without a matching '('", 3),
        ("()", "expected an expression after '(', found ')'", 1),
        ("a or ()", "expected an expression after '(', found ')'", 6),
        ("#a and b; a and b", "expected an expression, found '#'", 0),
        ("_a", "expected an expression, found '_a'", 0),
        ("a and 1", "expected an expression after 'and', found '1'", 6),
        ("a b", "unexpected 'b'; expected 'and', 'or' or end of condition", 2),
        ("(a b)", "unexpected 'b'; expected 'and', 'or' or ')'", 3),
        // Macro names used as fields, and calls.
        ("macro > 12", "'macro' is a macro name, not a field (field names contain a dot)", 0),
        ("a and macro in (x)", "'macro' is a macro name, not a field (field names contain a dot)", 6),
        ("macro exists", "'macro' is a macro name, not a field (field names contain a dot)", 0),
        ("macro[0] = 1", "'macro' is a macro name, not a field (field names contain a dot)", 0),
        ("foo(x)", "unknown function 'foo()'", 0),
        ("tolower(ka.user.name) = x", "field transformer 'tolower()' is not supported", 0),
        ("not b64(ka.x) exists", "field transformer 'b64()' is not supported", 4),
        ("val(ka.x) = y", "'val()' is only allowed on the right of a comparison", 0),
        // Operators.
        ("ka.verb", "expected an operator after 'ka.verb'", 7),
        ("ka.verb and x", "unknown operator 'and'", 8),
        ("ka.verb ~ x", "expected an operator after 'ka.verb', found '~'", 8),
        ("ka.verb ! x", "expected an operator after 'ka.verb', found '!'", 8),
        ("a.a invalidoperator xxx", "unknown operator 'invalidoperator'", 4),
        ("ka.uri startwith /api", "unknown operator 'startwith'", 7),
        ("t.op ExIsTs", "unknown operator 'ExIsTs'", 5),
        ("t.op existsand macro", "unknown operator 'existsand'", 5),
        ("t.op exists something", "unexpected 'something'; expected 'and', 'or' or end of condition", 12),
        ("t.op containsvalue", "unknown operator 'containsvalue'", 5),
        ("t.op contains\"x\"", "expected a blank after 'contains'", 13),
        ("t.op startswith", "expected a value after 'startswith'", 15),
        ("t.op === x", "expected a value after '=='", 7),
        ("t.op !== x", "expected a value after '!='", 7),
        ("a.b = b = 1", "unexpected '='; expected 'and', 'or' or end of condition", 8),
        ("t.f[0] inx (a)", "unknown operator 'inx'", 7),
        // Values.
        ("ka.verb =", "expected a value after '='", 9),
        ("(ka.verb = )", "expected a value after '='", 11),
        ("ka.verb = ,x", "expected a value after '='", 10),
        ("t.s = a,", "unexpected ','; expected 'and', 'or' or end of condition", 7),
        ("t.s = a('\")", "unexpected '(' after 'a'", 7),
        ("t.l = (value)", "a list is not allowed after '=' (only after 'in', 'intersects', 'pmatch')", 6),
        ("t.l startswith (value)", "a list is not allowed after 'startswith' (only after 'in', 'intersects', 'pmatch')", 15),
        ("t.n > abc", "expected a number after '>', found 'abc'", 6),
        ("t.n >= 0aaaaa", "expected a number after '>=', found '0aaaaa'", 7),
        ("t.n < 0xAAA.1", "expected a number after '<', found '0xAAA.1'", 6),
        ("t.n <= 1e5", "expected a number after '<=', found '1e5'", 7),
        ("t.n > !0.1222e+10", "expected a number after '>', found '!0.1222e+10'", 6),
        ("t.n < 'x'", "expected a number after '<', found a quoted string", 6),
        ("t.s = tolower(ka.y)", "field transformer 'tolower()' is not supported", 6),
        ("t.s = val(y)", "expected a field name inside 'val()', found 'y'", 10),
        ("t.s = val()", "expected a field name inside 'val()'", 10),
        ("t.s = val(ka.y", "expected ')' to close 'val(' at offset 9", 14),
        ("t.s = val(ka.y x)", "expected ')' to close 'val(' at offset 9", 15),
        ("t.s = foo(ka.y)", "unexpected '(' after 'foo'", 9),
        // Strings.
        ("t.s = 'abc", "unterminated string", 6),
        ("t.s = \"abc\\\"", "unterminated string", 6),
        ("t.s = '", "unterminated string", 6),
        ("t.s = '\"", "unterminated string", 6),
        ("t.s = \"broken\"\"", "unexpected '\"'; expected 'and', 'or' or end of condition", 14),
        ("t.s = \"a\\qb\"", "unsupported escape '\\q' in string", 8),
        ("t.s = \"a\\é\"", "unsupported escape '\\é' in string", 8),
        ("t.s = \"mixed \\'\"", "escape '\\'' is not allowed in a \"-quoted string", 13),
        ("t.s = 'mixed \\\"'", "escape '\\\"' is not allowed in a '-quoted string", 13),
        // Lists.
        ("t.l in", "expected a value after 'in'", 6),
        ("t.l in )", "expected a value after 'in'", 7),
        ("t.l in (", "expected ')' to close '(' at offset 7", 8),
        ("t.l in (a, b", "expected ')' to close '(' at offset 7", 12),
        ("t.l in (a,", "expected ')' to close '(' at offset 7", 10),
        ("t.l in (value,)", "expected a list item after ',', found ')'", 14),
        ("t.l in (value,,)", "expected a list item after ',', found ','", 14),
        ("t.l in (,)", "expected a list item, found ','", 8),
        ("t.l in (,   ,)", "expected a list item, found ','", 8),
        ("a.g in ( 1 ,, , b)", "expected a list item after ',', found ','", 12),
        ("t.l in (a b)", "expected ',' or ')' in list, found 'b'", 10),
        ("t.l in (a=b)", "expected ',' or ')' in list, found '='", 9),
        ("t.l in (a, (b, c))", "nested lists are not supported (use a list name)", 11),
        ("t.l in 'x'", "expected '(' or a list name after 'in', found a quoted string", 7),
        ("t.l in my-list", "expected '(' or a list name after 'in', found 'my-list'", 7),
        ("t.l in 1abc", "expected '(' or a list name after 'in', found '1abc'", 7),
        ("t.l pmatch ,", "expected a value after 'pmatch'", 11),
        // Field arguments.
        ("t.s[] = x", "empty field argument", 3),
        ("t.s[ = x", "unexpected blank in field argument (quote the argument)", 4),
        ("t.s[   test   ] = x", "unexpected blank in field argument (quote the argument)", 4),
        ("t.s[a b] = x", "unexpected blank in field argument (quote the argument)", 5),
        ("t.s[a", "expected ']' to close '[' at offset 3", 5),
        ("t.s[", "expected ']' to close '[' at offset 3", 4),
        ("t.s[[] = x", "unexpected '[' in field argument", 4),
        ("t.s[a[b]] = x", "unexpected '[' in field argument", 5),
        ("t.s[aaa\"] = a", "unexpected '\"' in field argument", 7),
        ("t.s['''] = a", "unexpected ''' in field argument", 6),
        ("t.s['a] = x", "unterminated string", 4),
        ("t.s] = x", "expected an operator after 't.s', found ']'", 3),
        ("t.s [0] = x", "expected an operator after 't.s', found '['", 4),
        ("b64(t.f [1]) exists", "field transformer 'b64()' is not supported", 0),
    ]

    func testRejectTable() {
        for (text, message, offset) in Self.rejected {
            guard let error = self.parseError(text) else { continue }
            XCTAssertEqual(error.message, message, "for \(text.debugDescription)")
            XCTAssertEqual(error.span.offset, offset, "offset for \(text.debugDescription): \(error)")
        }
    }

    func testErrorSpanLengths() {
        let cases: [(String, ConditionSpan)] = [
            ("ka.uri startwith /api", ConditionSpan(offset: 7, length: 9)),
            ("t.s = 'abc", ConditionSpan(offset: 6, length: 4)),
            ("(a", ConditionSpan(offset: 2, length: 0)),
            ("t.s[] = x", ConditionSpan(offset: 3, length: 2)),
            ("tolower(ka.user.name) = x", ConditionSpan(offset: 0, length: 8)),
            ("a b", ConditionSpan(offset: 2, length: 1)),
        ]
        for (text, span) in cases {
            XCTAssertEqual(self.parseError(text)?.span, span, "for \(text.debugDescription)")
        }
    }

    // MARK: Limits

    func testNestingLimit() {
        let depth = ConditionParser.maxNestingDepth
        let ok = String(repeating: "(", count: depth) + "a" + String(repeating: ")", count: depth)
        XCTAssertEqual(self.canonical(ok), "(ref a)")
        let tooDeep = String(repeating: "(", count: depth + 1) + "a" + String(repeating: ")", count: depth + 1)
        let error = self.parseError(tooDeep)
        XCTAssertEqual(error?.message, "too many nested parentheses (more than \(depth))")
        XCTAssertEqual(error?.span.offset, depth)

        // Very deep input is rejected without exhausting the stack.
        let huge = String(repeating: "(not ", count: 200_000) + "a"
        XCTAssertEqual(self.parseError(huge)?.span.offset, depth * 5)
    }

    func testLongInputsParseInLinearTime() throws {
        // Long flat chains, long not-chains and long lists: each must finish quickly.
        let chain = Array(repeating: "m", count: 50_000).joined(separator: " and ")
        guard case .and(let terms) = try ConditionParser.parse(chain) else { return XCTFail("expected and") }
        XCTAssertEqual(terms.count, 50_000)

        let nots = String(repeating: "not ", count: 100_001) + "a"
        XCTAssertEqual(try ConditionParser.parse(nots).description, "(not (ref a))")

        let items = (0..<50_000).map { "item\($0)" }.joined(separator: ", ")
        guard case .compare(_, .in_, .list(let list, _), _) = try ConditionParser.parse("x.y in (\(items))") else {
            return XCTFail("expected list")
        }
        XCTAssertEqual(list.count, 50_000)

        let mixed = Array(repeating: "a.b = 'x y' or c.d in (1, 2)", count: 10_000).joined(separator: " and ")
        XCTAssertNoThrow(try ConditionParser.parse(mixed))
    }

    func testLengthLimit() {
        let text = String(repeating: "a", count: ConditionParser.maxLength + 1)
        let error = self.parseError(text)
        XCTAssertEqual(error?.message, "condition is too long (more than \(ConditionParser.maxLength) bytes)")
    }

    // MARK: The k8saudit ruleset

    /// Every `condition:` of the shipped Falco k8s audit ruleset parses.
    func testEveryConditionOfTheK8sAuditRulesetParses() throws {
        let shared = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("../shared/reference/falco/k8s_audit_rules.yaml").standardized
        guard let yaml = try? String(contentsOf: shared, encoding: .utf8) else {
            throw XCTSkip("\(shared.path) is not present")
        }
        let conditions = Self.extractConditions(fromYAML: yaml)
        XCTAssertEqual(conditions.count, 93, "the ad-hoc scanner missed conditions")
        var macroReferences = 0
        for (line, condition) in conditions {
            do {
                let node = try ConditionParser.parse(condition)
                if node.description.contains("(ref ") { macroReferences += 1 }
            } catch {
                XCTFail("line \(line): \(error) in \(condition.debugDescription)")
            }
        }
        XCTAssertGreaterThan(macroReferences, 50)
    }

    /// A tiny scanner for `condition:` values: inline plain scalars, `>`/`|` blocks and plain
    /// scalars continued on more-indented lines. Returns (1-based line, text).
    private static func extractConditions(fromYAML yaml: String) -> [(Int, String)] {
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func indent(_ line: String) -> Int { line.prefix { $0 == " " }.count }
        var result: [(Int, String)] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            let trimmed = line.drop { $0 == " " }
            var keyIndent = indent(line)
            var rest = Substring("")
            if trimmed.hasPrefix("condition:") {
                rest = trimmed.dropFirst("condition:".count)
            } else if trimmed.hasPrefix("- condition:") {
                keyIndent += 2
                rest = trimmed.dropFirst("- condition:".count)
            } else {
                index += 1
                continue
            }
            let head = rest.trimmingCharacters(in: .whitespaces)
            var parts = head.isEmpty || head.hasPrefix(">") || head.hasPrefix("|") ? [] : [head]
            let separator = head.hasPrefix("|") ? "\n" : " "
            var next = index + 1
            while next < lines.count {
                let candidate = lines[next]
                if candidate.trimmingCharacters(in: .whitespaces).isEmpty {
                    next += 1
                    continue
                }
                guard indent(candidate) > keyIndent else { break }
                parts.append(candidate.trimmingCharacters(in: .whitespaces))
                next += 1
            }
            result.append((index + 1, parts.joined(separator: separator)))
            index = next
        }
        return result
    }
}
