import Foundation
import XCTest

@testable import Store

/// predict and evaluate --images with the tiny seeded MobileNetV2 of fixtures/weights and the
/// fixture photos: a head trained on synthetic 1280-float vectors "of" that backbone.
final class PredictCommandTests: XCTestCase {
    let root = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    var weights: String { root.appendingPathComponent("fixtures/weights/tiny_a035_keras3.h5").path }
    func image(_ name: String) -> String { root.appendingPathComponent("fixtures/images/\(name)").path }

    func makeDatabase(preprocessing: String = "pillow-bilinear;x/127.5-1", inputSize: Int = 96) throws -> String {
        let db = try makeHeadDatabase(
            dim: 1280, perClass: [12, 12, 12], classNames: ["daisy", "roses", "tulips"], spread: 0.2,
            weightsSHA256: try SHA256.hexOfFile(weights), inputSize: inputSize, preprocessing: preprocessing)
        let r = try runHeadTool(["train-head", "--db", db, "--epochs", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return db
    }

    func testPredictIsTheHeadOnTheExtractedVector() throws {
        try checkPredictIsTheHeadOnTheExtractedVector(
            preprocessing: "pillow-bilinear;x/127.5-1", inputSize: 96, embedFlags: ["--exact-decode"])
    }

    /// A database extracted with DCT-scaled JPEG decoding (extract's default): predict decodes the
    /// same way. At input 32, the 192x128 JPEG decodes at 1/4 scale, and its embedding then differs
    /// from the full-size decode's by up to 0.04, far above the 1e-5 checked.
    func testPredictDecodesAsTheRunsVectorsWereDecoded() throws {
        try checkPredictIsTheHeadOnTheExtractedVector(
            preprocessing: "pillow-bilinear;x/127.5-1;dct-scale-min32", inputSize: 32, embedFlags: [])
    }

    func checkPredictIsTheHeadOnTheExtractedVector(preprocessing: String, inputSize: Int, embedFlags: [String]) throws {
        let db = try makeDatabase(preprocessing: preprocessing, inputSize: inputSize)
        let files = [image("rgb_64x48.jpg"), image("gray_25x17.png"), image("rgb_192x128.jpg")]
        let r = try runHeadTool(
            ["predict", "latest", "--db", db, "--weights", weights, "--json", "--top", "3"] + files)
        XCTAssertEqual(r.status, 0, r.stderr)
        let results = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(results.map { $0["path"] as? String }, files)

        // The head from the database, applied in Double to `tlearn embed`'s vector of the same file.
        let conn = try Database.open(db)
        guard case .blob(let blob)? = try conn.scalar("SELECT head FROM runs WHERE id = 1") else {
            return XCTFail("no head")
        }
        let p = blob.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let classes = ["daisy", "roses", "tulips"]
        for (file, result) in zip(files, results) {
            let e = try runHeadTool(
                ["embed", "--weights", weights, "--input-size", "\(inputSize)", "--json", file] + embedFlags)
            XCTAssertEqual(e.status, 0, e.stderr)
            let x = try XCTUnwrap((try headJSONObject(e.stdout)["embedding"] as? [Double]))
            var z = [Double](repeating: 0, count: 3)
            for j in 0..<3 {
                var sum = Double(p[1280 * 3 + j])
                for i in 0..<1280 { sum += x[i] * Double(p[i * 3 + j]) }
                z[j] = sum
            }
            let m = z.max()!
            z = z.map { exp($0 - m) }
            let probs = z.map { $0 / z.reduce(0, +) }
            let predictions = try XCTUnwrap(result["predictions"] as? [[String: Any]])
            XCTAssertEqual(predictions.count, 3)
            for pr in predictions {
                let k = try XCTUnwrap(classes.firstIndex(of: pr["class"] as! String))
                XCTAssertEqual(pr["probability"] as! Double, probs[k], accuracy: 1e-5, file)
                // SQL's head_proba on the same vector is the same function: the same probability.
                let vector = "[" + x.map { "\(Float($0))" }.joined(separator: ",") + "]"
                let q = try runHeadTool([
                    "query", "--db", db, "--csv", "--param", vector, "--param", classes[k],
                    "SELECT head_proba(1, vec_from_json(?1), ?2) AS p, head_predict(1, vec_from_json(?1)) AS c",
                ])
                XCTAssertEqual(q.status, 0, q.stderr)
                let cells = q.stdout.split(separator: "\r\n")[1].split(separator: ",")
                XCTAssertEqual(
                    try XCTUnwrap(Double(String(cells[0]))), pr["probability"] as! Double, accuracy: 1e-6, file)
                XCTAssertEqual(String(cells[1]), predictions[0]["class"] as? String, file)
            }
            XCTAssertGreaterThanOrEqual(
                predictions[0]["probability"] as! Double, predictions[1]["probability"] as! Double)
        }
    }

    func testOtherWeightsAreRefused() throws {
        let db = try makeDatabase()
        let other = root.appendingPathComponent("fixtures/weights/tiny_a035_keras2.h5").path
        assertOneLineError(
            try runHeadTool(["predict", "1", "--db", db, "--weights", other, image("rgb_64x48.jpg")]),
            contains: "is not the weights file of backbone 1 (")
    }

    func testUndecodableFileIsOneErrorLineAndTheOthersArePrinted() throws {
        let db = try makeDatabase()
        let r = try runHeadTool([
            "predict", "1", "--db", db, "--weights", weights, "--csv", "--top", "2", image("corrupt_data.jpg"),
            image("rgb_37x23.jpg"),
        ])
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("error: cannot decode \(image("corrupt_data.jpg"))"), r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.first, "path,rank,class,probability")
        XCTAssertEqual(lines.count, 3)
        XCTAssertTrue(lines[1].hasPrefix("\(image("rgb_37x23.jpg")),1,"), r.stdout)
    }

    func testDirectoriesAreSearchedAndTheTableHasTopK() throws {
        let db = try makeDatabase()
        let dir = try headTemporaryDirectory("tlearn-predict")
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: image("rgb_64x48.jpg"), toPath: dir.appendingPathComponent("a.JPG").path)
        try FileManager.default.copyItem(
            atPath: image("rgb_33x21.png"), toPath: dir.appendingPathComponent("sub/b.png").path)
        try Data("not an image".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        let r = try runHeadTool(["predict", "1", "--db", db, "--weights", weights, "--top", "2", dir.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3, r.stdout)
        XCTAssertEqual(lines[0].split(separator: " ").joined(separator: " "), "image class 1 p 1 class 2 p 2")
        XCTAssertTrue(lines[1].hasPrefix(dir.path + "/a.JPG"))
        XCTAssertTrue(lines[2].hasPrefix(dir.path + "/sub/b.png"))
    }

    func testEvaluateImagesUsesFolderNamesAsClasses() throws {
        let db = try makeDatabase()
        let dir = try headTemporaryDirectory("tlearn-evalimages")
        for (folder, file) in [
            ("daisy", "rgb_64x48.jpg"), ("roses", "rgb_37x23.jpg"), ("tulips", "gray_50x30.jpg"),
            ("cacti", "rgb_33x21.png"),
        ] {
            try FileManager.default.createDirectory(
                at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
            try FileManager.default.copyItem(
                atPath: image(file), toPath: dir.appendingPathComponent("\(folder)/\(file)").path)
        }
        let r = try runHeadTool([
            "evaluate", "1", "--db", db, "--images", dir.path, "--weights", weights, "--json", "--misclassified",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(
            r.stderr.contains("warning: 1 images of class 'cacti' skipped: run 1 was not trained on it"), r.stderr)
        let j = try headJSONObject(r.stdout)
        XCTAssertEqual(j["count"] as? Int, 3)
        let wrong = try XCTUnwrap(j["misclassified"] as? [[String: Any]])
        XCTAssertEqual(j["accuracy"] as? Double, Double(3 - wrong.count) / 3)
        for w in wrong { XCTAssertTrue((w["path"] as! String).hasPrefix((w["true"] as! String) + "/")) }
    }

    func testEvaluateImagesNeedsWeights() throws {
        let db = try makeDatabase()
        assertOneLineError(
            try runHeadTool(["evaluate", "1", "--db", db, "--images", NSTemporaryDirectory()]),
            contains: "--images needs --weights")
    }
}

extension PredictCommandTests {
    /// predict --tta: each class's probability is the mean of head_proba on the image's vector and on
    /// its mirror image's (`tlearn embed --hflip`).
    func testPredictWithFlipsIsTheMeanOfBothViewsProbabilities() throws {
        let db = try makeDatabase()
        let file = image("rgb_64x48.jpg")
        let r = try runHeadTool([
            "predict", "latest", "--db", db, "--weights", weights, "--json", "--top", "3", "--tta", file,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let results = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let predictions = try XCTUnwrap(results.first?["predictions"] as? [[String: Any]])
        func vector(_ flags: [String]) throws -> String {
            let e = try runHeadTool(
                ["embed", "--weights", weights, "--input-size", "96", "--exact-decode", "--json", file] + flags)
            XCTAssertEqual(e.status, 0, e.stderr)
            let x = try XCTUnwrap(try headJSONObject(e.stdout)["embedding"] as? [Double])
            return "[" + x.map { "\(Float($0))" }.joined(separator: ",") + "]"
        }
        let orig = try vector([])
        let flipped = try vector(["--hflip"])
        for p in predictions {
            let name = try XCTUnwrap(p["class"] as? String)
            let q = try runHeadTool([
                "query", "--db", db, "--csv", "--param", orig, "--param", flipped, "--param", name,
                "SELECT (head_proba(1, vec_from_json(?1), ?3) + head_proba(1, vec_from_json(?2), ?3)) / 2",
            ])
            XCTAssertEqual(q.status, 0, q.stderr)
            XCTAssertEqual(
                try XCTUnwrap(Double(q.stdout.split(separator: "\r\n")[1])), try XCTUnwrap(p["probability"] as? Double),
                accuracy: 1e-12)
        }
    }
}
