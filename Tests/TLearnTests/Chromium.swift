import Foundation
import XCTest

/// Headless Chromium (Debian package `chromium`), to load a page as a user's browser does.
struct Chromium {
    let executable: String

    /// The installed browser, or a skip that says how to install it.
    static func find() throws -> Chromium {
        for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        where FileManager.default.isExecutableFile(atPath: path) {
            return Chromium(executable: path)
        }
        throw XCTSkip(
            "headless Chromium is not installed: `apt-get install chromium` runs the browser checks of `tlearn report`"
        )
    }

    /// What loading one page produced.
    struct Load {
        /// The DOM after load, serialized (`--dump-dom`).
        let dom: String
        /// Every console message the page caused (script errors, CSP violations, `console.*`).
        let console: [String]
        /// URLs the page itself asked the network for (Chromium's own background traffic left out).
        let pageRequests: [String]
        /// The PNG screenshot of the window.
        let screenshot: Data
    }

    /// Loads `file` in a fresh profile with a `width` x `height` window; `screenshot` is where the PNG goes.
    func load(_ file: String, screenshot: String, width: Int = 1280, height: Int = 3000) throws -> Load {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let netLog = work.appendingPathComponent("net.json").path
        let out = work.appendingPathComponent("stdout")
        let err = work.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
            "--user-data-dir=\(work.appendingPathComponent("profile").path)",
            "--enable-logging=stderr", "--v=0", "--log-net-log=\(netLog)",
            "--window-size=\(width),\(height)", "--screenshot=\(screenshot)", "--dump-dom",
            URL(fileURLWithPath: file).absoluteString,
        ]
        let outHandle = try FileHandle(forWritingTo: out)
        let errHandle = try FileHandle(forWritingTo: err)
        process.standardOutput = outHandle
        process.standardError = errHandle
        try process.run()
        // A browser that hangs must not hang the test run.
        let deadline = Date().addingTimeInterval(180)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw XCTSkip("chromium did not finish loading \(file) within 180 s")
        }
        try outHandle.close()
        try errHandle.close()
        let stderr = String(decoding: try Data(contentsOf: err), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            XCTFail("chromium exited with \(process.terminationStatus):\n\(stderr.suffix(2000))")
            throw CocoaError(.executableLoad)
        }
        return Load(
            dom: String(decoding: try Data(contentsOf: out), as: UTF8.self),
            console: stderr.split(separator: "\n").filter { $0.contains(":CONSOLE") }.map(String.init),
            pageRequests: try Self.pageRequests(netLog: netLog),
            screenshot: try Data(contentsOf: URL(fileURLWithPath: screenshot)))
    }

    /// URL requests in a net log made on behalf of a `file://` page: their network isolation key
    /// or cookie site is `file://`, or their initiator is the file page's opaque origin ("null").
    /// Chromium's own requests (updates, sign-in) have no initiator ("not an origin").
    static func pageRequests(netLog: String) throws -> [String] {
        let root = try XCTUnwrap(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: netLog))) as? [String: Any])
        let constants = try XCTUnwrap(root["constants"] as? [String: Any])
        let types = try XCTUnwrap(constants["logEventTypes"] as? [String: Int])
        let start = try XCTUnwrap(types["URL_REQUEST_START_JOB"])
        let events = try XCTUnwrap(root["events"] as? [[String: Any]])
        return events.compactMap { e in
            guard e["type"] as? Int == start, let p = e["params"] as? [String: Any], let url = p["url"] as? String
            else { return nil }
            let key = p["network_isolation_key"] as? String ?? ""
            let site = p["site_for_cookies"] as? String ?? ""
            let initiator = p["initiator"] as? String ?? ""
            return key.hasPrefix("file://") || site.contains("file://") || initiator == "null"
                || initiator.hasPrefix("file:") ? url : nil
        }
    }
}
