import XCTest

@testable import Head

final class TextTableTests: XCTestCase {
    func testAClassNameWithANewlineOrTabStaysOnItsLineAndColumn() {
        var t = TextTable(["class", "n"])
        t.add(["two\nlines", "3"])
        t.add(["tab\there", "12"])
        let lines = t.render().split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertEqual(Array(lines), ["class        n", "two\\nlines   3", "tab\\there   12"])
    }
}
