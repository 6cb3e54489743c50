import XCTest

final class PlaceholderVectorSQLTests: XCTestCase {
    func testModuleBuilds() {}
}
