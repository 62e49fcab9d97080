# billcons: the two commands a newcomer needs are `make demo` and `make test`.
GO      ?= go
BIN     := bin/billcons
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
DEMO    := fixtures/demo

.PHONY: build demo test bench fmt-check clean focus-check s3-check

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/billcons

# Runs the job on the demo quarter the repository ships (with discounts,
# credits, enterprises and balances), checks the tree, and prints per paying
# account and cycle the list amount, the discounts, the credits applied and
# the amount due, read back from the Parquet summary.
demo: build
	$(BIN) run --usage $(DEMO)/usage.csv --changes $(DEMO)/changes.csv \
		--accounts $(DEMO)/accounts.csv --discounts $(DEMO)/discounts.csv \
		--credits $(DEMO)/credits.csv --enterprises $(DEMO)/enterprises.csv \
		--balances $(DEMO)/balances.csv --out out/demo
	$(BIN) verify out/demo
	$(BIN) report out/demo

# The test command CI runs (.ci/run) and the README gives.
# Runs the FinOps Foundation's FOCUS validator (FOCUS 1.2) on the FOCUS export
# of the demo, the demo with a closed month and a correction, gen data and the
# Alibaba sample; fails on any failing rule but two validator defects, each
# allowed only while our own check of its requirement holds (see
# fixtures/focus/check.sh). Needs the validator: FOCUS_VALIDATE names its
# validate.sh (CI passes the one beside the repository).
FOCUS_VALIDATE ?= ../shared/focus-validator/validate.sh
focus-check: build
	@test -x "$(FOCUS_VALIDATE)" || { echo "focus-check: no FOCUS validator at $(FOCUS_VALIDATE) (set FOCUS_VALIDATE)"; exit 1; }
	bash fixtures/focus/check.sh $(BIN) $(FOCUS_VALIDATE)

# The packages that read and sort on several goroutines run again under the
# race detector (about a minute).
test: fmt-check
	$(GO) vet ./...
	$(GO) test -timeout 20m ./...
	$(GO) test -race -timeout 10m ./pipeline/ ./spill/ ./readers/

# Times billcons against the same rules as DuckDB SQL on 1M and 10M generated
# lines (kept in $(BENCH_CACHE) between runs), in gen's default shape and with
# many payers (issue 13), and writes BENCHMARKS.md. Takes about an hour on 2
# cores, most of it DuckDB on many payers; BENCH_SIZES=1000000 or
# BENCH_SHAPES=default for a quick look.
comma := ,
BENCH_CACHE ?= $(HOME)/.cache/billcons-bench
BENCH_SIZES ?= 1000000,10000000
BENCH_ROUNDS ?= 2
BENCH_SHAPES ?= default,many
# Where the contenders write: BENCH_WORK=/dev/shm/billcons-bench keeps the
# disk's own variance out of the ratios (docs/performance.md).
BENCH_WORK ?= $(BENCH_CACHE)/work
# The stage benchmarks write their files in $(BENCH_WORK) too, and their
# lines go into BENCHMARKS.md.
bench: build
	mkdir -p $(BENCH_WORK)
	TMPDIR=$(BENCH_WORK) $(GO) test -run XXX -bench . -benchtime 3x ./readers/ ./rules/ ./writers/ > bin/stage-bench.txt; \
		s=$$?; cat bin/stage-bench.txt; exit $$s
	$(GO) build -o bin/bench ./fixtures/bench
	bin/bench -cache $(BENCH_CACHE) -shapes $(BENCH_SHAPES) -work $(BENCH_WORK) -sizes $(BENCH_SIZES) -rounds $(BENCH_ROUNDS) -stages bin/stage-bench.txt
	# A sharded run (4 shards, 2 splits, two at a time) against one run, on
	# the largest cached size: docs/scaling.md.
	fixtures/bench/sharded.sh $(BIN) $(BENCH_CACHE)/lines-$(lastword $(subst $(comma), ,$(BENCH_SIZES))) 4 2
	# Reading the bills (docs/performance.md): an analyst's queries on the
	# tree against one compact file of the same rows; then --jobs 1 against
	# --jobs 2 and DuckDB's sorted partitioned copy (the layout's floor), on
	# the largest many-payers dataset.
	many=$(BENCH_CACHE)/many-$(lastword $(subst $(comma), ,$(BENCH_SIZES))); \
	if [ -d $$many ]; then fixtures/bench/layout.sh $(BIN) bin/bench $$many && \
		fixtures/bench/jobs.sh $(BIN) $$many 2 bin/bench; \
	else echo "no many-payers dataset (BENCH_SHAPES): layout and jobs skipped"; fi
	# Publishing to object storage: the 1M-line run with --out on the disk
	# and on a real S3 server on this machine, and a sharded store's objects
	# before and after gc (docs/scaling.md).
	test -x $(S3_SERVER) || GOBIN=$(CURDIR)/bin GOFLAGS=-mod=mod $(GO) install github.com/versity/versitygw/cmd/versitygw@$(S3_SERVER_VERSION)
	fixtures/bench/store.sh $(BIN) $(S3_SERVER) $(BENCH_CACHE)/lines-$(firstword $(subst $(comma), ,$(BENCH_SIZES)))
	# Seven nightly versions of the largest cached size in one tree: the
	# time of the guards and the disk the kept versions take (docs/nightly.md,
	# Versions).
	fixtures/bench/versions.sh $(BIN) $(BENCH_CACHE)/lines-$(lastword $(subst $(comma), ,$(BENCH_SIZES)))
	# A night once months are closed: 12 cycles of a million lines, 11
	# closed, one new day; against the same night with nothing closed and
	# a night over the open cycle alone (docs/nightly.md, Closing a month).
	BENCH_WORK=$(BENCH_WORK) fixtures/bench/close.sh $(BIN) bin/bench 12000000

# The store tests against a real S3-compatible server as well as the
# in-process fake: Versity Gateway (an S3 gateway over a POSIX folder), built
# from the Go module proxy into bin/ once (about a minute) and started by the
# tests on a loopback port. BILLCONS_S3_REQUIRE=1 makes a missing server a
# failure, not a skip. To run the same tests against another server, point
# BILLCONS_S3_SERVER at a binary that takes versitygw's command line.
S3_SERVER         ?= bin/versitygw
S3_SERVER_VERSION ?= v1.8.0
s3-check:
	test -x $(S3_SERVER) || GOBIN=$(CURDIR)/bin GOFLAGS=-mod=mod $(GO) install github.com/versity/versitygw/cmd/versitygw@$(S3_SERVER_VERSION)
	BILLCONS_S3_SERVER=$(abspath $(S3_SERVER)) BILLCONS_S3_REQUIRE=1 $(GO) test -count=1 -timeout 20m \
		-run 'TestCreateOnlyOnce|TestPublishAndMaterialize|TestMoveFile|TestRetries|TestLargeObjects|TestNameRedacts' ./storage/
	BILLCONS_S3_SERVER=$(abspath $(S3_SERVER)) BILLCONS_S3_REQUIRE=1 $(GO) test -count=1 -timeout 20m \
		-run 'TestShardedFaults|TestGC$$|TestShardedURLInputs' ./cmd/billcons/

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on: $$out"; exit 1; fi

clean:
	rm -rf bin out
