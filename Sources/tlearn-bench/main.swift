import Foundation
import Extraction
import Imaging
import MobileNet
import Store
let env = ProcessInfo.processInfo.environment
if env["PROFILE"] == "1" {
    func cpu() -> Double { var t = timespec(); clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
    let scan = try Scanner.scan(root: "../shared/data/flower_photos_dev")
    let files = Array(scan.candidates.prefix(300))
    var readT = 0.0, hashT = 0.0, decT = 0.0, preT = 0.0, fwdT = 0.0
    let dec = ImageDecoder()
    let (_, net) = try Backbone.load(weights: "../shared/weights/mnv2_no_top_keras3.h5", inputSize: 224)
    net.threads = 1
    var input = [Float](repeating: 0, count: 224*224*3)
    var out = [Float](repeating: 0, count: 1280)
    var bytesTotal = 0
    for (i, c) in files.enumerated() {
        var t = cpu()
        let bytes = try readImageFile(at: c.file); bytesTotal += bytes.count
        readT += cpu() - t; t = cpu()
        _ = SHA256.hash(bytes)
        hashT += cpu() - t; t = cpu()
        let d = try dec.decode(bytes, path: c.file)
        decT += cpu() - t; t = cpu()
        input.withUnsafeMutableBufferPointer { preprocess(d.image, size: 224, into: $0.baseAddress!) }
        preT += cpu() - t; t = cpu()
        if i < 100 { input.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { net.embed(x.baseAddress!, count: 1, into: $0.baseAddress!) } } ; fwdT += cpu() - t }
    }
    let n = Double(files.count)
    print(String(format: "per image CPU ms: read %.3f hash %.3f (%.0f MB/s) decode %.3f preprocess %.3f forward(1 thread) %.3f", readT/n*1e3, hashT/n*1e3, Double(bytesTotal)/hashT/1e6, decT/n*1e3, preT/n*1e3, fwdT/100*1e3))
} else {
let t = env["THREADS"].flatMap(Int.init)
_ = try extractBench(images: env["IMAGES"] ?? "../shared/data/flower_photos_dev", weights: env["WEIGHTS"] ?? "../shared/weights/mnv2_no_top_keras3.h5", threads: t)
}
