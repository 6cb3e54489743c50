import XCTest

final class PlaceholderTLearnTests: XCTestCase {
    func testModuleBuilds() {}
}
