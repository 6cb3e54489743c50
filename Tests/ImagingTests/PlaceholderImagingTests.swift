import XCTest

final class PlaceholderImagingTests: XCTestCase {
    func testModuleBuilds() {}
}
