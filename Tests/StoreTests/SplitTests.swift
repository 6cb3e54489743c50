import XCTest

@testable import Store

final class SplitTests: XCTestCase {
    func testPathHashMatchesThePythonOneLiner() {
        // int.from_bytes(sha256(p.encode()).digest()[:8], "big") % 10000, and bytes 8..16 % N + 1.
        let cases: [(String, Int, Int)] = [
            ("daisy/100080576_f52e8ee070_n.jpg", 6291, 2), ("tulips/a.jpg", 409, 3), ("x/é.png", 2290, 1),
        ]
        for (path, key, shard) in cases {
            XCTAssertEqual(PathHash(path: path).splitKey, key, path)
            XCTAssertEqual(PathHash(path: path).shard(of: 3), shard, path)
        }
        XCTAssertEqual(SplitPolicy.standard.baseSplit(PathHash(path: "tulips/a.jpg")), .val)
        XCTAssertEqual(SplitPolicy.standard.baseSplit(PathHash(path: "x/é.png")), .train)
    }

    func testLargeClassComesOutNearEightyTenTen() {
        let members = (0..<20_000).map { ("c/\($0).jpg", PathHash(path: "c/\($0).jpg")) }
        let splits = SplitPolicy.standard.assign(members)
        let val = splits.values.filter { $0 == .val }.count
        let test = splits.values.filter { $0 == .test }.count
        XCTAssertEqual(Double(val) / 20_000, 0.10, accuracy: 0.01)
        XCTAssertEqual(Double(test) / 20_000, 0.10, accuracy: 0.01)
    }

    func testEveryClassOfThreeOrMoreGetsValAndTestAndTrain() {
        for n in 1...12 {
            for seed in 0..<30 {
                let members = (0..<n).map { ("k\(seed)/\($0).jpg", PathHash(path: "k\(seed)/\($0).jpg")) }
                let counts = Dictionary(grouping: SplitPolicy.standard.assign(members).values, by: { $0 }).mapValues(
                    \.count)
                XCTAssertGreaterThanOrEqual(counts[.train] ?? 0, 1, "n \(n) seed \(seed): \(counts)")
                if n >= 3 {
                    XCTAssertGreaterThanOrEqual(counts[.val] ?? 0, 1, "n \(n) seed \(seed): \(counts)")
                    XCTAssertGreaterThanOrEqual(counts[.test] ?? 0, 1, "n \(n) seed \(seed): \(counts)")
                }
            }
        }
    }

    func testAddingImagesMovesOnlyFilledImages() throws {
        // Grow a class one image at a time: an existing image may change split only if it was
        // (or becomes) one of the at most three fill moves, i.e. its split differs from its base.
        let policy = SplitPolicy.standard
        var members: [(path: String, hash: PathHash)] = []
        var previous: [String: Split] = [:]
        for i in 0..<200 {
            let p = "roses/img\(i).jpg"
            members.append((p, PathHash(path: p)))
            let now = policy.assign(members)
            let filled = now.filter { policy.baseSplit(PathHash(path: $0.key)) != $0.value }
            XCTAssertLessThanOrEqual(filled.count, 3, "after \(i + 1) images: \(filled)")
            for (path, old) in previous where now[path] != old {
                let base = policy.baseSplit(PathHash(path: path))
                XCTAssertTrue(
                    old != base || now[path] != base, "\(path) moved \(old) -> \(now[path]!) though neither is a fill")
            }
            previous = now
        }
        // Far past the minimums, nothing is a fill any more: splits are the base splits.
        XCTAssertTrue(previous.allSatisfy { policy.baseSplit(PathHash(path: $0.key)) == $0.value })
    }

    func testZeroPercentSplitIsNotForced() throws {
        let policy = try SplitPolicy(valPercent: 0, testPercent: 20)
        let members = (0..<10).map { ("a/\($0)", PathHash(path: "a/\($0)")) }
        let splits = policy.assign(members)
        XCTAssertFalse(splits.values.contains(.val))
        XCTAssertTrue(splits.values.contains(.test))
    }

    func testBadPercentagesAreRefused() {
        XCTAssertThrowsError(try SplitPolicy(valPercent: 50, testPercent: 50))
        XCTAssertThrowsError(try SplitPolicy(valPercent: -1, testPercent: 10))
        XCTAssertThrowsError(try SplitPolicy(valPercent: .nan, testPercent: 10))
    }
}
