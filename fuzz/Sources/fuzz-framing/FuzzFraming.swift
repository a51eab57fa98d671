// Fuzz target: record framing. The first bytes of the input choose the framer (LineFramer,
// JSONValueFramer, or the auto choice of makeRecordFramer), a tiny batch size, a small maximum
// record size, read sizes, an idle "pipe" and an injected read failure; the rest is the stream.
//
// Checks: every record's bytes are the stream's bytes at its offset; records come in stream order
// without overlapping; the result does not depend on batch and read sizes (compared with a framing
// in one large read); LineFramer agrees with a plain line-splitting model; after a read failure the
// framer keeps throwing.

import AuditInput
import FuzzSupport

@_cdecl("fuzz_framing_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, count in
        fuzzOne(UnsafeRawBufferPointer(start: count > 0 ? data : nil, count: count))
        return 0
    }
}

enum Kind { case lines, values, auto }

struct Item: Equatable {
    var isRecord: Bool
    var diagnostic: FramingDiagnostic.Kind?
    var line: Int
    var offset: Int64
    var count: Int64
}

struct Outcome {
    var items: [Item] = []
    var failed = false
}

func makeFramer(_ kind: Kind, _ source: ByteSource, batch: Int, maxRecord: Int) -> RecordFramer {
    switch kind {
    case .lines: return LineFramer(source: source, batchSize: batch, maxRecordSize: maxRecord)
    case .values: return JSONValueFramer(source: source, batchSize: batch, maxRecordSize: maxRecord)
    case .auto: return makeRecordFramer(source: source, format: .auto, batchSize: batch, maxRecordSize: maxRecord)
    }
}

/// lineOf[i]: the 1-based line of stream offset i.
func lineNumbers(_ stream: [UInt8]) -> [Int] {
    var lines = [Int](repeating: 1, count: stream.count + 1)
    var line = 1
    for (i, byte) in stream.enumerated() {
        lines[i] = line
        if byte == 0x0A { line += 1 }
    }
    lines[stream.count] = line
    return lines
}

func frame(_ kind: Kind, _ stream: [UInt8], lineOf: [Int], source: MemorySource, batch: Int, maxRecord: Int, reuse: Bool) -> Outcome {
    let framer = makeFramer(kind, source, batch: batch, maxRecord: maxRecord)
    var outcome = Outcome()
    var previous: RecordBatch? = nil
    var lastEnd: Int64 = 0
    var sequence = 0
    while true {
        let next: RecordBatch?
        do {
            next = try framer.nextBatch(reusing: reuse ? previous : nil)
        } catch {
            outcome.failed = true
            // A failed framer stays failed.
            do {
                _ = try framer.nextBatch(reusing: nil)
                check(false, "a framer that threw returned a batch afterwards")
            } catch {}
            break
        }
        guard let b = next else { break }
        check(!b.isEmpty, "an empty batch was handed out")
        check(b.sequence == sequence, "batch sequence \(b.sequence), expected \(sequence)")
        sequence += 1
        for r in b.records {
            check(r.count > 0, "empty record")
            check(r.start >= 0 && r.start + r.count <= b.byteCount, "record outside the batch's bytes")
            check(r.byteOffset >= lastEnd, "records out of order or overlapping")
            check(r.byteOffset + Int64(r.count) <= Int64(stream.count), "record past the end of the stream")
            check(r.count <= maxRecord, "record of \(r.count) bytes over the maximum \(maxRecord)")
            let bytes = b.recordBytes(r)
            let expected = stream[Int(r.byteOffset)..<Int(r.byteOffset) + r.count]
            check(bytes.elementsEqual(expected), "record bytes differ from the stream at offset \(r.byteOffset)")
            let expectedLine = lineOf[Int(r.byteOffset)]
            check(r.line == expectedLine, "record at offset \(r.byteOffset) has line \(r.line), expected \(expectedLine)")
            lastEnd = r.byteOffset + Int64(r.count)
        }
        // Items in stream order (diagnostics of a batch may sit between its records).
        var items = b.records.map { Item(isRecord: true, diagnostic: nil, line: $0.line, offset: $0.byteOffset, count: Int64($0.count)) }
        items += b.diagnostics.map { Item(isRecord: false, diagnostic: $0.kind, line: $0.line, offset: $0.byteOffset, count: $0.byteCount) }
        items.sort { $0.offset < $1.offset || ($0.offset == $1.offset && $0.isRecord && !$1.isRecord) }
        outcome.items += items
        for d in b.diagnostics {
            check(d.byteOffset >= 0 && d.byteOffset <= Int64(stream.count), "diagnostic offset outside the stream")
            check(d.kind != .oversizedRecord || d.byteCount > Int64(maxRecord), "oversized diagnostic for \(d.byteCount) bytes")
            check(!d.description.isEmpty, "empty diagnostic text")
        }
        previous = b
    }
    return outcome
}

/// The lines model: split at '\n', strip one '\r' and a BOM on line 1, skip blank lines.
func modelLines(_ stream: [UInt8], maxRecord: Int) -> [Item] {
    var items: [Item] = []
    var start = 0
    var line = 1
    if stream.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
    var i = start
    while start < stream.count {
        while i < stream.count && stream[i] != 0x0A { i += 1 }
        var stop = i
        if stop > start && stream[stop - 1] == 0x0D { stop -= 1 }
        let blank = stream[start..<stop].allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
        if !blank {
            if stop - start > maxRecord {
                items.append(Item(isRecord: false, diagnostic: .oversizedRecord, line: line, offset: Int64(start), count: Int64(stop - start)))
            } else {
                items.append(Item(isRecord: true, diagnostic: nil, line: line, offset: Int64(start), count: Int64(stop - start)))
            }
        }
        line += 1
        i += 1
        start = i
    }
    return items
}

func fuzzOne(_ input: UnsafeRawBufferPointer) {
    var reader = FuzzReader(input.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, input.count)
    let mode = reader.byte()
    let kind: Kind = mode & 3 == 0 ? .lines : (mode & 3 == 1 ? .values : .auto)
    let idle = mode & 4 != 0
    let inject = mode & 8 != 0
    let reuse = mode & 16 != 0
    let batch = Int(reader.byte() % 64) + 1
    let maxRecord = Int(reader.byte() % 128) + 1
    let chunks = (0..<3).map { _ in Int(reader.byte() % 17) + 1 }
    let failByte = Int(reader.byte())
    let stream = Array(reader.rest)

    let failAfter: Int? = inject ? min(stream.count, failByte) : nil
    let lineOf = lineNumbers(stream)
    let small = frame(kind, stream, lineOf: lineOf, source: MemorySource(stream, chunks: chunks, failAfter: failAfter, idle: idle),
                      batch: batch, maxRecord: maxRecord, reuse: reuse)
    if inject {
        check(small.failed, "an injected read failure was not raised")
        return
    }
    check(!small.failed, "framing failed without a read failure")
    let large = frame(kind, stream, lineOf: lineOf, source: MemorySource(stream, chunks: [1 << 20]), batch: 4096, maxRecord: maxRecord, reuse: false)
    check(small.items == large.items,
          "framing depends on batch/read sizes: \(small.items.count) items vs \(large.items.count) in one read")
    if kind == .lines {
        let model = modelLines(stream, maxRecord: maxRecord)
        check(large.items == model, "LineFramer differs from the line model: \(large.items) vs \(model)")
    }
}
