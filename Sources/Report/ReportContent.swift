/// Everything `tlearn report` shows, as plain values: the renderer reads nothing else, so a page
/// can be built and tested without a database.
public struct ReportContent: Sendable {
    public var title = "tlearn report"
    /// The database file, as named on the command line.
    public var database = ""
    /// What the page is about, e.g. "run 12 (best of sweep 3)".
    public var subject = ""
    public var generatedAt = ""
    public var dataset = DatasetContent()
    public var training: Part<TrainingContent> = .empty("no run was chosen")
    public var results: Part<ResultsContent> = .empty("no run was chosen")
    public var embedding: Part<EmbeddingContent> = .empty("no vectors")
    /// JSON documents embedded verbatim for programs (`<script type="application/json" id=…>`).
    public var dataBlocks: [DataBlock] = []

    public init() {}
}

/// A part of the page: its content, or the reason it has none (shown instead).
public enum Part<Content: Sendable>: Sendable {
    case shown(Content)
    case empty(String)
}

/// A JSON document with the element id it is embedded under.
public struct DataBlock: Sendable {
    public let id: String
    public let json: String
    public init(id: String, json: String) {
        self.id = id
        self.json = json
    }
}

/// An image of the dataset as the page shows it: a small picture linking to the file.
public struct ImageTile: Sendable {
    /// The path as stored in the database (relative to the dataset root).
    public let path: String
    /// `file://` URL of the full image, when the dataset root is known.
    public let link: String?
    public let picture: Picture
    public init(path: String, link: String?, picture: Picture) {
        self.path = path
        self.link = link
        self.picture = picture
    }
}

/// A thumbnail's pixels, or why there are none.
public enum Picture: Sendable {
    /// A JPEG file's bytes and its pixel size.
    case jpeg([UInt8], width: Int, height: Int)
    /// Drawn as a grey box saying `reason` (missing or undecodable file).
    case placeholder(String)
}

// MARK: Dataset

/// Images of one class per split.
public struct ClassCounts: Sendable {
    public let name: String
    public let train: Int
    public let val: Int
    public let test: Int
    public init(name: String, train: Int, val: Int, test: Int) {
        self.name = name
        self.train = train
        self.val = val
        self.test = test
    }
}

/// One backbone's key and the vectors stored per view.
public struct BackboneContent: Sendable {
    public var id: Int64 = 0
    public var weightsName = ""
    public var weightsSHA256 = ""
    public var alpha = 1.0
    public var inputSize = 0
    public var dim = 0
    public var preprocessing = ""
    public var views: [(view: String, count: Int)] = []
    public init() {}
}

/// Files of one failure reason.
public struct FailureGroup: Sendable {
    public let reason: String
    public let count: Int
    /// Up to a limit, with their messages; `count` may be larger.
    public let files: [(path: String, message: String)]
    public init(reason: String, count: Int, files: [(path: String, message: String)]) {
        self.reason = reason
        self.count = count
        self.files = files
    }
}

/// Two images with nearly the same vector in different splits.
public struct LeakPair: Sendable {
    public let cosine: Double
    public let a: ImageTile
    public let b: ImageTile
    public let labelA: String
    public let labelB: String
    public let splitA: String
    public let splitB: String
    public init(
        cosine: Double, a: ImageTile, b: ImageTile, labelA: String, labelB: String, splitA: String, splitB: String
    ) {
        self.cosine = cosine
        self.a = a
        self.b = b
        self.labelA = labelA
        self.labelB = labelB
        self.splitA = splitA
        self.splitB = splitB
    }
}

/// Near-duplicates by cosine, and the pairs among them that straddle two splits.
public struct DuplicatesContent: Sendable {
    public var threshold = 0.0
    public var view = "orig"
    public var images = 0
    /// Every pair at or above the threshold.
    public var pairs = 0
    /// Pairs in two different splits.
    public var leakCount = 0
    /// The most similar leaks, up to a limit.
    public var leaks: [LeakPair] = []
    public init() {}
}

/// The Dataset section.
public struct DatasetContent: Sendable {
    /// Folder the thumbnails were read from, if known.
    public var imageRoot: String?
    /// Lines about the images themselves (e.g. how many files are missing).
    public var notes: [String] = []
    public var classes: [ClassCounts] = []
    public var backbones: [BackboneContent] = []
    /// Feature maps stored (`maps` table); nil when the database has no such table.
    public var maps: Int?
    public var failures: [FailureGroup] = []
    public var duplicates: Part<DuplicatesContent> = .empty("not computed")
    public init() {}
}

// MARK: Training

/// One line of a training curve.
public struct EpochPoint: Sendable {
    public let epoch: Int
    public let trainLoss: Double
    public let trainAccuracy: Double
    public let valLoss: Double?
    public let valAccuracy: Double?
    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, valLoss: Double?, valAccuracy: Double?) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.valLoss = valLoss
        self.valAccuracy = valAccuracy
    }
}

/// One row of a sweep's leaderboard.
public struct LeaderboardRow: Sendable {
    public let rank: Int
    public let runID: Int64
    /// One value per `SweepContent.settingNames`.
    public let settings: [String]
    public let valAccuracy: Double?
    public let valLoss: Double?
    /// Mean fold accuracy, when the sweep cross-validated.
    let cvAccuracy: Double?
    public init(
        rank: Int, runID: Int64, settings: [String], valAccuracy: Double?, valLoss: Double?, cvAccuracy: Double?
    ) {
        self.rank = rank
        self.runID = runID
        self.settings = settings
        self.valAccuracy = valAccuracy
        self.valLoss = valLoss
        self.cvAccuracy = cvAccuracy
    }
}

/// A baseline classifier of a sweep.
public struct BaselineRow: Sendable {
    public let runID: Int64
    public let name: String
    public let valAccuracy: Double?
    public let testAccuracy: Double?
    public init(runID: Int64, name: String, valAccuracy: Double?, testAccuracy: Double?) {
        self.runID = runID
        self.name = name
        self.valAccuracy = valAccuracy
        self.testAccuracy = testAccuracy
    }
}

/// Val accuracy over two sweep axes: each cell is the best run with those two values.
struct SweepHeatmap: Sendable {
    var xName = ""
    var yName = ""
    var xValues: [String] = []
    var yValues: [String] = []
    /// [y][x]: best val accuracy of the runs at (x, y), nil when none has one.
    public var accuracy: [[Double?]] = []
    /// [y][x]: the run that has it.
    var bestRun: [[Int64?]] = []
    /// Runs per cell (the other axes' combinations).
    var runsPerCell = 0
    public init() {}
}

/// The sweep the chosen run belongs to.
public struct SweepContent: Sendable {
    public var id: Int64 = 0
    public var createdAt = ""
    var runCount = 0
    /// How the leaderboard is ordered, in words.
    var rankedBy = ""
    var settingNames: [String] = []
    /// The best rows, plus the chosen run if it is not among them.
    public var leaderboard: [LeaderboardRow] = []
    var heatmap: Part<SweepHeatmap> = .empty("not computed")
    public var baselines: [BaselineRow] = []
    public init() {}
}

/// The Training section.
public struct TrainingContent: Sendable {
    public var runID: Int64 = 0
    /// The settings in one line ("adam lr 1e-3, 20 epochs, batch 32, seed 0").
    public var summary = ""
    /// Every stored setting, as key and value.
    public var settings: [(key: String, value: String)] = []
    public var createdAt = ""
    public var seconds = 0.0
    public var curve: [EpochPoint] = []
    /// The epoch whose weights the run kept.
    public var keptEpoch: Int?
    public var stoppedEpoch: Int?
    public var valAccuracy: Double?
    public var valLoss: Double?
    public var testAccuracy: Double?
    public var notes: [String] = []
    /// nil when the run is not part of a sweep.
    public var sweep: Part<SweepContent>?
    public init() {}
}

// MARK: Results

/// Precision, recall and F1 of one class.
public struct ClassScores: Sendable {
    public let name: String
    public let precision: Double
    public let recall: Double
    public let f1: Double
    public let support: Int
    public init(name: String, precision: Double, recall: Double, f1: Double, support: Int) {
        self.name = name
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        self.support = support
    }
}

/// A wrongly classified image.
public struct Mistake: Sendable {
    public let image: ImageTile
    public let trueClass: String
    public let predicted: String
    /// The probability the head gave its (wrong) prediction.
    public let probability: Double
    public init(image: ImageTile, trueClass: String, predicted: String, probability: Double) {
        self.image = image
        self.trueClass = trueClass
        self.predicted = predicted
        self.probability = probability
    }
}

/// The Results section: the chosen run on one split.
public struct ResultsContent: Sendable {
    public var split = "test"
    public var count = 0
    public var accuracy = 0.0
    public var loss: Double?
    public var macroF1 = 0.0
    public var perClass: [ClassScores] = []
    /// confusion[true][predicted], in `perClass` order.
    public var confusion: [[Int]] = []
    /// Least confident first, up to a limit.
    public var mistakes: [Mistake] = []
    public var mistakeCount = 0
    public var notes: [String] = []
    public init() {}
}

// MARK: Embedding map

/// One vector on the 2-D map.
public struct MapPoint: Sendable {
    public let x: Double
    public let y: Double
    /// Index into `EmbeddingContent.classes`.
    public let classIndex: Int
    public let path: String
    public let split: String
    /// The wrong prediction, for a misclassified image; nil otherwise.
    public let mistakenFor: String?
    public init(x: Double, y: Double, classIndex: Int, path: String, split: String, mistakenFor: String?) {
        self.x = x
        self.y = y
        self.classIndex = classIndex
        self.path = path
        self.split = split
        self.mistakenFor = mistakenFor
    }
}

/// The Embedding map section.
public struct EmbeddingContent: Sendable {
    /// How the map was made, in words.
    public var method = ""
    public var classes: [String] = []
    public var points: [MapPoint] = []
    /// Share of the variance along each axis (0...1).
    public var explained: [Double] = []
    var xLabel = "PC1"
    var yLabel = "PC2"
    public init() {}
}
