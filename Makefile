# openhpo — build, test and benchmark.
#   make            build build/hpod, build/hpo-runner, build/hpo-pack and build/hpo
#   make test       unit tests (cmocka) + end-to-end tests (pytest) on the normal build
#   make asan-test  the same suite built with AddressSanitizer + UBSan (in build-asan/)
#   make bench      benchmarks under bench/ (print numbers; not part of the tests)
#   make demo       installs what is missing, builds, tunes examples/sklearn-digits
#   make install    installs hpod, hpo-runner, hpo-pack, hpo and hpod.service under PREFIX

BUILD   ?= build
CC      ?= cc
SAN     ?=
PYTHON  ?= /usr/bin/python3

PKGS    := libmicrohttpd jansson sqlite3 libpcre2-8 nlopt libcrypto libarchive libcurl libxml-2.0
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
           -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -llapack -lblas -lm -lpthread

# Truncating snprintf is how this code caps strings; gcc's guesses about it are noise.
ifeq ($(shell $(CC) --version 2>/dev/null | grep -c clang),0)
CFLAGS  += -Wno-format-truncation
endif

ifeq ($(SAN),1)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# Programs: each has one main file; everything else in src/ is the library.
MAINS   := src/hpod.c src/runner.c src/pack_main.c src/hpo.c
LIBSRC  := $(filter-out $(MAINS),$(wildcard src/*.c) $(wildcard src/backends/*.c))
LIBOBJ  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIBSRC))
UNITSRC := $(wildcard tests/unit/test_*.c)
UNITBIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNITSRC))

all: $(BUILD)/hpod $(BUILD)/hpo-runner $(BUILD)/hpo-pack $(BUILD)/hpo

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h src/backends/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libopenhpo.a: $(LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/hpod: $(BUILD)/obj/hpod.o $(BUILD)/libopenhpo.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The runner starts once per training job while the daemon's loop waits for
# it: link it with nothing but util.o, so it starts in a millisecond (no
# BLAS, SQLite, HTTP libraries, not even libarchive). It runs hpo-pack, next
# to it, to pack the model once the training program has ended (pack.h).
$(BUILD)/hpo-runner: $(BUILD)/obj/runner.o $(BUILD)/obj/util.o
	$(CC) $(LDFLAGS) -o $@ $^

# hpo-pack stores artifacts in S3 too (s3.c: libcurl, libxml2; sigv4.c signs).
PACK_LIBS := $(shell pkg-config --libs libarchive libcurl libxml-2.0 jansson libcrypto 2>/dev/null || \
               echo -larchive -lcurl -lxml2 -ljansson -lcrypto)
$(BUILD)/hpo-pack: $(BUILD)/obj/pack_main.o $(BUILD)/obj/pack.o $(BUILD)/obj/s3.o \
                   $(BUILD)/obj/sigv4.o $(BUILD)/obj/util.o $(BUILD)/obj/err.o
	$(CC) $(LDFLAGS) -o $@ $^ $(PACK_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libopenhpo.a $(wildcard src/*.h src/backends/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libopenhpo.a $(LDLIBS) -lcmocka

# test_backend_local runs real hpo-runner processes (which run hpo-pack next
# to them): it finds the binary here.
unit: $(UNITBIN) $(BUILD)/hpo-runner $(BUILD)/hpo-pack
	@set -e; for t in $(UNITBIN); do echo "== $$t"; \
	  HPO_RUNNER_BIN=$(abspath $(BUILD)/hpo-runner) $$t; done

e2e: all
	HPOD_BIN=$(abspath $(BUILD)/hpod) HPO_RUNNER_BIN=$(abspath $(BUILD)/hpo-runner) \
	  HPO_BIN=$(abspath $(BUILD)/hpo) \
	  $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e $(PYTEST_ARGS)

deps:
	@bash scripts/deps

test: deps
	$(MAKE) unit e2e

asan-test: deps
	$(MAKE) BUILD=build-asan SAN=1 unit e2e

bench: all
	@bash bench/run

format:
	clang-format -i src/*.c src/*.h src/backends/*.c src/backends/*.h tests/unit/*.c

clean:
	rm -rf build build-asan build-clang

.PHONY: all unit e2e deps test asan-test bench format clean demo install
.SECONDARY:

# ---- strategy benchmarks (bench/run; not part of the tests) ----
$(BUILD)/bench_strategy: bench/strategy_bench.c $(BUILD)/libopenhpo.a $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libopenhpo.a $(LDLIBS)

# ---- list / describe latency at many training jobs (bench/lists.py) ----
$(BUILD)/fill_store: bench/fill_store.c $(BUILD)/libopenhpo.a $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libopenhpo.a $(LDLIBS)

# ---- backend_start latency of the local backend (bench/launch_bench.c) ----
$(BUILD)/launch_bench: bench/launch_bench.c $(BUILD)/libopenhpo.a $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libopenhpo.a $(LDLIBS)

# --- validate: shape models embedded into the library ----------------------
# Each src/models/NAME.json becomes the C string validate_model_NAME in a
# generated source compiled into libopenhpo.a (validate.c loads it on first
# use). Extra prerequisite lines add to $^ of the library's rule above.
VALIDATE_MODELS := $(wildcard src/models/*.json)

$(BUILD)/gen/validate_models.c: $(VALIDATE_MODELS) scripts/embed_models.py
	$(PYTHON) scripts/embed_models.py $@ $(VALIDATE_MODELS)

$(BUILD)/obj/gen/validate_models.o: $(BUILD)/gen/validate_models.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libopenhpo.a: $(BUILD)/obj/gen/validate_models.o

# --- ui: the dashboard's files embedded into the library ---------------------
# Every file under ui/dist/ (the front-end's committed build) becomes an entry
# of ui_assets[] (ui_assets.h) in a generated source; no npm at build time.
UI_DIST := $(shell find ui/dist -type f 2>/dev/null | LC_ALL=C sort)

$(BUILD)/gen/ui_assets.c: $(UI_DIST) scripts/embed_ui.py
	$(PYTHON) scripts/embed_ui.py $@ ui/dist

$(BUILD)/obj/gen/ui_assets.o: $(BUILD)/gen/ui_assets.c src/ui_assets.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libopenhpo.a: $(BUILD)/obj/gen/ui_assets.o

# --- cli: the hpo command-line client, the demo, installation ----------------
# hpo talks HTTP through libcurl; only it links libcurl. It links nothing of
# the daemon's (no BLAS, whose thread pool, started at load, would not block
# the SIGINT hpo reads through a signalfd; no SQLite, no libmicrohttpd).
HPO_LIBS := $(shell pkg-config --libs libcurl jansson libpcre2-8 libcrypto 2>/dev/null || \
              echo -lcurl -ljansson -lpcre2-8 -lcrypto) -lm

$(BUILD)/hpo: $(BUILD)/obj/hpo.o $(BUILD)/libopenhpo.a
	$(CC) $(LDFLAGS) -o $@ $^ $(HPO_LIBS)

# The demo tunes the scikit-learn digits example end to end: with no endpoint
# configured, hpo starts its own hpod on its private data dir
# (~/.local/share/openhpo), shows the progress and prints the best job.
demo: deps
	$(MAKE) all
	$(BUILD)/hpo tune examples/sklearn-digits/job.json

PREFIX  ?= /usr/local
DESTDIR ?=
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	install -m 0755 $(BUILD)/hpod $(BUILD)/hpo-runner $(BUILD)/hpo-pack $(BUILD)/hpo \
	  $(DESTDIR)$(PREFIX)/bin/
	sed 's|@PREFIX@|$(PREFIX)|g' packaging/hpod.service > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/hpod.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/hpod.service

# --- fuzz: libFuzzer harnesses (tests/fuzz/README.md) -------------------------
#   make fuzz                      build in build-fuzz/ with clang and run every
#                                  target FUZZ_SECONDS seconds on its corpus
#   make fuzz FUZZ_TARGETS=sigv4   one target; FUZZ_FLAGS adds libFuzzer flags
#   make fuzz-build                only build them
# The library is built by the rules above with BUILD=build-fuzz CC=clang
# SAN=fuzz (coverage for libFuzzer, ASan, UBSan); each harness links it with
# the fuzzer's main. New corpus entries go to build-fuzz/corpus/TARGET (the
# committed seeds in tests/fuzz/corpus/TARGET are only read), findings to
# build-fuzz/artifacts/TARGET/. Any finding fails the run.
FUZZ_TARGETS ?= api sigv4 metrics token credentials
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   ?=
FUZZ_BUILD   := build-fuzz
FUZZ_SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

ifeq ($(SAN),fuzz)
CFLAGS  += -O1 -fsanitize=fuzzer-no-link $(FUZZ_SANFLAGS)
endif

# Per-target libFuzzer options (metric logs need lines past METRICS_LINE_MAX).
FUZZ_OPTS_api     := -dict=tests/fuzz/api.dict -close_fd_mask=2
FUZZ_OPTS_sigv4   := -max_len=8192
FUZZ_OPTS_metrics := -max_len=20000
FUZZ_OPTS_token   := -max_len=4096
FUZZ_OPTS_credentials := -dict=tests/fuzz/credentials.dict

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/libopenhpo.a $(wildcard src/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/fuzz -fsanitize=fuzzer $(FUZZ_SANFLAGS) -o $@ $(filter %.c,$^) \
	  $(BUILD)/libopenhpo.a $(LDLIBS)

# The request-path harness answers headers through a fake connection.
$(BUILD)/fuzz/fuzz_api: tests/fuzz/fake_request.c

fuzz-bins: $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))

# Builds the harnesses (into build-fuzz/fuzz/) without running them.
fuzz-build:
	$(MAKE) -j2 BUILD=$(FUZZ_BUILD) CC=clang SAN=fuzz FUZZ_TARGETS='$(FUZZ_TARGETS)' fuzz-bins

fuzz: deps fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do $(MAKE) --no-print-directory fuzz-run-$$t; done

# Runs one built target (make fuzz builds them first).
fuzz-run-%:
	@mkdir -p $(FUZZ_BUILD)/corpus/$* $(FUZZ_BUILD)/artifacts/$*
	@echo "== fuzz_$*: $(FUZZ_SECONDS) s"
	@$(FUZZ_BUILD)/fuzz/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=30 -rss_limit_mb=2048 \
	  -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/artifacts/$*/ $(FUZZ_OPTS_$*) \
	  $(FUZZ_FLAGS) $(FUZZ_BUILD)/corpus/$* tests/fuzz/corpus/$* || \
	  { echo "fuzz_$*: FINDING, input in $(FUZZ_BUILD)/artifacts/$*/ (tests/fuzz/README.md)"; exit 1; }

clean-fuzz:
	rm -rf $(FUZZ_BUILD)
clean: clean-fuzz

.PHONY: fuzz fuzz-build fuzz-bins clean-fuzz
