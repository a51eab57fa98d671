// swift-tools-version:6.0
// AuditHound — a streaming engine for Kubernetes API-server audit logs.
// No package dependencies: the toolchain and the system zlib only.
import PackageDescription

/// Release builds of the hot-path modules drop the dynamic exclusivity checks on class properties
/// (measured: about a third of the tokenizer's time). Debug builds, and so `swift test`, keep them.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

/// The JSON parser's source (Sources/AuditJSONParser/TapeParser.swift) is compiled a second time, through
/// a symbolic link, for AVX2 CPUs; `JSONTape` picks that copy at run time when the CPU supports it. Swift
/// has no per-function target attribute, so the flag applies to that module only. x86-64 hosts only.
/// CCPUID: a header-only module over the compiler's <cpuid.h>, to check the CPU at run time.
#if arch(x86_64)
let avx2Parser: [Target] = [
    .target(name: "AuditJSONParserAVX2", dependencies: ["AuditJSONParser"],
            swiftSettings: hotPath + [.unsafeFlags(["-target-cpu", "haswell", "-DAUDITHOUND_AVX2"])]),
    .systemLibrary(name: "CCPUID", path: "Sources/CCPUID"),
]
#else
let avx2Parser: [Target] = []
#endif

let package = Package(
    name: "AuditHound",
    products: [
        .executable(name: "audithound", targets: ["audithound"]),
        .library(name: "AuditJSON", targets: ["AuditJSON"]),
    ],
    targets: avx2Parser + [
        // System zlib (Debian: zlib1g-dev) for gzip input.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // Zero-copy JSON tokenizer. No Foundation. The parser itself is in AuditJSONParser (and its AVX2
        // build, above); AuditJSON holds the tape and the value API.
        .target(name: "AuditJSONParser", swiftSettings: hotPath),
        .target(name: "AuditJSON", dependencies: ["AuditJSONParser"] + avx2Parser.map { .target(name: $0.name) },
                swiftSettings: hotPath),
        // Readers (file, gzip, stdin, directories), record framing, the audit-event view.
        .target(name: "AuditInput", dependencies: ["AuditJSON", "CZlib"], swiftSettings: hotPath),
        // Rule files (YAML subset), conditions, ka.* fields, evaluation, alert rendering.
        .target(name: "AuditRules", dependencies: ["AuditJSON", "AuditInput"], swiftSettings: hotPath),
        // Worker pool, in-order stage, summary, sinks.
        .target(name: "AuditPipeline", dependencies: ["AuditJSON", "AuditInput", "AuditRules"], swiftSettings: hotPath),
        // Command implementations (testable), and the thin executable.
        .target(name: "AuditHoundCLI", dependencies: ["AuditJSON", "AuditInput", "AuditRules", "AuditPipeline"]),
        .executableTarget(name: "audithound", dependencies: ["AuditHoundCLI"]),
        // Deterministic generator of realistic audit logs (samples, tests, benchmarks).
        .target(name: "AuditLogGen"),
        .executableTarget(name: "audithound-bench",
                          dependencies: ["AuditJSON", "AuditInput", "AuditRules", "AuditPipeline", "AuditLogGen"],
                          path: "benchmarks/Sources/audithound-bench"),

        .testTarget(name: "AuditJSONTests", dependencies: ["AuditJSON"]),
        .testTarget(name: "AuditInputTests", dependencies: ["AuditInput", "AuditJSON", "AuditLogGen"]),
        .testTarget(name: "AuditRulesTests", dependencies: ["AuditRules", "AuditInput", "AuditJSON", "AuditLogGen"]),
        .testTarget(name: "AuditPipelineTests", dependencies: ["AuditPipeline", "AuditRules", "AuditInput", "AuditLogGen"]),
        .testTarget(name: "AuditHoundCLITests", dependencies: ["AuditHoundCLI", "AuditLogGen"]),
    ]
)
