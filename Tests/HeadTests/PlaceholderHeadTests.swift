import XCTest

final class PlaceholderHeadTests: XCTestCase {
    func testModuleBuilds() {}
}
