# The two commands a user needs: `make demo` and `make test`. Both run the idempotent set-up first.
BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SETUP := tools/setup.sh
ORT_ROOT = $(shell $(SETUP) print-ort-root)
DEMO_DIR = $(shell $(SETUP) print-demo)

.PHONY: all setup configure build demo test install deb test-sanitize fuzz fuzz-budget bench clean

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

# Installs the binary, ONNX Runtime's library, the model packs (mobilefacenet-faceapi, dlib-faceapi) and
# the systemd user unit of `facesearch serve` under PREFIX (packaging/install.cmake): ~/.local, or
# /usr/local as root. DESTDIR stages it elsewhere. It builds first, except under sudo: the build and the
# model packs belong to the user who made them (`make build`, then `sudo make install`). The folders it
# makes are readable by everyone whatever the caller's umask (sudo keeps a umask of 077).
PREFIX ?= $(if $(filter 0,$(shell id -u)),/usr/local,$(HOME)/.local)
install: $(if $(SUDO_USER),,build)
	@test -x $(BUILD_DIR)/facesearch || { echo "make install: nothing built in $(BUILD_DIR): run make build first" >&2; exit 1; }
	umask 022 && DESTDIR="$(DESTDIR)" cmake --install $(BUILD_DIR) --prefix "$(PREFIX)"
	@echo "Installed under $(DESTDIR)$(PREFIX) (files listed in $(BUILD_DIR)/install_manifest.txt)"

# build/facesearch_VERSION_ARCH.deb (CPack), installing under /usr. CPack's staging install rewrites
# install_manifest.txt: the list of the last `make install` is kept.
deb: build
	@cd $(BUILD_DIR) && if [ -f install_manifest.txt ]; then cp -p install_manifest.txt install_manifest.keep; fi; \
	  cpack -G DEB; status=$$?; if [ -f install_manifest.keep ]; then mv install_manifest.keep install_manifest.txt; \
	  else rm -f install_manifest.txt; fi; exit $$status

# The whole suite again, built with AddressSanitizer + UndefinedBehaviorSanitizer (gcc, -O1 -g) in
# build-asan/. Leaks of the uninstrumented third-party libraries are suppressed by name in
# tools/lsan.supp (never ours). Reports go to build-asan/sanitizer-logs (writable by the tests' `nobody`
# runs too), so that a report from any process fails the target, even one in a child whose exit status
# a test only checks for "not 0".
SANITIZE_DIR ?= build-asan
SANITIZER_LOGS = $(CURDIR)/$(SANITIZE_DIR)/sanitizer-logs
SANITIZER_ENV = ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:log_path=$(SANITIZER_LOGS)/asan \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tools/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(SANITIZER_LOGS)/ubsan
test-sanitize: setup
	@cmake -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
	  -DFACESEARCH_SANITIZE=address,undefined -DFACESEARCH_BUILD_BENCH=OFF -DFACESEARCH_BUILD_TOOLS=OFF \
	  -DFACESEARCH_ORT_ROOT=$(ORT_ROOT) >/dev/null
	@rm -rf $(SANITIZER_LOGS) && mkdir -p $(SANITIZER_LOGS) && chmod 1777 $(SANITIZER_LOGS)
	$(SANITIZER_ENV) cmake --build $(SANITIZE_DIR) -j $(JOBS)
	cd $(SANITIZE_DIR) && $(SANITIZER_ENV) ctest --output-on-failure -j $(JOBS); status=$$?; \
	  if [ -n "$$(ls -A $(SANITIZER_LOGS))" ]; then cat $(SANITIZER_LOGS)/*; \
	    echo "test-sanitize: sanitizer reports above ($(SANITIZER_LOGS))"; exit 1; fi; exit $$status

# libFuzzer harnesses (fuzz/, clang) in build-fuzz/, each run for FUZZ_SECONDS on a seed corpus made
# from ../shared/testdata and the real binary; crashes go to build-fuzz/crashes/NAME. FUZZERS picks some.
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZERS ?= image_decode_fuzz manifest_fuzz onnx_head_fuzz zip_fuzz catalog_fuzz vectors_fuzz hnsw_fuzz
fuzz: build
	@cmake -S . -B $(FUZZ_DIR) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DFACESEARCH_FUZZ=ON -DFACESEARCH_BUILD_TESTS=OFF \
	  -DFACESEARCH_BUILD_BENCH=OFF -DFACESEARCH_BUILD_TOOLS=OFF -DFACESEARCH_ORT_ROOT=$(ORT_ROOT) >/dev/null
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target $(FUZZERS) fuzz_seed_images fuzz_seed_side_files
	bash fuzz/make_seeds.sh $(BUILD_DIR)/facesearch $(FUZZ_DIR)
	@for f in $(FUZZERS); do bash fuzz/run.sh $(FUZZ_DIR) $$f $(FUZZ_SECONDS) || exit 1; done

# The same harnesses run until each has had FUZZ_CPU_SECONDS of CPU time in all (summed over the runs in
# build-fuzz/logs/NAME.history), so a budget holds on a busy machine too: `make fuzz-budget`.
FUZZ_CPU_SECONDS ?= 1800
fuzz-budget: FUZZ_SECONDS = 1
fuzz-budget: fuzz
	@for f in $(FUZZERS); do bash fuzz/budget.sh $(FUZZ_DIR) $$f $(FUZZ_CPU_SECONDS) || exit 1; done

# Speed figures (not tests): folder search serial vs pipelined on testdata and on phone-size copies of it
# (written into build/phone-photos at bench time: 4032 px, JPEG 90; with completeness against SSD),
# both packs on testdata, library indexing and re-scan, library search with and without query
# expansion (a million synthetic 512-d faces, ~2.5 minutes),
# `facesearch serve` under load (1/8/32 clients over 100k synthetic faces, exact and HNSW; crops cached and
# uncached; the CLI per process), the people pass of `index` and `people recluster` at 10k/100k synthetic
# faces, vector search at 10k/100k/1M faces against FAISS (the last takes several minutes), and a library
# in PostgreSQL + pgvector at 100k synthetic faces against our own indexes, with 1 and 2 index workers
# (a throwaway server; docs/SCALING.md). See docs/PERFORMANCE.md.
bench: build
	./$(BUILD_DIR)/bench/facesearch_bench --target ../shared/testdata/faces
	@echo "## the same with dlib-faceapi (the default pack before issue 13)"
	FACESEARCH_MODELS=$$($(SETUP) print-models)/dlib-faceapi ./$(BUILD_DIR)/bench/facesearch_bench --target ../shared/testdata/faces
	./$(BUILD_DIR)/bench/facesearch_phone_bench --out $(BUILD_DIR)/phone-photos
	./$(BUILD_DIR)/bench/facesearch_bench --target $(BUILD_DIR)/phone-photos/photos
	./$(BUILD_DIR)/bench/facesearch_bench --target $(BUILD_DIR)/phone-photos/noface
	./$(BUILD_DIR)/bench/facesearch_detection_bench --data ../shared/testdata/faces
	./$(BUILD_DIR)/bench/facesearch_library_bench --target ../shared/testdata/faces --faces 1000000
	./$(BUILD_DIR)/bench/facesearch_server_bench --photos $(BUILD_DIR)/phone-photos/photos --cli $(BUILD_DIR)/facesearch
	./$(BUILD_DIR)/bench/facesearch_cluster_eval --library-only --sizes 10000,100000
	./$(BUILD_DIR)/bench/facesearch_index_bench
	./$(BUILD_DIR)/bench/facesearch_pg_bench --sizes 100000 --cli $(BUILD_DIR)/facesearch --photos $(BUILD_DIR)/phone-photos/photos

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(FUZZ_DIR)
