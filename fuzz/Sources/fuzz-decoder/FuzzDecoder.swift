// Fuzz target: RecordDecoder (envelopes: CloudWatch export lines, subscription payloads with base64
// and gzip, Lambda wrappers, filter-log-events pages, AKS records, quoted messages). The first byte
// picks the input format and whether bodies are deferred; the rest is one framed record. Every event
// handed out is walked (with deferred bodies: also parsed again in full, as the evaluator does).

import AuditInput
import AuditJSON
import FuzzSupport

/// One decoder per format, then the same with request and response bodies deferred (as replay runs).
nonisolated(unsafe) let decoders: [RecordDecoder] = [false, true].flatMap { deferBodies in
    InputFormat.allCases.map {
        let d = RecordDecoder(format: $0, maxDepth: 64, maxPayloadSize: 1 << 20)
        d.deferBodies = deferBodies
        return d
    }
}
/// Where an event with deferred bodies is parsed again in full (as the evaluator does).
nonisolated(unsafe) let fullTape = JSONTape(maxDepth: 64)

@_cdecl("fuzz_decoder_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, count in
        guard count > 0, let data else { return 0 }
        let decoder = decoders[Int(data[0]) % decoders.count]
        let record = UnsafeRawBufferPointer(start: data + 1, count: count - 1)
        var events = 0
        let delivered = decoder.forEachAuditEvent(inRecord: record, event: { event, item in
            check(item >= 0, "negative item \(item)")
            _ = event.time
            _ = event.stage
            walkJSON(event.root)
            if event.hasDeferredBody, (try? fullTape.parse(event.root.rawBytes)) != nil {
                let full = AuditEvent(root: fullTape.root)
                check(full.requestObject.map { !$0.isDeferred } ?? true, "a full parse left a body deferred")
                walkJSON(full.root)
            }
            events += 1
        }, problem: { problem, item in
            check(item >= 0, "negative item \(item)")
            check(!problem.description.isEmpty, "empty problem text")
        })
        check(delivered == events, "returned \(delivered) events but delivered \(events)")
        return 0
    }
}
