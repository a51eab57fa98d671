// swift-tools-version:6.0
// AuditHound — a streaming engine for Kubernetes API-server audit logs.
// No package dependencies: the toolchain and the system zlib only.
import PackageDescription

/// Release builds of the hot-path modules drop the dynamic exclusivity checks on class properties
/// (measured: about a third of the tokenizer's time). Debug builds, and so `swift test`, keep them.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "AuditHound",
    products: [
        .executable(name: "audithound", targets: ["audithound"]),
        .library(name: "AuditJSON", targets: ["AuditJSON"]),
    ],
    targets: [
        // System zlib (Debian: zlib1g-dev) for gzip input.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // Zero-copy JSON tokenizer. No Foundation.
        .target(name: "AuditJSON", swiftSettings: hotPath),
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
