// Fuzz target: the condition parser (ConditionParser.parse). Checks error spans lie inside the text,
// that trailing blanks change nothing, and that the AST prints.

import AuditRules
import FuzzSupport

@_cdecl("fuzz_condition_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, count in
        fuzzOne(String(decoding: UnsafeRawBufferPointer(start: count > 0 ? data : nil, count: count), as: UTF8.self))
        return 0
    }
}

func parse(_ text: String) -> Result<ConditionNode, ConditionSyntaxError> {
    do {
        return .success(try ConditionParser.parse(text))
    } catch {
        return .failure(error)
    }
}

func fuzzOne(_ text: String) {
    let n = text.utf8.count
    let first = parse(text)
    switch first {
    case .success(let node):
        check(!node.description.isEmpty, "empty AST description")
    case .failure(let error):
        check(error.span.offset >= 0 && error.span.length >= 0 && error.span.offset <= n,
              "error span \(error.span) outside a text of \(n) bytes: \(error.message)")
        let (line, column) = error.span.lineAndColumn(in: text)
        check(line >= 1 && column >= 1, "bad line/column \(line):\(column)")
        check(!error.message.isEmpty, "empty error message")
    }
    // Trailing blanks change nothing (not even spans); skip when the text ends inside a quote,
    // a comment or at the length limit, where they are content.
    guard n < 1000, !text.contains("\""), !text.contains("'") else { return }
    switch (first, parse(text + "  ")) {
    case (.success(let a), .success(let b)):
        check(a == b, "trailing blanks change the AST: \(a) vs \(b)")
    case (.failure, .failure):
        break
    case (.success(let a), .failure(let e)):
        check(false, "trailing blanks make \(a) fail: \(e)")
    case (.failure(let e), .success(let b)):
        check(false, "trailing blanks make a failing condition (\(e)) parse: \(b)")
    }
}
