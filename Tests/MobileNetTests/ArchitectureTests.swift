import Foundation
import XCTest

@testable import MobileNet

/// The Swift layer table against the weight shapes Keras builds for every width it ships.
final class ArchitectureTests: XCTestCase {
    func testEveryAlphaHasKerasWeightNamesAndShapes() throws {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("golden/keras_weight_shapes.json"))
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let names = try XCTUnwrap(json["names"] as? [String])
        for alpha in Architecture.alphas {
            let keras = try XCTUnwrap(json["\(alpha)"] as? [[Int]], "no shapes for alpha \(alpha)")
            let ours = Architecture(alpha: alpha).arrays
            XCTAssertEqual(ours.count, 260, "alpha \(alpha)")
            // Keras lists weights in creation order, which is network order.
            XCTAssertEqual(ours.map(\.key), names, "alpha \(alpha): names")
            XCTAssertEqual(ours.map(\.shape), keras, "alpha \(alpha): shapes")
        }
    }

    func testWideModelsHaveWiderEmbeddings() {
        XCTAssertEqual(Architecture(alpha: 1.0).lastChannels, 1280)
        XCTAssertEqual(Architecture(alpha: 1.3).lastChannels, 1664)
        XCTAssertEqual(Architecture(alpha: 1.4).lastChannels, 1792)
        XCTAssertEqual(Architecture(alpha: 0.35).stemChannels, 16)
    }

    func testMultiplyAddsOfAlpha1At224AreThePapers300Million() {
        let macs = Architecture(alpha: 1.0).multiplyAdds(inputSize: 224)
        XCTAssertTrue((295_000_000...305_000_000).contains(macs), "\(macs)")
    }
}
