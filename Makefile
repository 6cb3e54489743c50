# make test | demo (fetch once, then the README recipe) | install | bench (release, ratios vs peers) | lint | format | fixtures
SHELL := /bin/bash
CACHE ?= $(HOME)/.cache/tlearn
SHARED ?= $(abspath ../shared)
# The demo's inputs: downloaded once into $(CACHE), or local copies (make demo IMAGES=DIR WEIGHTS=FILE).
IMAGES ?= $(CACHE)/flower_photos
WEIGHTS ?= $(CACHE)/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5
WEIGHTS_URL := https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5
# Keras publishes no digest for this file; its size is pinned, and its SHA-256 when WEIGHTS_SHA256 is set.
WEIGHTS_BYTES := 9406464
WEIGHTS_SHA256 ?=
# tensorflow_datasets/url_checksums/tf_flowers.txt
FLOWERS_URL := https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz
FLOWERS_SHA256 := 4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c
DEBS := libturbojpeg0-dev libpng-dev libopenblas-dev libsqlite3-dev libhdf5-dev zlib1g-dev sqlite3 pkg-config
DEMO_DB ?= demo.sqlite
PREFIX ?= /usr/local

.PHONY: deps demo-deps build test demo install bench fixtures extension lint format

# Installs the Debian packages that are missing; does nothing when all are there.
deps:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# curl only for the demo's one-time downloads.
demo-deps:
	@command -v curl >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq curl ca-certificates; }

build: deps
	swift build

# The loadable SQLite extension, self-contained (Swift runtime linked in): .load ./libtlearn_sqlite
extension: deps
	swift build -c release --product tlearn_sqlite -Xswiftc -static-stdlib --scratch-path .build/extension
	cp .build/extension/release/libtlearn_sqlite.so ./libtlearn_sqlite.so

# Serial XCTest ends on its own "Executed N tests, with K skipped and F failures" line; skips say why.
test: deps
	python3 scripts/check_links.py
	swift build --build-tests
	swift test --skip-build --disable-swift-testing

# Regenerates fixtures/ (needs: pip install tensorflow-cpu h5py pillow). Not part of `make test`.
fixtures:
	python3 fixtures/make_fixtures.py

$(CACHE)/flower_photos.tgz:
	mkdir -p $(CACHE)
	curl -fL --retry 3 -o $@.part $(FLOWERS_URL)
	echo "$(FLOWERS_SHA256)  $@.part" | sha256sum -c --quiet - || { rm -f $@.part; echo "error: $(FLOWERS_URL): checksum mismatch" >&2; exit 1; }
	mv $@.part $@

$(CACHE)/flower_photos: $(CACHE)/flower_photos.tgz
	tar -xzf $< -C $(CACHE)
	touch $@

$(CACHE)/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5:
	mkdir -p $(CACHE)
	curl -fL --retry 3 -o $@.part $(WEIGHTS_URL)
	[ "$$(stat -c %s $@.part)" = "$(WEIGHTS_BYTES)" ] || { rm -f $@.part; echo "error: $(WEIGHTS_URL): expected $(WEIGHTS_BYTES) bytes" >&2; exit 1; }
	[ -z "$(WEIGHTS_SHA256)" ] || echo "$(WEIGHTS_SHA256)  $@.part" | sha256sum -c --quiet - || { rm -f $@.part; echo "error: $(WEIGHTS_URL): checksum mismatch" >&2; exit 1; }
	mv $@.part $@

# The README recipe: extract (resumable: run it again and it does no backbone work), sweep both model
# kinds, evaluate and use the best, draw the report, export it as ONNX.
demo: deps demo-deps $(IMAGES) $(WEIGHTS)
	swift build -c release --product tlearn
	.build/release/tlearn extract --images $(IMAGES) --weights $(WEIGHTS) --db $(DEMO_DB) --views orig,hflip --maps
	.build/release/tlearn info --db $(DEMO_DB)
	.build/release/tlearn sweep --db $(DEMO_DB)
	.build/release/tlearn evaluate best --db $(DEMO_DB) --tta
	.build/release/tlearn predict best --db $(DEMO_DB) --weights $(WEIGHTS) --tta $$(find $(IMAGES) -type f | sort | head -3)
	.build/release/tlearn report --db $(DEMO_DB) --out demo-report.html
	.build/release/tlearn export best --db $(DEMO_DB) --weights $(WEIGHTS) --format onnx --out demo.onnx

# The tool alone, for a user: the binary and the loadable SQLite extension under $(PREFIX).
install: deps
	swift build -c release --product tlearn
	$(MAKE) extension
	install -Dm755 .build/release/tlearn $(DESTDIR)$(PREFIX)/bin/tlearn
	install -Dm644 libtlearn_sqlite.so $(DESTDIR)$(PREFIX)/lib/libtlearn_sqlite.so

bench: deps
	swift build -c release --product tlearn
	swift build -c release --product tlearn-bench
	.build/release/tlearn-bench --shared $(SHARED)

# The format check CI runs: swift-format with the repository's .swift-format, warnings are errors.
lint:
	swift format lint --strict --recursive Package.swift Sources Tests

format:
	swift format --in-place --recursive Package.swift Sources Tests
