import Foundation
import XCTest

@testable import Extraction
@testable import Store

final class ManifestTests: XCTestCase {
    var tree: TempTree!
    var db: String!

    override func setUpWithError() throws {
        tree = try TempTree()
        db = tempDB()
        try tree.write("pics/a.timg", ToyPreparer.image(1))
        try tree.write("pics/b, with comma.timg", ToyPreparer.image(2))
        try tree.write("pics/sub/c.timg", ToyPreparer.image(3))
    }

    override func tearDown() {
        tree.cleanUp()
        removeDB(db)
    }

    func read(_ csv: String) throws -> ScanResult {
        try tree.write("m.csv", Array(csv.utf8))
        return try Manifest.read(tree.path("m.csv"), root: tree.root)
    }

    func testHeaderQuotesCRLFAndDotPartsAreUnderstood() throws {
        let scan = try read(
            "\u{FEFF}path,label\r\npics/a.timg,cat\r\n\"pics/b, with comma.timg\",\"dog \"\"rex\"\"\"\r\n./pics/./sub/../sub/c.timg,cat\r\n\r\n"
        )
        XCTAssertEqual(scan.candidates.map(\.path), ["pics/a.timg", "pics/b, with comma.timg", "pics/sub/c.timg"])
        XCTAssertEqual(scan.candidates.map(\.label), ["cat", "dog \"rex\"", "cat"])
        XCTAssertEqual(scan.candidates[2].file, tree.root + "/pics/sub/c.timg")
    }

    func testAbsolutePathsInsideTheRootAreMadeRelative() throws {
        let scan = try read("\(tree.root)/pics/a.timg,cat\n")
        XCTAssertEqual(scan.candidates.map(\.path), ["pics/a.timg"])
        XCTAssertThrowsError(try read("/etc/passwd,cat\n")) {
            XCTAssertTrue(
                "\($0)".hasSuffix("m.csv:1: path /etc/passwd is empty or outside the dataset root \(self.tree.root)"),
                "\($0)")
        }
        XCTAssertThrowsError(try read("pics/a.timg,cat\n../x.timg,cat\n")) {
            XCTAssertTrue("\($0)".contains("m.csv:2: path ../x.timg"), "\($0)")
        }
    }

    func testMalformedLinesNameFileAndLine() {
        let cases: [(String, String)] = [
            ("pics/a.timg\n", "m.csv:1: expected 2 fields (path,label), found 1"),
            ("pics/a.timg,cat\npics/a.timg,cat,extra\n", "m.csv:2: expected 2 fields (path,label), found 3"),
            ("pics/a.timg,\n", "m.csv:1: empty label"),
            ("pics/a.timg,cat\npics/a.timg,dog\n", "m.csv:2: pics/a.timg is listed again with label dog (was cat)"),
            ("\"pics/a.timg,cat\n", "m.csv:1: unterminated quoted field"),
            ("\"pics\"x,cat\n", "m.csv:1: text after a closing quote"),
        ]
        for (csv, message) in cases {
            XCTAssertThrowsError(try read(csv), csv) {
                XCTAssertTrue("\($0)".hasSuffix(message), "\(csv.debugDescription): \($0)")
            }
        }
    }

    func testListedButMissingFilesBecomeUnreadableFailures() throws {
        let scan = try read("pics/a.timg,cat\npics/nope.timg,cat\npics/sub,cat\n")
        XCTAssertEqual(scan.candidates.count, 1)
        XCTAssertEqual(scan.unusable.map(\.path), ["pics/nope.timg", "pics/sub"])
    }

    func testEditedLabelIsARelabelWithoutBackboneWork() throws {
        try tree.write("m.csv", Array("pics/a.timg,cat\npics/sub/c.timg,cat\n".utf8))
        var job = ExtractJob(images: nil, manifest: tree.path("m.csv"), db: db)
        job.options.batchSize = 4
        func run(_ embedder: inout ToyEmbedder) throws -> ExtractionSummary {
            let e = embedder
            return try job.run(
                backbone: { (toyKey, e) }, makePreparer: { ToyPreparer() }, reporter: ProgressReporter(style: .quiet),
                warn: { _ in })
        }
        var e = ToyEmbedder()
        XCTAssertEqual(try run(&e).extracted, 2)
        try tree.write("m.csv", Array("pics/a.timg,dog\npics/sub/c.timg,cat\n".utf8))
        let s = try run(&e)
        XCTAssertEqual(s.extracted, 0)
        XCTAssertEqual(s.relabeled, 1)
        let label = try Database.open(db).scalar(
            "SELECT c.name FROM images i JOIN classes c ON c.id = i.class_id WHERE i.path = 'pics/a.timg'")
        XCTAssertEqual(label?.string, "dog")
        XCTAssertEqual(
            try Database.open(db).scalar("SELECT value FROM meta WHERE key = 'root'")?.string,
            URL(fileURLWithPath: tree.root).resolvingSymlinksInPath().path)
    }
}
