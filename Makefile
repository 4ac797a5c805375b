# The two commands a user needs: `make demo` and `make test`. Both run the idempotent set-up first.
BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SETUP := tools/setup.sh
ORT_ROOT = $(shell $(SETUP) print-ort-root)
DEMO_DIR = $(shell $(SETUP) print-demo)

.PHONY: all setup configure build demo test bench clean

all: build

setup:
	@bash $(SETUP) all

configure: setup
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DFACESEARCH_ORT_ROOT=$(ORT_ROOT) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	@echo "== facesearch demo: do the people in sample1.jpg appear in the other bundled photos?"
	./$(BUILD_DIR)/facesearch search --query $(DEMO_DIR)/sample1.jpg --query-face all --target $(DEMO_DIR)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# Speed figures (not tests): folder search serial vs pipelined, library indexing and re-scan, and vector
# search at 10k/100k/1M faces against FAISS (the last takes several minutes). See docs/PERFORMANCE.md.
bench: build
	./$(BUILD_DIR)/bench/facesearch_bench --target ../shared/testdata/faces
	./$(BUILD_DIR)/bench/facesearch_detection_bench --data ../shared/testdata/faces
	./$(BUILD_DIR)/bench/facesearch_library_bench --target ../shared/testdata/faces
	./$(BUILD_DIR)/bench/facesearch_index_bench

clean:
	rm -rf $(BUILD_DIR)
