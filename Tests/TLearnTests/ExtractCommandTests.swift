import Foundation
import XCTest

@testable import Formats
@testable import Store

/// `tlearn extract` run as a subprocess on trees built from fixtures/images with the tiny
/// weights in fixtures/weights.
final class ExtractCommandTests: XCTestCase {
    func testSecondRunExtractsNothingAndChangesNothing() throws {
        let root = try goodFixtureTree(self)
        let db = try scratchFolder(self) + "/e.sqlite"
        let first = try extractTool(root, db)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.hasPrefix("extracted 11, cached 0, failed 0, missing 0 in "), first.stdout)
        let before = try extractRows(db)
        XCTAssertEqual(before.count, 11)
        let second = try extractTool(root, db)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.hasPrefix("extracted 0, cached 11, failed 0, missing 0 in "), second.stdout)
        XCTAssertEqual(try extractRows(db), before)
    }

    func testAddingAndChangingFilesExtractsOnlyThose() throws {
        let root = try goodFixtureTree(self)
        let db = try scratchFolder(self) + "/e.sqlite"
        XCTAssertEqual(try extractTool(root, db).status, 0)
        try copyFixture("rgb_40x1.jpg", to: root, as: "cats/new.jpg")
        try copyFixture("palette_trns_26x18.png", to: root, as: "bats/new.png")
        let added = try extractTool(root, db)
        XCTAssertTrue(added.stdout.hasPrefix("extracted 2, cached 11, "), added.stdout)
        // Same name, other content.
        try FileManager.default.removeItem(atPath: root + "/dogs/rgb_37x23.jpg")
        try copyFixture("rgb_1x40.jpg", to: root, as: "dogs/rgb_37x23.jpg")
        let changed = try extractTool(root, db)
        XCTAssertTrue(changed.stdout.hasPrefix("extracted 1, cached 12, "), changed.stdout)
        let fresh = try scratchFolder(self) + "/fresh.sqlite"
        XCTAssertEqual(try extractTool(root, fresh).status, 0)
        XCTAssertEqual(try extractRows(db), try extractRows(fresh))
    }

    func testStoredEmbeddingEqualsEmbedOutputBitForBit() throws {
        let root = try goodFixtureTree(self)
        let db = try scratchFolder(self) + "/e.sqlite"
        XCTAssertEqual(try extractTool(root, db, ["--views", "orig,hflip", "--batch-size", "5"]).status, 0)
        let conn = try Database.open(db, readOnly: true)
        for (file, view) in [
            ("owls/rgb_192x128.jpg", "orig"), ("cats/rgb_64x48.jpg", "hflip"), ("owls/rgba_30x20.png", "orig"),
        ] {
            var args = ["embed", root + "/" + file, "--weights", tinyWeights, "--input-size", "96", "--json"]
            if view == "hflip" { args.append("--hflip") }
            let run = try runTlearn(args)
            XCTAssertEqual(run.status, 0, run.stderr)
            let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
            let numbers = (object["embedding"] as! [Any]).map { Float("\($0)")! }
            let stored = try conn.prepare(
                "SELECT vector FROM labeled_embeddings WHERE path = ?1 AND view = ?2", [.text(file), .text(view)])
            XCTAssertTrue(try stored.step(), file)
            let vector = VectorBlob.floats(stored.blob(0))
            XCTAssertEqual(vector.count, numbers.count)
            XCTAssertEqual(
                vector.map(\.bitPattern), numbers.map(\.bitPattern),
                "\(file) \(view): stored and embedded vectors differ")
        }
    }

    func testDCTScaledDecodeIsCachedApartFromExactDecodeAndMatchesEmbed() throws {
        let root = try goodFixtureTree(self)
        let db = try scratchFolder(self) + "/e.sqlite"
        XCTAssertEqual(try extractTool(root, db, ["--exact-decode"]).status, 0)
        let fast = try extractTool(root, db, ["--input-size", "32"])
        XCTAssertTrue(fast.stdout.hasPrefix("extracted 11, cached 0, "), fast.stdout)
        let conn = try Database.open(db, readOnly: true)
        let keys = try conn.rows("SELECT preprocessing, input_size FROM backbones ORDER BY id").map {
            "\($0[0].string!) \($0[1].int!)"
        }
        XCTAssertEqual(keys, ["pillow-bilinear;x/127.5-1 96", "pillow-bilinear;x/127.5-1;dct-scale-min32 32"])
        // rgb_192x128 decodes at 1/2 scale for a 32-pixel input: the vector must still equal embed's.
        let run = try runTlearn([
            "embed", root + "/owls/rgb_192x128.jpg", "--weights", tinyWeights, "--input-size", "32", "--json",
        ])
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as! [String: Any]
        let numbers = (object["embedding"] as! [Any]).map { Float("\($0)")! }
        let stored = try conn.prepare(
            "SELECT vector FROM labeled_embeddings WHERE path = 'owls/rgb_192x128.jpg' AND backbone = 2")
        XCTAssertTrue(try stored.step())
        XCTAssertEqual(VectorBlob.floats(stored.blob(0)).map(\.bitPattern), numbers.map(\.bitPattern))
    }

    func testBadFilesBecomeFailureRowsAndTheRunCompletesWithStatus3() throws {
        let root = try goodFixtureTree(self)
        let bad: [(String, String)] = [
            ("empty.jpg", "empty"), ("truncated.jpg", "truncated"), ("text.jpg", "not_image"),
            ("corrupt_data.jpg", "corrupt"), ("huge_65000x65000.jpg", "unsupported"),
        ]
        for (name, _) in bad { try copyFixture(name, to: root, as: "cats/\(name)") }
        try Data("just some notes\n".utf8).write(to: URL(fileURLWithPath: root + "/dogs/notes.txt"))
        try FileManager.default.createSymbolicLink(
            atPath: root + "/owls/gone.jpg", withDestinationPath: root + "/nowhere.jpg")
        var expected = bad.map { "cats/\($0.0) \($0.1)" } + ["dogs/notes.txt not_image", "owls/gone.jpg unreadable"]
        // chmod 000 only makes a file unreadable when not root (root reads it anyway).
        let locked = root + "/owls/locked.jpg"
        try copyFixture("rgb_64x48.jpg", to: root, as: "owls/locked.jpg")
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: locked)
        if FileManager.default.isReadableFile(atPath: locked) {
            print(
                "note: running as root, chmod 000 does not make a file unreadable; the dangling symlink covers `unreadable`"
            )
            try FileManager.default.removeItem(atPath: locked)
        } else {
            expected.append("owls/locked.jpg unreadable")
        }
        let db = try scratchFolder(self) + "/e.sqlite"
        let run = try extractTool(root, db)
        XCTAssertEqual(run.status, 3, run.stderr)
        XCTAssertTrue(run.stdout.hasPrefix("extracted 11, cached 0, failed \(expected.count) ("), run.stdout)
        XCTAssertTrue(
            run.stderr.contains("warning: cannot decode \(root)/cats/text.jpg: not a JPEG or PNG file"), run.stderr)
        let conn = try Database.open(db, readOnly: true)
        let failures = try conn.rows("SELECT path || ' ' || reason FROM failures ORDER BY path").compactMap {
            $0[0].string
        }
        XCTAssertEqual(failures, expected.sorted())
        XCTAssertEqual(try conn.scalar("SELECT count(*) FROM images")?.int, 11)

        // Fix one file: the next run retries all failures, stores it, and drops its failure row.
        try FileManager.default.removeItem(atPath: root + "/cats/truncated.jpg")
        try copyFixture("rgb_37x23.jpg", to: root, as: "cats/truncated.jpg")
        let again = try extractTool(root, db)
        XCTAssertEqual(again.status, 3)
        XCTAssertTrue(again.stdout.hasPrefix("extracted 1, cached 11, failed \(expected.count - 1) ("), again.stdout)
        XCTAssertTrue(again.stdout.contains("recovered 1"), again.stdout)
        XCTAssertEqual(
            try Database.open(db, readOnly: true).scalar(
                "SELECT count(*) FROM failures WHERE path = 'cats/truncated.jpg'")?.int, 0)
    }

    func testSecondWriterIsRefusedWithThePID() throws {
        let root = try goodFixtureTree(self)
        let db = try scratchFolder(self) + "/e.sqlite"
        let lock = try WriterLock(databasePath: db)
        let run = try extractTool(root, db)
        withExtendedLifetime(lock) {}
        XCTAssertEqual(run.status, 75)
        XCTAssertEqual(
            run.stderr,
            "error: another tlearn process is writing \(db) (pid \(getpid())); wait for it to finish or stop it\n")
    }

    func testKilledRunsResumeToTheRowsOfAnUninterruptedRun() throws {
        // 400 files: copies of the good fixtures, so a kill lands mid-run even on a fast machine.
        let root = try scratchFolder(self) + "/images"
        for i in 0..<400 {
            let name = goodFixtures[i % goodFixtures.count]
            try copyFixture(name, to: root, as: "c\(i % 4)/\(i)-\(name)")
        }
        let reference = try scratchFolder(self) + "/reference.sqlite"
        XCTAssertEqual(try extractTool(root, reference, ["--batch-size", "4"]).status, 0)
        let expected = try extractRows(reference)
        XCTAssertEqual(expected.count, 400)

        let db = try scratchFolder(self) + "/killed.sqlite"
        var killedAt: [Int] = []
        for target in [0, 40, 200] {
            let (process, _, _) = try startTlearn([
                "extract", "--images", root, "--db", db, "--weights", tinyWeights,
                "--input-size", "96", "--quiet", "--batch-size", "4", "--threads", "1",
            ])
            // Kill once at least `target` vectors are committed (0: as soon as it starts).
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning && Date() < deadline {
                let n = (try? Database.open(db, readOnly: true).scalar("SELECT count(*) FROM embeddings")?.int) ?? 0
                if n >= target { break }
                usleep(2000)
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            XCTAssertEqual(
                process.terminationReason, .uncaughtSignal, "the run finished before the kill at \(target) vectors")
            guard FileManager.default.fileExists(atPath: db) else {
                killedAt.append(0)  // killed before it created the database
                continue
            }
            let conn = try Database.open(db, readOnly: true)
            XCTAssertEqual(try conn.scalar("PRAGMA integrity_check")?.string, "ok")
            killedAt.append(Int(try conn.scalar("SELECT count(*) FROM embeddings")?.int ?? -1))
        }
        print("killed with \(killedAt) vectors committed")
        XCTAssertLessThan(killedAt.last!, 400)
        let resumed = try extractTool(root, db, ["--batch-size", "7"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try extractRows(db), expected)
    }

    func testCtrlCStopsAfterCommittingAndTheNextRunFinishes() throws {
        let root = try scratchFolder(self) + "/images"
        for i in 0..<300 {
            let name = goodFixtures[i % goodFixtures.count]
            try copyFixture(name, to: root, as: "c\(i % 3)/\(i)-\(name)")
        }
        let db = try scratchFolder(self) + "/int.sqlite"
        let (process, out, err) = try startTlearn([
            "extract", "--images", root, "--db", db, "--weights", tinyWeights,
            "--input-size", "96", "--quiet", "--batch-size", "4", "--threads", "1",
        ])
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline {
            let n = (try? Database.open(db, readOnly: true).scalar("SELECT count(*) FROM embeddings")?.int) ?? 0
            if n >= 20 { break }
            usleep(2000)
        }
        process.interrupt()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130, stderr)
        XCTAssertTrue(stdout.hasPrefix("extracted "), stdout)
        XCTAssertTrue(stderr.contains("interrupted: everything above is stored"), stderr)
        let stored = try Database.open(db, readOnly: true).scalar("SELECT count(*) FROM images")?.int ?? 0
        XCTAssertTrue(stdout.hasPrefix("extracted \(stored), "), "summary \(stdout) but \(stored) rows")
        XCTAssertFalse(FileManager.default.fileExists(atPath: db + ".lock"), "a clean stop removes its lock file")
        let rest = try extractTool(root, db)
        XCTAssertEqual(rest.status, 0, rest.stderr)
        XCTAssertTrue(rest.stdout.hasPrefix("extracted \(300 - stored), cached \(stored), "), rest.stdout)
    }

    func testFilesOutsideClassFoldersAreSkippedWithOneWarning() throws {
        let root = try goodFixtureTree(self)
        try copyFixture("rgb_1x1.jpg", to: root, as: "stray.jpg")
        try copyFixture("rgb_1x40.jpg", to: root, as: ".hidden.jpg")
        let run = try extractTool(root, try scratchFolder(self) + "/e.sqlite")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(
            run.stderr,
            "warning: 1 file directly in \(root) skipped (stray.jpg): images go in class folders, \(root)/<label>/\n")
        XCTAssertTrue(run.stdout.hasPrefix("extracted 11, "), run.stdout)
    }

    func testBadOptionsFailBeforeAnyWork() throws {
        let root = try goodFixtureTree(self)
        let db = try scratchFolder(self) + "/e.sqlite"
        for (args, message) in [
            (["--shard", "0/3"], "--shard must be K/N"), (["--views", "orig,vflip"], "unknown view 'vflip'"),
            (["--batch-size", "0"], "--batch-size must be"),
            (["--val-percent", "60", "--test-percent", "50"], "below 100"),
            // The network takes up to 1024 px; 2048 used to pass here and fail after opening the database.
            (["--input-size", "2048"], "--input-size must be between 32 and 1024, got 2048"),
        ] {
            let run = try extractTool(root, db, args)
            XCTAssertEqual(run.status, 64, "\(args)")
            XCTAssertTrue(run.stderr.contains(message), run.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: db))
    }
}
