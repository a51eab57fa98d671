// Fuzz target: RecordDecoder (envelopes: CloudWatch export lines, subscription payloads with base64
// and gzip, Lambda wrappers, filter-log-events pages, AKS records, quoted messages). The first byte
// picks the input format; the rest is one framed record. Every event handed out is walked.

import AuditInput
import AuditJSON
import FuzzSupport

nonisolated(unsafe) let decoders: [RecordDecoder] = InputFormat.allCases.map {
    RecordDecoder(format: $0, maxDepth: 64, maxPayloadSize: 1 << 20)
}

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
            events += 1
        }, problem: { problem, item in
            check(item >= 0, "negative item \(item)")
            check(!problem.description.isEmpty, "empty problem text")
        })
        check(delivered == events, "returned \(delivered) events but delivered \(events)")
        return 0
    }
}
