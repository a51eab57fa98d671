// audithound-bench: corpus generation and single-tool parsing baselines.
//
//   audithound-bench generate --size 200MB --seed 1 [--attack-rate 0.001] [--events-per-second 100] --out FILE
//   audithound-bench jsonserialization FILE     Foundation's JSONSerialization, one line at a time
//   audithound-bench tokenize FILE              AuditJSON's JSONTape, one line at a time
//   audithound-bench stages FILE                one thread, the default ruleset: decode only, then decode and
//                                               evaluate (programs and field tests per event); no stateful stage
//
// Every measuring subcommand prints one line:
//   <tool> bytes=N events=N errors=N seconds=S mb_per_s=X events_per_s=Y
// MB is 10^6 bytes. The time covers reading the file and parsing, not process start-up.

import AuditInput
import AuditJSON
import AuditLogGen
import AuditRules
import Foundation

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("audithound-bench: \(message)\n".utf8))
    exit(2)
}

func usage() -> Never {
    fail("""
        usage:
          audithound-bench generate --size SIZE [--seed N] [--attack-rate R] [--events-per-second E] --out FILE|-
          audithound-bench jsonserialization FILE
          audithound-bench tokenize FILE
          audithound-bench stages FILE
        SIZE: bytes, or with a suffix KB/MB/GB (10^3…) or KiB/MiB/GiB (2^10…)
        """)
}

/// Parses `200MB`, `1GB`, `512KiB`, `1000`.
func parseSize(_ text: String) -> Int? {
    let units: [(String, Double)] = [("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824),
                                     ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("K", 1e3), ("M", 1e6), ("G", 1e9), ("B", 1)]
    for (suffix, factor) in units where text.hasSuffix(suffix) {
        guard let v = Double(text.dropLast(suffix.count)) else { return nil }
        return Int(v * factor)
    }
    return Int(text)
}

/// Options after the subcommand: `--name value` pairs and positional arguments.
struct Options {
    var named: [String: String] = [:]
    var positional: [String] = []

    init(_ args: ArraySlice<String>) {
        var it = args.makeIterator()
        while let a = it.next() {
            if a.hasPrefix("--") {
                guard let v = it.next() else { fail("missing value for \(a)") }
                self.named[String(a.dropFirst(2))] = v
            } else {
                self.positional.append(a)
            }
        }
    }
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Reads `path` in large chunks and calls `body` with each complete line (without `\n`).
/// Lines longer than the buffer grow it. Returns the number of bytes read.
func forEachLine(_ path: String, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
    let fd = open(path, O_RDONLY)
    if fd < 0 { fail("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var capacity = 16 << 20
    var buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    defer { buffer.deallocate() }
    var filled = 0
    var total = 0
    while true {
        if filled == capacity {
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 64)
            bigger.copyMemory(from: buffer, byteCount: filled)
            buffer.deallocate()
            buffer = bigger
            capacity *= 2
        }
        let n = read(fd, buffer + filled, capacity - filled)
        if n < 0 { fail("read error on \(path): \(String(cString: strerror(errno)))") }
        if n == 0 { break }
        total += n
        filled += n
        var start = 0
        while start < filled, let nl = memchr(buffer + start, 0x0A, filled - start) {
            let end = buffer.distance(to: nl)
            if end > start { body(UnsafeRawBufferPointer(start: buffer + start, count: end - start)) }
            start = end + 1
        }
        if start > 0 {
            memmove(buffer, buffer + start, filled - start)
            filled -= start
        }
    }
    if filled > 0 { body(UnsafeRawBufferPointer(start: buffer, count: filled)) }
    return total
}

func report(_ tool: String, bytes: Int, events: Int, errors: Int, seconds: Double) {
    let mbps = Double(bytes) / 1e6 / seconds
    let eps = Double(events) / seconds
    print("\(tool) bytes=\(bytes) events=\(events) errors=\(errors) seconds=\(String(format: "%.3f", seconds)) "
        + "mb_per_s=\(String(format: "%.1f", mbps)) events_per_s=\(String(format: "%.0f", eps))")
}

// MARK: Subcommands

func generate(_ o: Options) {
    guard let sizeText = o.named["size"], let size = parseSize(sizeText) else { usage() }
    guard let out = o.named["out"] else { usage() }
    let seed = UInt64(o.named["seed"] ?? "1") ?? 1
    let rate = Double(o.named["attack-rate"] ?? "0") ?? 0
    let eps = Double(o.named["events-per-second"] ?? "100") ?? 100
    let fd: Int32 = out == "-" ? 1 : open(out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    if fd < 0 { fail("cannot create \(out): \(String(cString: strerror(errno)))") }
    var gen = AuditLogGenerator(seed: seed, attackRate: rate, eventsPerSecond: eps)
    let t0 = now()
    let bytes = gen.generate(approximateBytes: size) { chunk in
        var p = chunk.baseAddress!
        var left = chunk.count
        while left > 0 {
            let n = write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                fail("write error: \(String(cString: strerror(errno)))")
            }
            p += n
            left -= n
        }
    }
    let seconds = now() - t0
    if fd != 1 { close(fd) }
    FileHandle.standardError.write(Data((
        "generate bytes=\(bytes) events=\(gen.eventCount) attacks=\(gen.attacksScheduled) "
        + "seconds=\(String(format: "%.3f", seconds)) mb_per_s=\(String(format: "%.1f", Double(bytes) / 1e6 / seconds))\n").utf8))
}

func jsonSerialization(_ o: Options) {
    guard let path = o.positional.first else { usage() }
    var events = 0
    var errors = 0
    let t0 = now()
    let bytes = forEachLine(path) { line in
        let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: line.baseAddress!), count: line.count,
                        deallocator: .none)
        if (try? JSONSerialization.jsonObject(with: data)) != nil { events += 1 } else { errors += 1 }
    }
    report("jsonserialization", bytes: bytes, events: events, errors: errors, seconds: now() - t0)
}

func tokenize(_ o: Options) {
    guard let path = o.positional.first else { usage() }
    let tape = JSONTape()
    var events = 0
    var errors = 0
    var words = 0
    let t0 = now()
    let bytes = forEachLine(path) { line in
        do {
            try tape.parse(line)
            events += 1
            words &+= tape.wordCount
        } catch {
            errors += 1
        }
    }
    let seconds = now() - t0
    report("tokenize", bytes: bytes, events: events, errors: errors, seconds: seconds)
    if words == 0 && events > 0 { fail("empty tape") }
}

/// Where one thread's time goes, stage by stage, on the replay path (deferred bodies, the default
/// ruleset): each pass reads the file again and adds one stage.
func stages(_ o: Options) {
    guard let path = o.positional.first else { usage() }
    guard let ruleSet = RuleCompiler.load(DefaultRules.files).ruleSet else { fail("the default rules do not compile") }
    for pass in 0..<3 {
        let decoder = RecordDecoder()
        decoder.deferBodies = true
        let evaluator = RuleEvaluator(ruleSet: ruleSet)
        var events = 0
        var errors = 0
        var matches = 0
        var observations: [Observation] = []
        var merger = ObservationMerger()
        let t0 = now()
        let bytes = forEachLine(path) { line in
            decoder.forEachAuditEvent(inRecord: line, event: { event, _ in
                events += 1
                guard pass > 0 else { return }
                evaluator.evaluate(event, steps: { rule, step in
                    matches += 1
                    if pass == 2 && ruleSet.rules[rule].aggregate != nil {
                        evaluator.observe(rule: rule, step: step, time: 0, auditID: event.auditID, source: path, line: 0, item: 0,
                                          into: &observations, merging: &merger)
                        if observations.count > 4096 {
                            observations.removeAll(keepingCapacity: true)
                            merger.reset()
                        }
                    }
                })
            }, problem: { _, _ in errors += 1 })
        }
        let seconds = now() - t0
        let name = ["decode", "decode+evaluate", "decode+evaluate+observe"][pass]
        report(name, bytes: bytes, events: events, errors: errors, seconds: seconds)
        if pass > 0 {
            let e = Double(max(events, 1))
            print("  per event: \(String(format: "%.1f", Double(evaluator.programsRun) / e)) programs, "
                + "\(String(format: "%.1f", Double(evaluator.predicatesRun) / e)) field tests, "
                + "\(String(format: "%.2f", Double(matches) / e)) matches")
        }
    }
}

// MARK: Main

let args = CommandLine.arguments
guard args.count >= 2 else { usage() }
let options = Options(args.dropFirst(2))
switch args[1] {
case "generate": generate(options)
case "jsonserialization": jsonSerialization(options)
case "tokenize": tokenize(options)
case "stages": stages(options)
default: usage()
}
