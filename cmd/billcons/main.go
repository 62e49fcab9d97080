// Command billcons consolidates cloud bills under financial trusteeship: it
// decides which account pays every bill line and writes Parquet bills per
// paying account. Run "billcons help" for the commands.
package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	_ "time/tzdata" // IANA zones for --tz on machines without a zoneinfo database

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/pipeline"
	"github.com/billcons/billcons/query"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/shards"
	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/verify"
	"github.com/billcons/billcons/writers"
	"github.com/parquet-go/parquet-go"
	"golang.org/x/term"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses (CONTRACT.md, Command line).
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitDataQuality = 3
)

const runBody = `Reads bill lines (--usage) and the history of trusteeship changes
(--changes), decides for every line which account pays it, and writes:

  DIR/bills/billing_cycle=YYYY-MM/part-NNNNN.parquet
                                   sorted by payer, member, product, end
  DIR/index/payers.parquet         where each payer's rows are, and sums
  DIR/summary/summary.parquet      lines and exact sums per cycle, payer,
                                   member, product and currency
  DIR/rejects/usage.parquet        every rejected row, with file, row,
  DIR/rejects/changes.parquet      reason_code, reason and the raw record
  DIR/manifest.json                inputs, outputs, checksums, totals

PATH is a file, a folder (its *.csv, *.csv.gz, *.parquet and *.zip files,
in name order) or a glob; the format follows the extension; a .zip holds
.csv files, read in name order. --profile alibaba reads Alibaba Cloud
bill-detail exports by their own field names. --usage and --changes
may be repeated. Each run publishes a new version of DIR, whole and
atomically: until it is complete DIR shows the latest version, and a failed
or killed run leaves it untouched. DIR must be new, empty, or a billcons
tree (its manifest says "format": "billcons-tree"); inputs may not lie
inside it (exit 2). The last --keep versions (default 7) stay readable
(billcons versions DIR; --version V on verify, report, query, invoice,
export); unchanged files are shared between them by hard links.

Guards: a run that looks like a broken export publishes nothing, prints one
line per guard that tripped, and exits 3:
  reject_ratio     more than --max-reject-ratio (default 0.01) of the usage
                   rows rejected; --max-reject-ratio 1 turns it off
  missing_lines    a line billed in the latest version is not billed now
  missing_changes, missing_discounts, missing_enterprises, missing_accounts,
  missing_credits, missing_balances
                   a row accepted in the latest version is not accepted now
  missing_inputs   an input file the latest version read is not read now
  cycle_drop       a cycle's billed list amount in a currency fell by more
                   than --max-cycle-drop (default 0.5); 1 turns it off
--accept-missing publishes despite the missing_* guards (recorded in the
manifest's "accepted"); --guard-report FILE lists every id. A first run
has only reject_ratio. Every run ends with what it changed against the
version before, one line per billing cycle (billcons diff DIR for more).

Who pays a line: the payer set by the latest accepted change of its member
that the line falls after, or the member itself when it falls after none.
A line falls after a change:
  - when an unsettled bill of the line's product, issued before the change
    in the change's billing cycle, holds the change back: only if the
    line's billing_cycle is later than that cycle;
  - otherwise, by --timing: end-time (the default) when usage_end is at or
    after the change; next-period when usage_start is after it.
Changes are rejected (to DIR/rejects/changes.parquet) when they are copies
or ambiguous, name the member itself, would make a chain, give a management
account more than 300 members, or, with --accounts, cross enterprises.
Every bill records decided_by (the change that set its payer) and held_by
(the change an unsettled bill held back). docs/rules.md gives each rule
with the passage of the provider's documentation it comes from.

What each payer pays (all optional): a line gets the discount of its
discount owner: the member when it pays for itself or for alicom; the payer
when the trusteeship began before the enterprise upgraded (--enterprises,
default 2022-08-01 12:00 +08:00) or the enterprise has entity-level
discounts; else the member. --credits (coupons, vouchers,
stored-value cards) then pay each summary row in order; the rest is
due_amount. --balances turns on spending and low_credit alerts to paying
accounts, written to DIR/alerts/alerts.parquet and printed (one line each,
or a JSON "alert" event); alerts never fail a run. Also written:
DIR/credits/applied.parquet, DIR/credits/balances.parquet and
DIR/rejects/<input>.parquet for each settlement input given.

Options:
`

// memoryLimit is Go's soft memory limit for billcons unless GOMEMLIMIT
// sets another: the garbage collector runs sooner as the heap nears it,
// instead of letting the heap grow to twice what is live. The line sorts
// spill at their own budgets, so a run's live heap stays well under it,
// and a Parquet file whose row groups hold a million rows each (as DuckDB
// writes them) is read in little more than that. Only state beyond it, such
// as tens of millions
// of trusteeship changes, makes the collector work harder (at most half the
// CPU, by Go's own cap): give such a run GOMEMLIMIT=2GiB or what it needs.
const memoryLimit = 384 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if path := os.Getenv("BILLCONS_CPUPROFILE"); path != "" { // for profiling: see BENCHMARKS.md
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer f.Close()
		}
	}
	if path := os.Getenv("BILLCONS_TRACE"); path != "" { // an execution trace, for go tool trace
		if f, err := os.Create(path); err == nil {
			trace.Start(f)
			defer f.Close()
		}
	}
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	trace.Stop()
	pprof.StopCPUProfile()
	stop()
	storage.Checkpoint("exit") // for tests that read the peak memory
	os.Exit(code)
}

// stdin is what "billcons query" reads statements from; tests replace it.
var stdin io.Reader = os.Stdin

// Main runs the command line args and returns the exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText())
		return exitUsage
	}
	switch args[0] {
	case "--version":
		args[0] = "version"
	case "-h", "-help", "--help":
		args[0] = "help"
	}
	if c := lookup(args[0]); c != nil {
		// Every command that reads or writes a store retries it when it
		// fails transiently, and says so; those that write take
		// --store-retry.
		ctx = storage.WithRetry(ctx, storage.Retry{For: storage.DefaultRetry, Log: func(line string) {
			fmt.Fprintf(stderr, "billcons: %s\n", line)
		}})
		return c.run(ctx, args[1:], stdout, stderr)
	}
	if st, err := os.Stat(args[0]); err == nil && st.IsDir() && len(args) > 1 {
		// The tree first, as in "billcons out query ...": the command goes first.
		fmt.Fprintf(stderr, "billcons: unknown command %q: the command comes first, as in billcons %s %s ...\n", args[0], args[1], shellQuote(args[0]))
		return exitUsage
	}
	fmt.Fprintf(stderr, "billcons: unknown command %q; run \"billcons help\"\n", args[0])
	return exitUsage
}

// profileHelp is --profile's help, from the profiles.
func profileHelp() string {
	var b strings.Builder
	b.WriteString("how --usage names its columns:")
	for i, p := range readers.Profiles {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, "\n%s (%s)", p.Name, p.Doc)
	}
	return b.String()
}

// takesCurrency names the profiles --currency goes with.
func takesCurrency() string {
	var names []string
	for _, p := range readers.Profiles {
		if p.TakesCurrency {
			names = append(names, "--profile "+p.Name)
		}
	}
	return strings.Join(names, ", ")
}

// paths is a repeatable flag.
type paths []string

func (p *paths) String() string     { return strings.Join(*p, ",") }
func (p *paths) Set(v string) error { *p = append(*p, v); return nil }

// runArgs are run's parsed command line.
type runArgs struct {
	cfg    pipeline.Config
	guards *guards
	quiet  bool
	log    *slog.Logger
	opts   shards.Options // the same, as a sharded run's plan records them
	retry  time.Duration  // --store-retry
}

// parseRun parses run's flags (and plan's, which are run's): ok is false
// when the command is done, with code its exit status.
// extra, when set, adds the command's own flags.
func parseRun(cmd string, args []string, stdout, stderr io.Writer, extra func(*flag.FlagSet)) (ra *runArgs, code int, ok bool) {
	fs := flag.NewFlagSet("billcons "+cmd, flag.ContinueOnError)
	if extra != nil {
		extra(fs)
	}
	fs.SetOutput(io.Discard)
	var usage, changes, accounts paths
	fs.Var(&usage, "usage", "bill lines: a file, folder or glob (repeatable; required)")
	fs.Var(&changes, "changes", "trusteeship changes: a file, folder or glob (repeatable; required)")
	fs.Var(&accounts, "accounts", "accounts with their enterprise_id: turns on the same-enterprise rule (optional)")
	profile := fs.String("profile", readers.Profiles[0].Name, profileHelp())
	currency := fs.String("currency", "", "with --profile alibaba: the currency of an export that has no Currency column")
	var discounts, credits, enterprises, balances paths
	fs.Var(&discounts, "discounts", "contract discounts per account and product (optional; repeatable)")
	fs.Var(&credits, "credits", "coupons, vouchers and stored-value cards (optional; repeatable)")
	fs.Var(&enterprises, "enterprises", "enterprises: when each upgraded and configured entity-level discounts (optional; needs --accounts)")
	fs.Var(&balances, "balances", "available credit and spending alert per account and currency: turns on alerts (optional)")
	var outFlag onceFlag
	fs.Var(&outFlag, "out", "the output tree to create or replace (required)")
	out := &outFlag.v
	timing := fs.String("timing", "end-time", "end-time: a line is the new payer's when its usage_end is at or after the change; next-period: when its usage_start is after the change")
	tz := fs.String("tz", "+08:00", "the billing time zone cycles are cut in: an offset like +08:00 or an IANA name")
	maxReject := fs.Float64("max-reject-ratio", 0.01, "guard: fail with exit 3, keeping DIR, when more than this share (0 to 1) of usage rows is rejected; 1 turns it off")
	keep := fs.Int("keep", storage.DefaultKeep, "how many versions of DIR to keep, the new one included")
	var restate paths
	fs.Var(&restate, "restate", "a closed cycle whose inputs are whole: an invoiced line of it that the inputs lack is withdrawn\n(a correction) instead of carried as invoiced (repeatable)")
	jobs := fs.Int("jobs", runtime.NumCPU(), "how many cores the run uses: usage files read at once, bills files written at once\n(the outputs are the same bytes whatever it is)")
	acceptMissing := fs.Bool("accept-missing", false, "publish even when lines, changes or settlement rows the latest version has are missing now\n(each is recorded in the manifest and listed by billcons diff)")
	maxCycleDrop := fs.Float64("max-cycle-drop", 0.5, "guard: fail with exit 3 when a billing cycle's billed list amount in a currency falls by more than\nthis share against the latest version; 1 turns it off")
	guardReport := fs.String("guard-report", "", "when a guard trips, write every id it names to this file (outside DIR)")
	quiet := fs.Bool("quiet", false, "print nothing but errors")
	logFormat := fs.String("log-format", "text", "text: one summary line on success (none with --quiet), one line on failure;\njson: one JSON event per stage with counts and durations, then \"done\" or \"failed\", for log collectors")
	var retry time.Duration
	storeRetryVar(fs, &retry)
	var wait waitFlag
	fs.Var(&wait, "wait", "when another run holds DIR, wait for it instead of failing: --wait waits as long as it takes,\n--wait=DURATION (like 30m) at most that long")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if cmd == "plan" {
				fmt.Fprint(stdout, commandHelp("plan")+"\nOptions of plan (and of run):\n")
			} else {
				fmt.Fprint(stdout, commandHelp("run"))
			}
			printFlags(stdout, fs)
			return nil, exitOK, false
		}
		fmt.Fprintf(stderr, "billcons %s: %v; see billcons %s --help\n", cmd, err, cmd)
		return nil, exitUsage, false
	}
	usageErr := func(format string, a ...any) (*runArgs, int, bool) {
		fmt.Fprintf(stderr, "billcons "+cmd+": "+format+"; see billcons "+cmd+" --help\n", a...)
		return nil, exitUsage, false
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case len(usage) == 0:
		return usageErr("--usage is required")
	case len(changes) == 0:
		return usageErr("--changes is required")
	case *out == "":
		return usageErr("--out is required")
	case len(enterprises) > 0 && len(accounts) == 0:
		return usageErr("--enterprises needs --accounts: an enterprise is found through its accounts")
	case readers.LookupProfile(*profile) == nil:
		return usageErr("--profile %q: want %s", *profile, strings.Join(readers.ProfileNames(), " or "))
	case *currency != "" && !readers.LookupProfile(*profile).TakesCurrency:
		return usageErr("--currency goes with a profile of exports without a currency column (%s): the %s profile reads the currency column", takesCurrency(), *profile)
	}
	if *currency != "" {
		if _, err := billing.ParseCurrency(*currency); err != nil {
			return usageErr("--currency: %v", err)
		}
	}
	tim, known := rules.ParseTiming(*timing)
	if !known {
		return usageErr("--timing %q: want end-time or next-period", *timing)
	}
	loc, err := billing.ParseZone(*tz)
	if err != nil {
		return usageErr("--tz: %v", err)
	}
	if *maxReject != -1 && (*maxReject < 0 || *maxReject > 1) {
		return usageErr("--max-reject-ratio %g: want a share from 0 to 1", *maxReject)
	}
	if *maxCycleDrop < 0 || *maxCycleDrop > 1 {
		return usageErr("--max-cycle-drop %g: want a share from 0 to 1", *maxCycleDrop)
	}
	if *keep < 1 {
		return usageErr("--keep %d: keep at least 1 version", *keep)
	}
	if *jobs < 1 {
		return usageErr("--jobs %d: want 1 or more", *jobs)
	}
	if retry < 0 {
		return usageErr("--store-retry %s: want a duration from 0", retry)
	}
	var restated []billing.Cycle
	for _, c := range restate {
		cy, err := billing.ParseCycle(c)
		if err != nil {
			return usageErr("--restate %q: want a closed billing cycle, YYYY-MM", c)
		}
		restated = append(restated, cy)
	}
	if *guardReport != "" {
		if err := outsideTrees("--guard-report", *guardReport); err != nil {
			return usageErr("%v", err)
		}
	}
	ratio := *maxReject
	if ratio >= 1 {
		ratio = -1 // 1 turns the guard off
	}
	var log *slog.Logger
	switch *logFormat {
	case "text":
	case "json":
		log = slog.New(slog.NewJSONHandler(stderr, nil))
	default:
		return usageErr("--log-format %q: want text or json", *logFormat)
	}
	cfg := pipeline.Config{
		Usage: usage, Changes: changes, Accounts: accounts, Out: *out,
		Discounts: discounts, Credits: credits, Enterprises: enterprises, Balances: balances,
		Profile: *profile, Currency: *currency, Restate: restated,
		Timing: tim, Zone: loc, ZoneName: *tz, MaxRejectRatio: ratio, Version: version,
		Wait: time.Duration(wait), Log: log, Keep: *keep, Jobs: *jobs,
	}
	g := &guards{acceptMissing: *acceptMissing, maxCycleDrop: *maxCycleDrop, report: *guardReport, quiet: *quiet, log: log, stderr: stderr}
	cfg.Guard = g.check
	ra = &runArgs{cfg: cfg, guards: g, quiet: *quiet, log: log, retry: retry, opts: shards.Options{
		Usage: usage, Changes: changes, Accounts: accounts, Discounts: discounts, Credits: credits,
		Enterprises: enterprises, Balances: balances, Timing: *timing, TZ: *tz, Profile: *profile,
		Currency: *currency, MaxRejectRatio: ratio, AcceptMissing: *acceptMissing, MaxCycleDrop: *maxCycleDrop}}
	return ra, exitOK, true
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ra, code, ok := parseRun("run", args, stdout, stderr, nil)
	if !ok {
		return code
	}
	cfg, log, quiet, out := ra.cfg, ra.log, &ra.quiet, &ra.cfg.Out
	ctx = withStoreRetry(ctx, ra.retry)
	if log != nil {
		r := storage.RetryOf(ctx)
		r.Log = func(line string) { log.Warn("store_retry", "message", line) }
		ctx = storage.WithRetry(ctx, r)
	}
	// --jobs N: the run's goroutines share N cores, the rest of the
	// machine is left alone.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cfg.Jobs))
	// Inputs and --out may be in a bucket: the inputs are fetched, the tree
	// is written here and then published there (storage).
	publishTo := ""
	if storage.IsURL(cfg.Out) || storage.IsPublished(cfg.Out) {
		if err := storage.CheckStoreFolder(cfg.Out); err != nil {
			fmt.Fprintf(stderr, "billcons run: %v\n", err)
			return exitFailed
		}
		tmp, err := os.MkdirTemp("", "billcons-run-")
		if err != nil {
			fmt.Fprintf(stderr, "billcons run: %v\n", err)
			return exitFailed
		}
		defer os.RemoveAll(tmp)
		publishTo, cfg.Out, cfg.ViewsDir = cfg.Out, filepath.Join(tmp, "out"), cfg.Out
	}
	var base *storage.Pointer // the store's latest version, which the run's guards compare with
	if publishTo != "" {
		var err error
		if base, cfg.GuardBase, err = storeBase(ctx, publishTo); err != nil {
			fmt.Fprintf(stderr, "billcons run: %s: %v; nothing published\n", publishTo, err)
			return exitFailed
		}
		if base != nil {
			cfg.GuardBaseVersion = base.Seq
		}
	}
	inTmp, err := localizeInputs(ctx, &cfg)
	if inTmp != "" {
		defer os.RemoveAll(inTmp)
	}
	if err != nil {
		fmt.Fprintf(stderr, "billcons run: %v\n", err)
		return exitFailed
	}
	switch {
	case log != nil:
		cfg.Waiting = func(holder string) {
			log.Info("waiting", "out", *out, "holder", holder)
		}
	case !*quiet:
		cfg.Waiting = func(holder string) {
			fmt.Fprintf(stderr, "billcons: waiting for the run holding %s (%s)\n", *out, holder)
		}
	}
	if n, err := strconv.Atoi(os.Getenv("BILLCONS_SPILL_BYTES")); err == nil && n > 0 {
		cfg.SpillBytes = n // for tests that exercise spilling on small data
	}
	started := time.Now()
	stopProgress := func() {}
	if f, ok := stderr.(*os.File); ok && log == nil && !*quiet && term.IsTerminal(int(f.Fd())) {
		cfg.Progress = &pipeline.Progress{}
		stopProgress = showProgress(f, cfg.Progress)
	}
	res, err := pipeline.Run(ctx, cfg)
	stopProgress()
	if err != nil {
		return runFailed(err, *out, log, started, stderr)
	}
	if publishTo != "" {
		ptr, err := shards.PublishRun(ctx, publishTo, cfg.Out, base)
		if err != nil {
			fmt.Fprintf(stderr, "billcons run: publishing to %s: %v; nothing published\n", publishTo, err)
			return exitFailed
		}
		*out, res.Version = publishTo, ptr.Seq
	}
	ra.report(res, *out, started, stderr)
	return exitOK
}

// runFailed says why a run failed, in one line per guard that tripped and
// one for the failure (or JSON events), and returns its exit status.
func runFailed(err error, out string, log *slog.Logger, started time.Time, stderr io.Writer) int {
	code := exitFailed
	switch {
	case errors.Is(err, pipeline.ErrUsage):
		code = exitUsage
		err = errors.New(strings.TrimPrefix(err.Error(), pipeline.ErrUsage.Error()+": "))
	case errors.Is(err, pipeline.ErrDataQuality):
		code = exitDataQuality
		var ge *guardError
		if errors.As(err, &ge) {
			// One line per guard that tripped, then what was kept.
			for _, l := range ge.lines {
				if log != nil {
					log.Error("guard", "message", l)
				} else {
					fmt.Fprintf(stderr, "billcons run: guard tripped: %s\n", l)
				}
			}
			err = fmt.Errorf("%d guard(s) tripped; nothing published", len(ge.lines))
		}
	case errors.Is(err, readers.ErrNeedCurrency):
		code = exitUsage // the export needs --currency: the command line is short of an option
	}
	err = signalled(err, "; "+out+" is unchanged")
	if log != nil {
		log.Error("failed", "error", err.Error(), "exit", code, "seconds", time.Since(started).Seconds())
	} else {
		fmt.Fprintf(stderr, "billcons run: %v\n", err)
	}
	return code
}

// report prints what a finished run did: its alerts, its warnings, the
// counts and where the rejected rows are, and what changed against the
// version before (one line each, or JSON events).
func (ra *runArgs) report(res *pipeline.Result, out string, started time.Time, stderr io.Writer) {
	log := ra.log
	// Alerts never fail a run: each is one event or line, for a scheduler to
	// page someone with (CONTRACT.md, alerts).
	for _, a := range res.Alerts {
		if log != nil {
			log.Warn("alert", "kind", a.Rule.Code, "billing_cycle", a.Cycle.String(), "payer_account_id", a.Payer,
				"currency", a.Currency, "amount_due", a.AmountDue.String(), "limit", a.Limit.String(), "members", a.Members)
		} else if !ra.quiet {
			fmt.Fprintf(stderr, "billcons run: alert: %s\n", alertText(&a))
		}
	}
	for _, w := range res.Warnings {
		if log != nil {
			log.Warn("warning", "warning", w)
		} else {
			fmt.Fprintf(stderr, "billcons run: warning: %s\n", w)
		}
	}
	if log != nil {
		ra.guards.summarize(res, stderr, log, ra.quiet)
		c := res.Manifest.Counts
		log.Info("done", "exit", exitOK, "seconds", time.Since(started).Seconds(), "out", out, "version", res.Version, "shared_bytes", res.Shared,
			"usage_read", c.UsageRead, "usage_billed", c.UsageBilled, "usage_rejected", c.UsageRejected,
			"changes_read", c.ChangesRead, "changes_accepted", c.ChangesAccepted, "bill_files", c.BillFiles)
		return
	}
	if !ra.quiet {
		c := res.Manifest.Counts
		fmt.Fprintf(stderr, "billcons: %s read: %d billed in %s, %d rejected; %d of %s accepted; wrote %s (version %d)\n",
			query.Plural(c.UsageRead, "usage row"), c.UsageBilled, query.Plural(c.BillFiles, "file"), c.UsageRejected,
			c.ChangesAccepted, query.Plural(c.ChangesRead, "change"), out, res.Version)
		// Where the rejected rows are, and how to read why.
		for _, x := range []struct {
			n          int64
			noun, file string
		}{{c.UsageRejected, "usage row", "usage"}, {c.ChangesRejected, "change", "changes"}} {
			if x.n > 0 {
				fmt.Fprintf(stderr, "billcons: %s rejected, each with its reason, in %s: billcons query %s \"SELECT source_file, source_row, reason FROM rejects_%s\"\n",
					query.Plural(x.n, x.noun), filepath.Join(out, writers.PathOf("rejects_"+x.file)), out, x.file)
			}
		}
	}
	ra.guards.summarize(res, stderr, log, ra.quiet)
}

// showProgress redraws one status line on the terminal every half second,
// once the run has taken two seconds, and returns the function that stops
// it and clears the line.
func showProgress(w io.Writer, p *pipeline.Progress) func() {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-done:
			return
		case <-time.After(2 * time.Second):
		}
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			s := p.Snapshot()
			if s.Step > 0 {
				line := fmt.Sprintf("billcons: [%d/%d] %s: %s", s.Step, pipeline.LineStages, s.Stage, count(s.Done))
				if s.Total > 0 {
					line += " of " + count(s.Total)
				}
				line += fmt.Sprintf(" lines, %s/s", count(int64(s.Rate)))
				if s.ETA >= 0 {
					line += fmt.Sprintf(", %s left", s.ETA.Round(time.Second))
				}
				fmt.Fprintf(w, "\r\033[K%s", line)
			}
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

// count prints n with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// waitFlag is --wait: alone it means for as long as it takes (-1), with a
// value (--wait=30m) at most that long.
// onceFlag is a flag that may be given once: a second value is an error,
// not a silent replacement of the first.
type onceFlag struct {
	v   string
	set bool
}

func (o *onceFlag) String() string { return o.v }
func (o *onceFlag) Set(s string) error {
	if o.set {
		return fmt.Errorf("given twice (%s, then %s): give it once", o.v, s)
	}
	o.v, o.set = s, true
	return nil
}

type waitFlag time.Duration

func (w *waitFlag) IsBoolFlag() bool { return true }
func (w *waitFlag) String() string {
	if *w < 0 {
		return "forever"
	}
	return time.Duration(*w).String()
}
func (w *waitFlag) Set(v string) error {
	switch v {
	case "true":
		*w = -1
		return nil
	case "false":
		*w = 0
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a duration like 30m")
	}
	*w = waitFlag(d)
	return nil
}

// signalled gives a cancelled command's error as its user reads it: in
// billcons a cancellation is always main's signal handler, so the error is
// "interrupted by a signal" and what after says of the outputs.
func signalled(err error, after string) error {
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted by a signal" + after)
	}
	return err
}

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billcons verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	inputsFlag := fs.Bool("inputs", false, "also check that the run's inputs are unchanged")
	ver := versionFlag(fs)
	given, code := dirOnly("verify", fs, args, stdout, stderr, commandHelp("verify"))
	if given == "" {
		return code
	}
	inputs := *inputsFlag
	dir, err := readableAt(context.Background(), given, *ver)
	if err != nil {
		fmt.Fprintf(stderr, "billcons verify: %v\n", err)
		return exitFailed
	}
	problems, err := verify.Tree(ctx, dir)
	err = signalled(err, "")
	if err != nil {
		fmt.Fprintf(stderr, "billcons verify: %v\n", err)
		return exitFailed
	}
	if inputs && len(problems) == 0 {
		m, err := writers.ReadManifest(dir)
		if err != nil {
			fmt.Fprintf(stderr, "billcons verify: %v\n", err)
			return exitFailed
		}
		tmp, err := os.MkdirTemp("", "billcons-verify-inputs-")
		if err != nil {
			fmt.Fprintf(stderr, "billcons verify: %v\n", err)
			return exitFailed
		}
		defer os.RemoveAll(tmp)
		n := 0
		stale, err := pipeline.CheckInputs(m, func(arg string) ([]string, map[string]string, error) {
			n++ // inputs given as URLs are fetched to be hashed again
			return shards.Localize(ctx, []string{arg}, filepath.Join(tmp, strconv.Itoa(n)))
		})
		if err != nil {
			fmt.Fprintf(stderr, "billcons verify: %s/%v\n", dir, err)
			return exitFailed
		}
		for _, p := range stale {
			problems = append(problems, "inputs: "+p)
		}
	}
	if *ver == 0 {
		problems = append(problems, storage.CheckLinks(given)...)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "billcons verify: %s: %s\n", given, p)
		}
		return exitFailed
	}
	what := given
	if inputs {
		fmt.Fprintf(stdout, "%s: ok, and its inputs are unchanged\n", what)
	} else {
		fmt.Fprintf(stdout, "%s: ok\n", what)
	}
	return exitOK
}

const verifyBody = `Re-checks a finished output tree from its files alone: every file is the one
manifest.json lists, byte for byte (SHA-256), nothing is missing or added;
rows read = billed + rejected; per currency the amount read = billed +
rejected to the last digit; each line_id appears once; the summary is the
sum of the bills.

--inputs also checks that the run's inputs are unchanged: it resolves the
run's input arguments again, relative paths from the folder the run was
started in (the manifest records it), so it works from any folder, and
names every file changed, moved or removed, or new since.

On a versioned tree it checks the latest version (or --version V) and that
DIR's top-level names lead to it.

Exit status 0 when all holds, 1 otherwise, with one line per problem.
`

const reportBody = `Prints per billing cycle, paying account and currency the members paid for,
the lines, the list amount, discounts, credits and the amount due, read
back from the summary of the latest version (or version V): an aligned
table (the default), CSV with a header, or one JSON object per line,
amounts as exact decimal strings.
`

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billcons report", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("format", "table", "table, csv or json (one object per line)")
	ver := versionFlag(fs)
	dir, code := dirOnly("report", fs, args, stdout, stderr, commandHelp("report"))
	if dir == "" {
		return code
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		fmt.Fprintf(stderr, "billcons report: --format %q: want table, csv or json\n", *format)
		return exitUsage
	}
	dir, err := readableAt(ctx, dir, *ver)
	if err != nil {
		fmt.Fprintf(stderr, "billcons report: %v\n", err)
		return exitFailed
	}
	// The summary holds every amount per statement row; the report adds
	// them up per cycle, payer and currency.
	type key struct{ cycle, payer, currency string }
	type agg struct {
		members                                 map[string]bool
		lines                                   int64
		list, discount, effective, credits, due billing.Sum
	}
	groups := map[key]*agg{}
	rows := 0
	err = parquetio.Read(filepath.Join(dir, "summary", "summary.parquet"), func(_ []string, v map[string]parquet.Value) error {
		if rows++; rows%4096 == 1 { // a summary of millions of rows takes a while: a signal stops it
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		str := func(c string) string { return string(v[c].ByteArray()) }
		sum := func(c string) billing.Sum {
			if x, ok := v[c]; ok {
				return billing.SumFromBytes16(x.ByteArray())
			}
			return billing.Sum{}
		}
		k := key{str("billing_cycle"), str("payer_account_id"), str("currency")}
		a := groups[k]
		if a == nil {
			a = &agg{members: map[string]bool{}}
			groups[k] = a
		}
		if m := str("account_id"); m != k.payer {
			a.members[m] = true
		}
		a.lines += v["line_count"].Int64()
		a.list.AddSum(sum("list_amount"))
		a.discount.AddSum(sum("discount_amount"))
		a.effective.AddSum(sum("effective_amount"))
		for _, c := range []string{"coupon_amount", "voucher_amount", "stored_value_amount"} {
			a.credits.AddSum(sum(c))
		}
		a.due.AddSum(sum("due_amount"))
		return nil
	})
	err = signalled(err, "")
	if err != nil {
		fmt.Fprintf(stderr, "billcons report: %v\n", err)
		return exitFailed
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.cycle != b.cycle {
			return a.cycle < b.cycle
		}
		if a.payer != b.payer {
			return a.payer < b.payer
		}
		return a.currency < b.currency
	})
	switch *format {
	case "csv", "json":
		header := []string{"billing_cycle", "payer_account_id", "members_paid_for", "lines", "currency", "list_amount", "discount_amount",
			"effective_amount", "credits_amount", "due_amount"}
		cw := csv.NewWriter(stdout)
		if *format == "csv" {
			cw.Write(header)
		}
		for _, k := range keys {
			a := groups[k]
			rec := []string{k.cycle, k.payer, strconv.Itoa(len(a.members)), strconv.FormatInt(a.lines, 10), k.currency,
				a.list.String(), a.discount.String(), a.effective.String(), a.credits.String(), a.due.String()}
			if *format == "csv" {
				cw.Write(rec)
				continue
			}
			obj := map[string]any{}
			for i, h := range header {
				obj[h] = rec[i]
			}
			obj["members_paid_for"], obj["lines"] = len(a.members), a.lines
			b, _ := json.Marshal(obj) // keys sorted: the same bytes every time
			fmt.Fprintf(stdout, "%s\n", b)
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			fmt.Fprintf(stderr, "billcons report: %v\n", err)
			return exitFailed
		}
	default:
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "billing_cycle\tpayer_account_id\tmembers paid for\tlines\tcurrency\tlist_amount\tdiscount\teffective\tcredits\tamount due\t")
		for _, k := range keys {
			a := groups[k]
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", k.cycle, k.payer, len(a.members), a.lines, k.currency,
				a.list, a.discount, a.effective, a.credits, a.due)
		}
		tw.Flush()
	}
	return exitOK
}

// alertText says an alert in one line.
func alertText(a *rules.Alert) string {
	what := "its spending_alert"
	if a.Rule == rules.LowCreditAlert {
		what = "its available credit"
	}
	return fmt.Sprintf("%s %s: %s owes %s %s in %s, above %s of %s; it pays for %d member(s)",
		a.Rule.Code, a.Payer, a.Payer, a.AmountDue, a.Currency, a.Cycle, what, a.Limit, a.Members)
}

// parseAll parses flags wherever they stand among the arguments, as users
// type them ("billcons query DIR SQL --format csv"), and returns the
// positional arguments in order. After "--" everything is positional. A
// flag is never silently ignored: an unknown one is an error.
func parseAll(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if stop := len(args) - len(rest); stop > 0 && args[stop-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// printFlags lists a command's options as its synopsis writes them,
// --name VALUE, rather than the flag package's -name: each with its text,
// indented, and its default when it has one. The help text before it ends
// with the "Options:" heading.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		if n, ok := flagValueNames[f.Name]; ok {
			name = n
		}
		line := "  --" + f.Name
		switch {
		case strings.HasPrefix(name, "["):
			line += name // --wait[=DURATION]
		case name != "":
			line += " " + name
		}
		fmt.Fprintln(w, line)
		for _, l := range strings.Split(usage, "\n") {
			fmt.Fprintln(w, "        "+l)
		}
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "[]" && d != "0s" {
			fmt.Fprintf(w, "        (default %s)\n", d)
		}
	})
}

// flagValueNames are the names of options' values in the synopses.
var flagValueNames = map[string]string{
	"usage": "PATH", "changes": "PATH", "accounts": "PATH", "discounts": "PATH", "credits": "PATH", "enterprises": "PATH",
	"balances": "PATH", "out": "DIR", "jobs": "N", "keep": "N", "tz": "ZONE", "currency": "CODE", "profile": strings.Join(readers.ProfileNames(), "|"),
	"timing": "end-time|next-period", "restate": "YYYY-MM", "max-reject-ratio": "R", "max-cycle-drop": "R", "guard-report": "FILE",
	"log-format": "text|json", "wait": "[=DURATION]", "shards": "N", "splits": "K", "index": "I",
	"lines": "N", "seed": "S", "format": "parquet|csv", "members": "M", "management": "K", "cycles": "C",
}
