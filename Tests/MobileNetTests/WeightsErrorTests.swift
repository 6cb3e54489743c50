import Foundation
import XCTest

@testable import MobileNet

/// Every bad weights file gives its own one-line WeightsError naming the file; nothing crashes.
final class WeightsErrorTests: XCTestCase {
    var temp: URL!

    override func setUpWithError() throws {
        temp = FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: temp) }

    func loadError(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> WeightsError? {
        do {
            _ = try MobileNetV2(weightsAt: path, inputSize: 96)
            XCTFail("\(path) loaded without error", file: file, line: line)
        } catch let error as WeightsError {
            XCTAssertTrue(error.description.contains(path), "\(error) does not name \(path)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "\(error) is not one line", file: file, line: line)
            return error
        } catch {
            XCTFail("\(path): \(error) is not a WeightsError", file: file, line: line)
        }
        return nil
    }

    func testMissingFileIsUnreadable() {
        let path = temp.appendingPathComponent("absent.h5").path
        XCTAssertEqual(loadError(path), .unreadable(file: path, reason: "no such file"))
    }

    func testDirectoryIsUnreadable() {
        XCTAssertEqual(loadError(temp.path), .unreadable(file: temp.path, reason: "is a directory"))
    }

    func testEmptyFileSaysItIsEmpty() throws {
        let path = temp.appendingPathComponent("empty.h5").path
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        XCTAssertEqual(loadError(path), .unreadable(file: path, reason: "the file is empty"))
    }

    func testTextFileNamedH5IsNotHDF5() throws {
        let path = temp.appendingPathComponent("weights.h5").path
        try "these are not weights\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(loadError(path), .notHDF5(file: path))
    }

    func testTruncatedFileIsReportedNotCrashed() throws {
        let good = try Data(contentsOf: fixtures.appendingPathComponent("weights/tiny_a035_keras3.h5"))
        for fraction in [0.01, 0.5, 0.99] {
            let path = temp.appendingPathComponent("truncated-\(fraction).h5").path
            _ = FileManager.default.createFile(atPath: path, contents: good.prefix(Int(Double(good.count) * fraction)))
            guard let error = loadError(path) else { continue }
            guard case .unreadable(_, let reason) = error else {
                return XCTFail("\(fraction): \(error) is not .unreadable")
            }
            XCTAssertTrue(reason.contains("truncated"), "\(fraction): \(error)")
        }
    }

    func testFileMissingALayerNamesIt() {
        let path = fixtures.appendingPathComponent("weights/broken_missing_layer.h5").path
        XCTAssertEqual(loadError(path), .missing(layer: "block_5_expand", file: path))
    }

    func testWrongShapeNamesLayerAndBothShapes() {
        let path = fixtures.appendingPathComponent("weights/broken_wrong_shape.h5").path
        XCTAssertEqual(
            loadError(path),
            .shape(layer: "block_2_project", file: path, expected: [1, 1, 48, 8], found: [1, 1, 48, 9]))
    }

    func testInputSizeOutside32To1024IsRejected() {
        let path = fixtures.appendingPathComponent("weights/tiny_a035_keras3.h5").path
        for size in [31, 0, -5, 1025] {
            XCTAssertThrowsError(try MobileNetV2(weightsAt: path, inputSize: size)) { error in
                XCTAssertTrue("\(error)".contains("input size \(size) is outside 32...1024"), "\(error)")
            }
        }
    }
}
