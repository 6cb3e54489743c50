import XCTest

final class PlaceholderKernelsTests: XCTestCase {
    func testModuleBuilds() {}
}
