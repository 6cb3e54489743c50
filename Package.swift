// swift-tools-version: 6.0
import PackageDescription

// AVX2+FMA: without a target-CPU flag the build is SSE2 only and SIMD FMA becomes a libm call
// per lane. x86-64-v3 runs on every x86 CPU since 2015 (Haswell, Zen 1).
let simd: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3", "-Ounchecked"])]

let package = Package(
    name: "tlearn",
    products: [
        .executable(name: "tlearn", targets: ["tlearn"]),
        .executable(name: "tlearn-bench", targets: ["tlearn-bench"]),
        // `.load ./libtlearn_sqlite` in the sqlite3 shell; see README "SQL".
        .library(name: "tlearn_sqlite", type: .dynamic, targets: ["TLearnSQLiteExtension"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CSQLite3", providers: [.apt(["libsqlite3-dev"])]),

        // SHA-256 compression with the x86 SHA instructions, chosen at run time (Store falls back to Swift).
        .target(name: "CSHA256", cSettings: [.unsafeFlags(["-O2"])]),
        // vmaxps/vminps for the kernels' clamp (header-only: static inline functions).
        .target(name: "CSIMD", cSettings: [.unsafeFlags(["-O2", "-march=x86-64-v3"])]),
        // sched_getaffinity and CPU_COUNT_S, glibc macros behind _GNU_SOURCE (Kernels' AvailableCPUs).
        .target(name: "CSystem", cSettings: [.unsafeFlags(["-O2"])]),
        // libhdf5 (libhdf5-dev's headers), opened with dlopen when a command first reads an .h5 file.
        .target(name: "CHDF5", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "Imaging", dependencies: ["CTurboJPEG", "CPNG"], swiftSettings: simd),
        .target(name: "Kernels", dependencies: ["COpenBLAS", "CSIMD", "CSystem"], swiftSettings: simd),
        // The only H5* caller: reads Keras weights files (and writes the weights of exported models).
        .target(name: "HDF5", dependencies: ["CHDF5"]),
        .target(name: "MobileNet", dependencies: ["Kernels", "HDF5", "Formats"], swiftSettings: simd),
        // The on-disk formats (vector and maps BLOBs, stored models) and the function that applies a stored model.
        .target(name: "Formats", dependencies: ["Kernels"], swiftSettings: simd),
        // -O even in debug builds: SHA-256 of every image and weights file is 100x slower unoptimized.
        .target(
            name: "Store", dependencies: ["CSQLite3", "CSHA256", "Formats"], resources: [.embedInCode("schema.sql")],
            swiftSettings: [.unsafeFlags(["-O"])]),
        .target(name: "VectorSQL", dependencies: ["CSQLite3", "Formats", "Store", "Kernels"], swiftSettings: simd),
        .target(name: "Head", dependencies: ["Kernels", "Formats", "Store"], swiftSettings: simd),
        .target(name: "Extraction", dependencies: ["Imaging", "MobileNet", "Store", "Formats"], swiftSettings: simd),
        .target(name: "TLearnSQLiteExtension", dependencies: ["VectorSQL", "CSQLite3"]),
        // `tlearn report`: renders one self-contained HTML page from plain values (no other module).
        .target(name: "Report"),
        // A whole classifier (backbone + head) as an ONNX model or a Keras 3 `.keras` archive.
        .target(
            name: "ModelExport",
            dependencies: [
                "MobileNet", "HDF5", "Formats",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]),
        .executableTarget(
            name: "tlearn",
            dependencies: [
                "Imaging", "Kernels", "MobileNet", "Store", "VectorSQL", "Head", "Extraction", "Report", "ModelExport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "tlearn-bench",
            dependencies: [
                "Imaging", "Kernels", "MobileNet", "Store", "Head", "Extraction", "VectorSQL",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ], path: "Sources/tlearn-bench"),

        // Helpers shared by the test targets (seeded random numbers, the vector BLOB encoding).
        .target(name: "TestSupport", dependencies: ["Formats", "Store"], path: "Tests/TestSupport"),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TestSupport"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "MobileNetTests", dependencies: ["MobileNet", "Imaging", "Formats"]),
        .testTarget(name: "FormatsTests", dependencies: ["Formats"]),
        .testTarget(name: "StoreTests", dependencies: ["Store"]),
        .testTarget(name: "VectorSQLTests", dependencies: ["VectorSQL", "Formats", "Store", "TestSupport"]),
        .testTarget(name: "HeadTests", dependencies: ["Head", "Formats", "Store"]),
        .testTarget(
            name: "ExtractionTests", dependencies: ["Extraction", "Formats", "Head", "Store", "Imaging", "MobileNet"]),
        .testTarget(
            name: "ModelExportTests",
            dependencies: [
                "ModelExport", "MobileNet", "HDF5", "TestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]),
        .testTarget(name: "TLearnTests", dependencies: ["Formats", "Store", "TestSupport"], exclude: ["Snapshots"]),
        .testTarget(name: "ReportTests", dependencies: ["Report"]),
    ]
)
