-- tlearn database: the one definition, compiled into the binary and applied on every open.
-- Migrations: PRAGMA user_version holds the schema version (2 = this file). Every statement is
-- IF NOT EXISTS, so applying this file to an older database adds what it lacks (version 2 added
-- maps, backbone_tops and labeled_maps); a later version only adds, it never rewrites these.
--
-- Vector format: every vector column is a BLOB of `dim` little-endian IEEE-754 float32 values,
-- 4 * dim bytes, no header. numpy: np.frombuffer(blob, dtype="<f4").
--
-- Map format (maps.map): one feature map of height x width x channels values (NHWC, row-major,
-- channel fastest) as little-endian IEEE-754 float16, 2 * height * width * channels bytes, no
-- header; the shape is the backbone's backbone_tops row. At 224 px and alpha <= 1 that is
-- 7 x 7 x 320: 31,360 bytes. numpy: np.frombuffer(blob, "<f2").reshape(h, w, c). See docs/maps.md.

CREATE TABLE IF NOT EXISTS classes (
    id      INTEGER PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE            -- folder name or manifest label
);

CREATE TABLE IF NOT EXISTS images (
    id        INTEGER PRIMARY KEY,
    path      TEXT NOT NULL UNIQUE,         -- relative to the dataset root, '/'-separated
    class_id  INTEGER NOT NULL REFERENCES classes(id),
    sha256    TEXT NOT NULL,                -- hex digest of the file's bytes
    bytes     INTEGER NOT NULL,
    width     INTEGER,                      -- as decoded, after EXIF orientation
    height    INTEGER,
    split     TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
    added_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS images_class ON images(class_id, split);

-- The cache key: vectors of two weights files, input sizes or preprocessings never mix.
CREATE TABLE IF NOT EXISTS backbones (
    id             INTEGER PRIMARY KEY,
    weights_sha256 TEXT NOT NULL,
    alpha          REAL NOT NULL,
    input_size     INTEGER NOT NULL,
    preprocessing  TEXT NOT NULL,           -- e.g. 'pillow-bilinear;x/127.5-1'
    dim            INTEGER NOT NULL,
    weights_name   TEXT,                    -- file name it was first seen under, for people
    UNIQUE (weights_sha256, input_size, preprocessing)
);

CREATE TABLE IF NOT EXISTS embeddings (
    id          INTEGER PRIMARY KEY,
    image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    backbone_id INTEGER NOT NULL REFERENCES backbones(id),
    view        TEXT NOT NULL DEFAULT 'orig' CHECK (view IN ('orig', 'hflip')),
    vector      BLOB NOT NULL,              -- dim float32, see the top of this file
    UNIQUE (image_id, backbone_id, view)
);
CREATE INDEX IF NOT EXISTS embeddings_backbone ON embeddings(backbone_id, view);

-- One row per file that could not be used in the latest extraction that saw it; the next
-- extraction retries it and deletes the row when it succeeds.
CREATE TABLE IF NOT EXISTS failures (
    id       INTEGER PRIMARY KEY,
    path     TEXT NOT NULL UNIQUE,          -- relative to the dataset root
    reason   TEXT NOT NULL,                 -- code: empty, unreadable, not_image, truncated, corrupt, unsupported, too_small
    message  TEXT NOT NULL,
    at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE VIEW IF NOT EXISTS labeled_embeddings AS
    SELECT i.id AS image_id, i.path AS path, c.name AS label, i.split AS split,
           e.view AS view, e.backbone_id AS backbone, e.vector AS vector
    FROM embeddings e JOIN images i ON i.id = e.image_id JOIN classes c ON c.id = i.class_id;

-- block_16's output (block_16_project_BN, the input of Conv_1) per image and view, stored by
-- `tlearn extract --maps` in the same transaction as the image's vectors, under the same cache key.
CREATE TABLE IF NOT EXISTS maps (
    id          INTEGER PRIMARY KEY,
    image_id    INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    backbone_id INTEGER NOT NULL REFERENCES backbones(id),
    view        TEXT NOT NULL DEFAULT 'orig' CHECK (view IN ('orig', 'hflip')),
    map         BLOB NOT NULL,              -- float16 NHWC, see the top of this file
    UNIQUE (image_id, backbone_id, view)
);
CREATE INDEX IF NOT EXISTS maps_backbone ON maps(backbone_id, view);

-- What turns a backbone's maps into its embeddings, written with its first maps: the map shape
-- and Conv_1 with Conv_1_bn folded in. conv1 is the kernel (map_channels x dim, row-major: Keras's
-- (1, 1, channels, dim)) followed by the bias (dim), float32 little-endian (the vector format):
-- embedding = mean over pixels of relu6(map_pixel kernel + bias). A finetune model starts from it.
CREATE TABLE IF NOT EXISTS backbone_tops (
    backbone_id   INTEGER PRIMARY KEY REFERENCES backbones(id),
    map_height    INTEGER NOT NULL,
    map_width     INTEGER NOT NULL,
    map_channels  INTEGER NOT NULL,
    conv1         BLOB NOT NULL             -- 4 * (map_channels * dim + dim) bytes
);

CREATE VIEW IF NOT EXISTS labeled_maps AS
    SELECT i.id AS image_id, i.path AS path, c.name AS label, i.split AS split,
           m.view AS view, m.backbone_id AS backbone, m.map AS map
    FROM maps m JOIN images i ON i.id = m.image_id JOIN classes c ON c.id = i.class_id;

-- Training runs (train-head, sweep). A head is W (dim x n_classes, row-major) followed by
-- b (n_classes), all float32 little-endian: logits = x W + b.
CREATE TABLE IF NOT EXISTS sweeps (
    id          INTEGER PRIMARY KEY,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    grid        TEXT NOT NULL,              -- JSON of the axes
    best_run_id INTEGER REFERENCES runs(id)
);

CREATE TABLE IF NOT EXISTS runs (
    id                INTEGER PRIMARY KEY,
    sweep_id          INTEGER REFERENCES sweeps(id),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    backbone_id       INTEGER NOT NULL REFERENCES backbones(id),
    config            TEXT NOT NULL,        -- JSON: lr, epochs, batch_size, optimizer, l2, ...
    seed              INTEGER NOT NULL,
    split_fingerprint TEXT NOT NULL,        -- hex digest of the (image id, split) pairs trained on
    classes           TEXT NOT NULL,        -- JSON array of class names, in logit order
    dim               INTEGER NOT NULL,
    head              BLOB NOT NULL,        -- W then b, see above
    val_accuracy      REAL,
    val_loss          REAL,
    test_accuracy     REAL,
    metrics           TEXT NOT NULL,        -- JSON: per-split accuracy, per-class P/R/F1, confusion
    seconds           REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS run_epochs (
    run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch          INTEGER NOT NULL,        -- 1-based
    train_loss     REAL NOT NULL,
    train_accuracy REAL NOT NULL,
    val_loss       REAL,
    val_accuracy   REAL,
    PRIMARY KEY (run_id, epoch)
);

-- Settings of the extractions that wrote this database (key/value, text): 'root' (dataset folder),
-- 'val_percent', 'test_percent' (split rule, docs/extract.md), 'shard' ('K/N' when built with --shard).
CREATE TABLE IF NOT EXISTS meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

PRAGMA user_version = 2;
