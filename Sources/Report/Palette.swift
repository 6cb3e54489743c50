#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Colours that stay apart for colour-blind readers: Okabe & Ito, "Color Universal Design" (2008),
/// without its black (kept for marks and text). Every chart also says what it shows in text or shape.
enum Palette {
    static let okabeIto = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]

    /// The colour of category `i` (repeats after 7; shapes or labels tell those apart).
    static func category(_ i: Int) -> String { okabeIto[i % okabeIto.count] }

    /// viridis (matplotlib, van der Walt & Smith), sampled at 0, 1/8, ..., 1: perceptually uniform,
    /// readable in grey and by the common colour-vision deficiencies.
    static let viridisStops: [(Double, Double, Double)] = [
        (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
        (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37),
    ]

    /// viridis at `t` in 0...1 (linear between the stops), as #RRGGBB.
    static func viridis(_ t: Double) -> String {
        let (r, g, b) = viridisRGB(t)
        return hex(r, g, b)
    }

    static func viridisRGB(_ t: Double) -> (Double, Double, Double) {
        let x = (t.isFinite ? min(max(t, 0), 1) : 0) * Double(viridisStops.count - 1)
        let i = min(Int(x), viridisStops.count - 2)
        let f = x - Double(i)
        let a = viridisStops[i]
        let b = viridisStops[i + 1]
        return (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f, a.2 + (b.2 - a.2) * f)
    }

    /// Black or white, whichever reads better on viridis at `t` (WCAG relative luminance).
    static func textOnViridis(_ t: Double) -> String {
        let (r, g, b) = viridisRGB(t)
        func linear(_ c: Double) -> Double {
            let s = c / 255
            return s <= 0.03928 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4)
        }
        let l = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
        // Contrast with white (1.05 / (l + 0.05)) against contrast with black ((l + 0.05) / 0.05).
        return 1.05 / (l + 0.05) > (l + 0.05) / 0.05 ? "#fff" : "#000"
    }

    static func hex(_ r: Double, _ g: Double, _ b: Double) -> String {
        let digits = Array("0123456789abcdef")
        var s = "#"
        for c in [r, g, b] {
            let v = Int(min(max(c.rounded(), 0), 255))
            s.append(digits[v >> 4])
            s.append(digits[v & 15])
        }
        return s
    }
}

/// Marker shapes for scatter points, so classes differ by shape as well as colour.
enum MarkerShape: CaseIterable {
    case circle, square, triangle, diamond, triangleDown

    /// The shape of category `i`: shapes cycle faster than colours, so the first 35 differ.
    static func of(_ i: Int) -> MarkerShape { allCases[i % allCases.count] }

    /// An SVG path of this shape centred at (0, 0), about `r` in radius.
    func path(_ r: Double) -> String {
        let s = coord(r)
        let d = coord(r * 1.3)
        let t = coord(r * 1.2)
        let h = coord(r * 0.9)
        switch self {
        case .circle: return "M-\(s) 0a\(s) \(s) 0 1 0 \(coord(2 * r)) 0a\(s) \(s) 0 1 0 -\(coord(2 * r)) 0Z"
        case .square: return "M-\(h) -\(h)H\(h)V\(h)H-\(h)Z"
        case .triangle: return "M0 -\(t)L\(t) \(h)H-\(t)Z"
        case .diamond: return "M0 -\(d)L\(d) 0L0 \(d)L-\(d) 0Z"
        case .triangleDown: return "M0 \(t)L\(t) -\(h)H-\(t)Z"
        }
    }

    var name: String {
        switch self {
        case .circle: "circle"
        case .square: "square"
        case .triangle: "triangle"
        case .diamond: "diamond"
        case .triangleDown: "downward triangle"
        }
    }
}

extension Palette {
    /// The colour's name, for descriptions read aloud.
    static func colourName(_ i: Int) -> String {
        ["blue", "orange", "green", "reddish purple", "sky blue", "vermillion", "yellow"][i % okabeIto.count]
    }
}
