import Foundation
import XCTest

final class EmbedCommandTests: XCTestCase {
    let images = extractRepoRoot + "/fixtures/images/"

    func testBadImageGetsOneErrorLineAndTheOthersArePrinted() throws {
        let run = try runTlearn([
            "embed", images + "rgb_64x48.jpg", images + "text.jpg", images + "rgb_33x21.png", "--weights", tinyWeights,
            "--input-size", "64",
        ])
        XCTAssertEqual(run.status, 3)
        let lines = run.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, run.stdout)
        XCTAssertTrue(lines[0].hasPrefix(images + "rgb_64x48.jpg  64x48  dim 1280  mean "), run.stdout)
        XCTAssertTrue(lines[1].hasPrefix(images + "rgb_33x21.png  33x21  dim 1280  "), run.stdout)
        XCTAssertEqual(
            run.stderr,
            "error: cannot decode \(images)text.jpg: not a JPEG or PNG file: starts with 0x74 0x68 0x69 0x73\n")
    }

    func testJSONIsOneObjectPerImageWithEveryNumber() throws {
        let run = try runTlearn([
            "embed", images + "gray_50x30.jpg", images + "png_named.jpg", "--weights", tinyWeights, "--json",
            "--input-size", "64",
        ])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        for (line, name) in zip(lines, ["gray_50x30.jpg", "png_named.jpg"]) {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            XCTAssertEqual(object["path"] as? String, images + name)
            XCTAssertEqual((object["embedding"] as? [Any])?.count, 1280)
        }
    }

    func testSameImageTwiceGivesTheSameVector() throws {
        let run = try runTlearn([
            "embed", images + "rgb_192x128.jpg", images + "rgb_192x128.jpg", "--weights", tinyWeights, "--json",
            "--input-size", "64",
        ])
        let lines = run.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0], lines[1])
    }

    func testMissingWeightsIsAUsageError() throws {
        let run = try runTlearn(["embed", images + "rgb_64x48.jpg", "--weights", "/nonexistent.h5"])
        XCTAssertEqual(run.status, 64)
        XCTAssertTrue(run.stderr.contains("no weights file at /nonexistent.h5"), run.stderr)
    }
}
