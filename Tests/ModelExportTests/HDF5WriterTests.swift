import Foundation
import XCTest

@testable import HDF5
@testable import ModelExport

/// HDF5Writer's files read back by HDF5File (the same library's reader), and the atomic writes.
final class HDF5WriterTests: XCTestCase {
    func testGroupsDatasetsAndStringAttributesReadBack() throws {
        let path = try temporaryDirectory(self).appendingPathComponent("w.h5").path
        let values: [Float] = [1.5, -2, .pi, 0, 1e-30, -3.25]
        try HDF5Writer.write(path) { file in
            try file.createGroup("/layers/conv2d/vars")
            try file.writeFloats("/layers/conv2d/vars/0", shape: [1, 2, 3], values)
            try file.setAttribute("name", string: "Conv1 \"é\"", on: "/layers/conv2d/vars")
            try file.createGroup("/layers/conv2d")  // existing groups are kept
        }
        hdf5Lock.lock()
        defer { hdf5Lock.unlock() }
        let file = try HDF5File(path: path)
        XCTAssertEqual(try file.datasets(under: "/"), ["/layers/conv2d/vars/0"])
        XCTAssertEqual(file.shape(of: "/layers/conv2d/vars/0"), [1, 2, 3])
        XCTAssertEqual(try file.floats("/layers/conv2d/vars/0", count: 6), values)
        XCTAssertEqual(try file.strings(attribute: "name", of: "/layers/conv2d/vars"), ["Conv1 \"é\""])
    }

    func testAnExistingFileIsNotOverwritten() throws {
        let path = try temporaryDirectory(self).appendingPathComponent("w.h5").path
        try Data("keep".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try HDF5Writer.write(path) { _ in }) {
            XCTAssertTrue("\($0)".hasPrefix("\(path): cannot create it"), "\($0)")
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "keep")
    }

    func testAtomicWriteReplacesTheTargetOnlyWhenTheBodySucceeds() throws {
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("model.onnx").path
        try writeAtomically(Data("one".utf8), to: path)
        struct Interrupted: Error {}
        XCTAssertThrowsError(
            try writeAtomically(path) { temporary in
                try Data("half".utf8).write(to: URL(fileURLWithPath: temporary))
                throw Interrupted()
            })
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "one")
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.onnx"], "no temporary file left")
        try writeAtomically(Data("two".utf8), to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "two")
    }

    func testUnwritablePathsAreOneLineErrors() throws {
        let dir = try temporaryDirectory(self)
        XCTAssertThrowsError(try writeAtomically(Data(), to: dir.path + "/missing/m.onnx")) {
            XCTAssertEqual("\($0)", "cannot write \(dir.path)/missing/m.onnx: no directory \(dir.path)/missing")
        }
        XCTAssertThrowsError(try writeAtomically(Data(), to: dir.path)) {
            XCTAssertEqual("\($0)", "cannot write \(dir.path): it is a directory")
        }
    }
}
