import Foundation
import XCTest

/// The files in deploy/ are runnable as written: shell syntax, `#!` lines and `#SBATCH` headers of
/// the Slurm scripts, and the Kubernetes manifest's fields and command (scripts/check_k8s_job.py).
/// scripts/slurm_test.sh runs them on a real Slurm; these checks need nothing but bash and python3.
final class DeployFilesTests: XCTestCase {
    let root = repositoryRoot().path

    func testSlurmScriptsAreRunnableBatchScripts() throws {
        for name in ["extract-array.sh", "merge.sh"] {
            let path = root + "/deploy/slurm/" + name
            let text = try String(contentsOfFile: path, encoding: .utf8)
            XCTAssertTrue(text.hasPrefix("#!/bin/bash\n"), "\(name): sbatch refuses a script without a #! line")
            XCTAssertTrue(FileManager.default.isExecutableFile(atPath: path), "\(name) is executable")
            // sbatch reads #SBATCH lines only before the first command.
            let header = text.split(separator: "\n").prefix { $0.hasPrefix("#") }
            XCTAssertTrue(header.contains { $0.hasPrefix("#SBATCH --job-name=") }, name)
            XCTAssertTrue(header.contains { $0.hasPrefix("#SBATCH --mem=") }, name)
            let syntax = try runProcess("/bin/bash", ["-n", path])
            XCTAssertEqual(syntax.status, 0, "\(name): \(syntax.stderr)")
        }
        let array = try String(contentsOfFile: root + "/deploy/slurm/extract-array.sh", encoding: .utf8)
        XCTAssertTrue(
            array.contains("#SBATCH --array=1-8\n") && array.contains("SHARDS=${SHARDS:-8}"),
            "the array's range and SHARDS agree")
        XCTAssertTrue(array.contains("--threads \"${SLURM_CPUS_PER_TASK:-1}\""), array)
        XCTAssertTrue(array.contains("[ $status -eq 3 ] && exit 0"), "exit status 3 (some files failed) is success")
    }

    func testKubernetesManifestIsValidAndItsCommandIsTheTestedOne() throws {
        let check = try runProcess("/usr/bin/env", ["python3", "-c", "import yaml"])
        if check.status != 0 {
            throw XCTSkip(
                "python3 with PyYAML is not installed (apt-get install python3-yaml): \(check.stderr.suffix(120))")
        }
        let r = try runProcess(
            "/usr/bin/env",
            ["python3", root + "/scripts/check_k8s_job.py", root + "/deploy/kubernetes/extract-job.yaml"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(
            r.stdout,
            """
            k=$((JOB_COMPLETION_INDEX + 1))
            tlearn extract --images "$IMAGES" --weights "$WEIGHTS" --quiet \\
                --shard "$k/$SHARDS" --db "$SHARDS_DIR/part-$k.sqlite"
            s=$?; [ $s -eq 3 ] && exit 0; exit $s

            """)
        // The checker refuses a broken manifest, naming the problem.
        let broken = try String(contentsOfFile: root + "/deploy/kubernetes/extract-job.yaml", encoding: .utf8)
            .replacingOccurrences(of: "completions: 8", with: "completions: 7")
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("job-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try broken.write(toFile: tmp, atomically: true, encoding: .utf8)
        let bad = try runProcess("/usr/bin/env", ["python3", root + "/scripts/check_k8s_job.py", tmp])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("spec.completions (7) must equal SHARDS (8)"), bad.stderr)
    }
}
