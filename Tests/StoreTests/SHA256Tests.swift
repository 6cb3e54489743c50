import XCTest

@testable import Store

/// Every vector runs through both compressions: the SHA instructions (when this CPU has them) and
/// the portable Swift rounds.
final class SHA256Tests: XCTestCase {
    func inBothCompressions(_ body: () throws -> Void) throws {
        defer { SHA256.useHardware = SHA256.hardwareAvailable }
        if !SHA256.hardwareAvailable { print("\(name): this CPU has no SHA instructions; the Swift rounds only") }
        for hardware in SHA256.hardwareAvailable ? [true, false] : [false] {
            SHA256.useHardware = hardware
            try body()
        }
    }

    // FIPS 180-2 / NIST CAVS example vectors.
    func testEmptyString() throws {
        try inBothCompressions {
            XCTAssertEqual(SHA256.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        }
    }

    func testABC() throws {
        try inBothCompressions {
            XCTAssertEqual(SHA256.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        }
    }

    func test448BitMessage() throws {
        try inBothCompressions {
            XCTAssertEqual(
                SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        }
    }

    func test896BitMessage() throws {
        try inBothCompressions {
            XCTAssertEqual(
                SHA256.hex(
                    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
                ),
                "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        }
    }

    func testMillionAsFedInUnevenPieces() throws {
        try inBothCompressions {
            // Streaming must not depend on how the input is cut: pieces of 1..127 bytes.
            var h = SHA256()
            var left = 1_000_000
            var piece = 1
            while left > 0 {
                let n = min(piece, left)
                h.update([UInt8](repeating: UInt8(ascii: "a"), count: n))
                left -= n
                piece = piece % 127 + 1
            }
            XCTAssertEqual(
                SHA256.hexString(h.finalize()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
            XCTAssertEqual(
                SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        }
    }

    func testPaddingBoundaryLengthsMatchOneShotHash() throws {
        try inBothCompressions {
            // 55, 56 and 64 bytes put the length field in the same or the next block.
            let known: [Int: String] = [
                55: "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
                56: "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
                64: "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb",
            ]
            for (n, digest) in known {
                XCTAssertEqual(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: n)), digest, "length \(n)")
            }
        }
    }

    func testFileHashEqualsInMemoryHash() throws {
        try inBothCompressions {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            let bytes = [UInt8](repeating: 0x5A, count: (1 << 20) + 17) + Array("tail".utf8)
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            XCTAssertEqual(try SHA256.hexOfFile(path), SHA256.hex(bytes))
            XCTAssertThrowsError(try SHA256.hexOfFile(path + ".missing")) {
                XCTAssertTrue("\($0)".contains(".missing"), "\($0)")
            }
        }
    }
}
