import XCTest

@testable import Formats
@testable import Store

/// Schema version 2's maps tables: added to version-1 databases on a writable open, absent (and coped
/// with) on a read-only one; the `backbone_tops` row read back as written.
final class MapTablesTests: XCTestCase {
    var path: String!

    override func setUp() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-\(UUID().uuidString).sqlite").path
    }
    override func tearDown() {
        for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) }
    }

    static let key = BackboneKey(
        weightsSHA256: String(repeating: "ab", count: 32), alpha: 1, inputSize: 64, preprocessing: "p", dim: 4)
    static let top = BackboneTop(
        map: MapShape(height: 2, width: 2, channels: 3), kernel: (0..<12).map { Float($0) - 5.5 }, bias: [1, 2, 3, 4])

    /// A database as tlearn 1 left it: no maps tables, user_version 1, one backbone and one class.
    func makeVersion1Database() throws {
        let store = try EmbeddingStore(path: path)
        _ = try store.backboneID(Self.key)
        try store.db.execute(
            """
            DROP VIEW labeled_maps; DROP TABLE maps; DROP TABLE backbone_tops;
            INSERT INTO classes(name) VALUES ('daisy'); PRAGMA user_version = 1;
            """)
    }

    func testReadOnlyOpenOfAVersion1DatabaseCopesWithoutTheMapTables() throws {
        try makeVersion1Database()
        let db = try Database.open(path, readOnly: true)
        XCTAssertEqual(try db.scalar("PRAGMA user_version")?.int, 1)
        XCTAssertFalse(try hasMapTables(db))
        XCTAssertNil(try BackboneTop.load(db, backbone: 1))
        XCTAssertNil(try BackboneTop.load(db, backbone: 2), "no tables, so no top for any backbone")
        let info = try DatabaseInfo.read(path)
        XCTAssertEqual(info.schemaVersion, 1)
        XCTAssertEqual(info.backbones.count, 1)
        XCTAssertTrue(info.backbones[0].maps.isEmpty)
    }

    func testWritableOpenOfAVersion1DatabaseAddsTheMapTablesAndKeepsItsRows() throws {
        try makeVersion1Database()
        let db = try Database.open(path)
        XCTAssertEqual(try db.scalar("PRAGMA user_version")?.int, Database.version)
        XCTAssertTrue(try hasMapTables(db))
        XCTAssertEqual(try db.scalar("SELECT count(*) FROM labeled_maps")?.int, 0)
        XCTAssertEqual(try db.scalar("SELECT name FROM classes")?.string, "daisy")
        XCTAssertEqual(try db.scalar("SELECT count(*) FROM backbones")?.int, 1)
    }

    func testBackboneTopRoundTripsIsNotRewrittenWhenEqualAndAWrongSizedBlobIsAnError() throws {
        let store = try EmbeddingStore(path: path)
        let id = try store.backboneID(Self.key)
        try Self.top.write(store.db, backbone: id)
        XCTAssertEqual(try BackboneTop.load(store.db, backbone: id), Self.top)
        XCTAssertEqual(try store.db.scalar("SELECT length(conv1) FROM backbone_tops")?.int, 4 * (12 + 4))
        try Self.top.write(store.db, backbone: id)
        XCTAssertEqual(store.db.changes, 0, "an identical top was written again")
        let other = BackboneTop(
            map: MapShape(height: 1, width: 1, channels: 3), kernel: Array(repeating: 0.5, count: 12),
            bias: [0, 0, 0, 0])
        try other.write(store.db, backbone: id)
        XCTAssertEqual(try BackboneTop.load(store.db, backbone: id), other)
        XCTAssertNil(try BackboneTop.load(store.db, backbone: id + 1))

        try store.db.run("UPDATE backbone_tops SET conv1 = zeroblob(60)")
        XCTAssertThrowsError(try BackboneTop.load(store.db, backbone: id)) {
            XCTAssertEqual(
                "\($0)",
                "\(self.path!): the conv1 BLOB of backbone \(id) is 60 bytes; 3 channels x dim 4 + bias need 64")
        }
    }
}
