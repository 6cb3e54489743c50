import Foundation
import XCTest

final class InfoCommandTests: XCTestCase {
    func testInfoShowsClassesSplitsBackbonesAndFailures() throws {
        let root = try scratchFolder(self) + "/images"
        let good = ["rgb_64x48.jpg", "rgb_37x23.jpg", "rgb_192x128.jpg", "progressive_96x72.jpg", "gray_50x30.jpg"]
        for name in good { try copyFixture(name, to: root, as: "roses/\(name)") }
        try copyFixture("rgb_33x21.png", to: root, as: "tulips/a.png")
        try copyFixture("empty.jpg", to: root, as: "tulips/empty.jpg")
        let db = try scratchFolder(self) + "/i.sqlite"
        XCTAssertEqual(
            try runTlearn([
                "extract", "--images", root, "--db", db, "--weights", tinyWeights, "--input-size", "64", "--quiet",
                "--views", "orig,hflip",
            ]).status, 3)
        let run = try runTlearn(["info", "--db", db, "--failures"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let out = run.stdout
        XCTAssertTrue(out.contains("classes   2"), out)
        XCTAssertTrue(out.contains("  roses   "), out)
        XCTAssertTrue(out.contains("  total   "), out)
        XCTAssertTrue(out.contains("tiny_a035_keras3.h5"), out)
        XCTAssertTrue(out.contains("alpha 0.35  input 64  dim 1280"), out)
        XCTAssertTrue(out.contains("views hflip 6, orig 6"), out)
        XCTAssertTrue(out.contains("failures  1  (empty 1)"), out)
        XCTAssertTrue(out.contains("  tulips/empty.jpg  empty  "), out)
        // roses has 5 images: at least one in each split.
        let roses = out.split(separator: "\n").first { $0.hasPrefix("  roses") }!.split(separator: " ").compactMap {
            Int($0)
        }
        XCTAssertEqual(roses.count, 4)
        XCTAssertTrue(roses[0] >= 1 && roses[1] >= 1 && roses[2] >= 1 && roses[3] == 5, "\(roses)")
    }

    func testInfoOnMissingFileIsAUsageError() throws {
        let run = try runTlearn(["info", "--db", "/nonexistent/x.sqlite"])
        XCTAssertEqual(run.status, 64)
        XCTAssertTrue(run.stderr.contains("no database at /nonexistent/x.sqlite"), run.stderr)
        XCTAssertTrue(run.stderr.contains("Usage: tlearn info"), "the usage line should be info's: \(run.stderr)")
    }
}
