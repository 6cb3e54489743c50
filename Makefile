# make test | demo (fetch once, extract -> train-head -> predict) | bench (release, ratios vs ONNX Runtime) | fixtures | format
SHELL := /bin/bash
CACHE ?= $(HOME)/.cache/tlearn
SHARED ?= $(abspath ../shared)
IMAGES ?= $(CACHE)/flower_photos
WEIGHTS ?= $(CACHE)/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5
WEIGHTS_URL := https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5
WEIGHTS_SHA256 := 6fd4c8a18e1e8d7ea4d5dbd7db80fb7c5a81fb5de3d4c1c1c07a2b6c7e8a1d6d
FLOWERS_URL := https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz
FLOWERS_SHA256 := 4c15b3cf6bb1c7ecb8f5ddc2a1bb8d3d3bd1e5dbe0eb4cc2d3c9b2a8c5ab0c55
DEBS := libturbojpeg0-dev libpng-dev libopenblas-dev libsqlite3-dev libhdf5-dev sqlite3 pkg-config
DEMO_DB ?= demo.sqlite

.PHONY: deps build test demo bench fixtures extension format

# Installs the Debian packages that are missing; does nothing when all are there.
deps:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	swift build

# The loadable SQLite extension: .load .build/release/libtlearn_sqlite
extension: deps
	swift build -c release --product tlearn_sqlite

test: deps
	swift build --build-tests
	swift test --skip-build --parallel --num-workers 2

# Regenerates fixtures/ (needs: pip install tensorflow-cpu h5py pillow). Not part of `make test`.
fixtures:
	python3 fixtures/make_fixtures.py

bench: deps
	swift build -c release --product tlearn-bench --product tlearn
	.build/release/tlearn-bench --shared $(SHARED)

format:
	swift format --in-place --recursive Sources Tests
