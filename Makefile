# openhpo — build, test and benchmark.
#   make            build build/hpod, build/hpo-runner and build/hpo
#   make test       unit tests (cmocka) + end-to-end tests (pytest) on the normal build
#   make asan-test  the same suite built with AddressSanitizer + UBSan (in build-asan/)
#   make bench      benchmarks under bench/ (print numbers; not part of the tests)
#   make demo       installs what is missing, builds, tunes examples/sklearn-digits
#   make install    installs hpod, hpo-runner, hpo and hpod.service under PREFIX

BUILD   ?= build
CC      ?= cc
SAN     ?=
PYTHON  ?= /usr/bin/python3

PKGS    := libmicrohttpd jansson sqlite3 libpcre2-8 nlopt libcrypto libarchive
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
MAINS   := src/hpod.c src/runner.c src/hpo.c
LIBSRC  := $(filter-out $(MAINS),$(wildcard src/*.c))
LIBOBJ  := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIBSRC))
UNITSRC := $(wildcard tests/unit/test_*.c)
UNITBIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNITSRC))

all: $(BUILD)/hpod $(BUILD)/hpo-runner $(BUILD)/hpo

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libopenhpo.a: $(LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/hpod: $(BUILD)/obj/hpod.o $(BUILD)/libopenhpo.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The runner starts once per training job: link it with nothing it does not
# use, so it starts in a millisecond (no BLAS, SQLite or HTTP libraries).
$(BUILD)/hpo-runner: $(BUILD)/obj/runner.o $(BUILD)/obj/util.o
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libopenhpo.a $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libopenhpo.a $(LDLIBS) -lcmocka

unit: $(UNITBIN)
	@set -e; for t in $(UNITBIN); do echo "== $$t"; $$t; done

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
	clang-format -i src/*.c src/*.h tests/unit/*.c

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
	install -m 0755 $(BUILD)/hpod $(BUILD)/hpo-runner $(BUILD)/hpo $(DESTDIR)$(PREFIX)/bin/
	sed 's|@PREFIX@|$(PREFIX)|g' packaging/hpod.service > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/hpod.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/hpod.service
