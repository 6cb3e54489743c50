import XCTest

final class PlaceholderMobileNetTests: XCTestCase {
    func testModuleBuilds() {}
}
