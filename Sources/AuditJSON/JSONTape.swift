import AuditJSONParser
#if canImport(AuditJSONParserAVX2)
import AuditJSONParserAVX2
#endif

/// Why a document was rejected, and where (defined next to the parser, in module AuditJSONParser).
public typealias JSONError = AuditJSONParser.JSONError

/// A reusable parse target: parse many documents, one after the other, into the same storage (the tape's
/// layout is described in AuditJSONParser's TapeFormat.swift).
///
/// After the tape has grown to the size of the largest document, parsing allocates nothing.
/// Values read from the tape (``JSONValue``) point into the tape and into the parsed bytes: they are valid
/// until the next call to ``parse(_:)`` and only while the parsed bytes stay alive and unchanged.
///
/// The parser is strict RFC 8259 (see the README for the decisions on the cases RFC 8259 leaves open):
/// - invalid UTF-8 inside strings is accepted as is (decoding replaces it with U+FFFD);
/// - escaped lone surrogates (`"\uD800"`) are accepted (decoding gives U+FFFD);
/// - numbers of any size are accepted as tokens; conversion reports `nil` when out of range;
/// - nesting deeper than ``maxDepth`` (default 1024) is rejected.
public final class JSONTape {
    @usableFromInline var words: UnsafeMutablePointer<UInt64>
    @usableFromInline var capacity: Int
    @usableFromInline var used: Int = 0
    @usableFromInline var base: UnsafePointer<UInt8>? = nil
    /// The deepest nesting of arrays and objects accepted.
    public let maxDepth: Int
    /// Object members with one of these names whose value is an object or an array are not parsed: the
    /// value becomes one *deferred* node (``JSONValue/isDeferred``) that keeps its bytes
    /// (``JSONValue/rawBytes``), and the parser only checks what it needs to find the value's end
    /// reliably: strings are terminated, hold no control characters and only valid escapes, brackets
    /// balance and nesting stays within ``maxDepth``. The rest of the grammar inside (commas, colons,
    /// numbers, literals, whether `[` closes with `]`) is checked when the value is parsed on its own
    /// (``JSONTape/parse(_:)`` of its raw bytes).
    ///
    /// Empty (the default): every value is parsed, strictly. The replay pipeline defers the request and
    /// response bodies of audit events, which most rules never read (see `ReplayWorker`).
    public var deferredKeys: [String] = [] {
        didSet {
            let keys = DeferredKeys(deferredKeys)
            baselineParser?.deferred = keys
            #if canImport(AuditJSONParserAVX2)
            avx2Parser?.deferred = keys
            #endif
        }
    }

    /// The parser this tape runs (see ``JSONParserKind``).
    public let parserKind: JSONParserKind
    /// The parser, one of the two (nil: the other one runs).
    private let baselineParser: AuditJSONParser.TapeParser?
    #if canImport(AuditJSONParserAVX2)
    private let avx2Parser: AuditJSONParserAVX2.TapeParser?
    /// The same parser, unretained, for the per-document call: ``avx2Parser`` keeps it alive as long as
    /// the tape, and a call through the strong reference cost two atomic operations per document (about
    /// 1% of a replay).
    private let avx2Call: Unmanaged<AuditJSONParserAVX2.TapeParser>?
    #endif

    /// Creates an empty tape. `maxDepth` limits the nesting of arrays and objects. `parser`: which
    /// parser to run (``JSONParserKind/automatic`` by default; one this machine cannot run falls back to
    /// the baseline).
    public init(maxDepth: Int = 1024, initialCapacity: Int = 4096, parser: JSONParserKind = .automatic) {
        self.parserKind = JSONParserKind.available.contains(parser) ? parser : .baseline
        self.maxDepth = max(1, maxDepth)
        self.capacity = max(64, initialCapacity)
        self.words = .allocate(capacity: capacity)
        #if canImport(AuditJSONParserAVX2)
        avx2Parser = parserKind == .avx2 ? AuditJSONParserAVX2.TapeParser(maxDepth: self.maxDepth) : nil
        avx2Call = avx2Parser.map { Unmanaged.passUnretained($0) }
        #endif
        baselineParser = parserKind == .baseline ? AuditJSONParser.TapeParser(maxDepth: self.maxDepth) : nil
    }

    deinit {
        words.deallocate()
    }

    /// The number of tape words used by the last document parsed.
    public var wordCount: Int { used }

    /// The root value of the last document parsed. Only valid after a successful ``parse(_:)``.
    @inlinable public var root: JSONValue {
        precondition(used > 0 && base != nil, "JSONTape.root read before a successful parse")
        return JSONValue(words: UnsafePointer(words), base: base!, index: 0)
    }

    /// Parses one JSON document. Whitespace around the value is allowed; anything else after it is an
    /// error. On error the tape holds no document.
    public func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONError) {
        used = 0
        base = nil
        guard let start = bytes.baseAddress, bytes.count > 0 else {
            throw JSONError(offset: 0, reason: .empty)
        }
        let p = start.assumingMemoryBound(to: UInt8.self)
        let n = bytes.count
        // A document of n bytes needs at most 2n + 2 words (every node takes two words and at least one
        // byte, except an empty container's two nodes, which take two bytes). For documents up to
        // `reserveLimit` bytes the tape is grown once up front and the parser writes without checks.
        let unchecked = n <= JSONTape.reserveLimit
        if unchecked && capacity < 2 &* n &+ 2 {
            words.deallocate()
            capacity = max(capacity * 2, 2 &* n &+ 2)
            words = .allocate(capacity: capacity)
        }
        var w = TapeWriter(words: words, capacity: capacity, used: 0)
        defer {
            words = w.words
            capacity = w.capacity
        }
        #if canImport(AuditJSONParserAVX2)
        if let parser = avx2Call {
            let failure = parser._withUnsafeGuaranteedRef { parser -> JSONError? in
                do throws(JSONError) {
                    try parser.parse(p, n, into: &w, checked: !unchecked)
                    return nil
                } catch {
                    return error
                }
            }
            if let failure { throw failure }
            used = w.used
            base = p
            return
        }
        #endif
        try baselineParser!.parse(p, n, into: &w, checked: !unchecked)
        used = w.used
        base = p
    }

    /// Documents up to this size are parsed into a tape reserved up front (at most 2 MiB of words).
    static let reserveLimit = 128 << 10
}
