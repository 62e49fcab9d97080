// Package pipeline runs a consolidation: it reads the inputs, judges the
// changes, decides the payer of every line and writes the output tree. It
// wires packages readers, rules and writers and owns batching, spilling and
// cancellation; it knows no file formats itself.
//
// Memory grows with the number of accounts and changes, not with the number
// of bill lines: lines are spilled to sorted runs on disk (package spill) in
// the staging folder and merged back, so each sort holds at most its share
// of Config.SpillBytes (twice, while a run is written). See lineSpills for
// the passes.
package pipeline

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/spill"
	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/writers"
	"golang.org/x/sync/errgroup"
)

// Config is what one run reads, where it writes, and how it decides.
type Config struct {
	Usage    []string // --usage arguments: files, folders or globs
	Changes  []string // --changes arguments
	Accounts []string // --accounts arguments; none means no enterprise checks
	Out      string   // --out DIR

	// Profile is how the usage files name their columns: readers.ProfileBillcons
	// ("" too) or readers.ProfileAlibaba; Currency is the currency of an
	// Alibaba export without a Currency column (--currency).
	Profile  string
	Currency string

	// The settlement inputs (CONTRACT.md, Settlement); each is optional.
	// Enterprises needs Accounts.
	Discounts   []string
	Credits     []string
	Enterprises []string
	Balances    []string

	Timing   rules.Timing
	Zone     *time.Location // the billing time zone cycles are cut in
	ZoneName string         // as given, for the manifest

	// MaxRejectRatio fails the run with ErrDataQuality when the share of
	// rejected usage rows is above it. Negative means no limit.
	MaxRejectRatio float64

	// Keep is how many versions of Out stay after the run publishes one;
	// zero means storage.DefaultKeep.
	Keep int

	// ViewsDir is the folder views.sql names by default (readers set their
	// own): Out's absolute path when empty. A run staged for a store names
	// the store, so that the file's bytes do not change with the staging
	// folder and unchanged nights share it.
	ViewsDir string

	// GuardBase, when set, is the folder of the version Guard compares
	// with, GuardBaseVersion its number: a store's latest published run,
	// when Out is only where the run is staged before it is uploaded.
	// Unset, it is Out's own latest version.
	GuardBase        string
	GuardBaseVersion int64

	// Guard, when set, judges the staged version before it is published:
	// an error keeps the latest version and fails the run (wrap
	// ErrDataQuality for exit 3). It receives the trips of the run's own
	// guards (the reject ratio), so that all are said together; without a
	// Guard those fail the run themselves.
	Guard func(ctx context.Context, g *GuardInput) error

	// Restate names closed cycles whose inputs are whole: an invoiced line
	// of one that the inputs lack is withdrawn rather than carried.
	Restate []billing.Cycle

	// Jobs is how many goroutines read usage files at once and how many
	// bills files are written at once; zero means 2. The outputs are the
	// same bytes whatever it is.
	Jobs int

	// SpillBytes is the memory budget of each line sort before it spills to
	// disk. Zero means DefaultSpillBytes.
	SpillBytes int

	// PartRows is the fewest rows in a part of a Parquet usage file when a
	// file of several row groups is cut into parts read at once. Zero
	// means PartRows.
	PartRows int64

	Version string // the program version, for the manifest

	// Wait is how long to wait for another run holding Out: zero fails at
	// once, negative waits for as long as it takes. Waiting, when set, is
	// told the holder once when the wait starts.
	Wait    time.Duration
	Waiting func(holder string)

	// Log, when set, receives one "stage" event per stage of the run, with
	// its duration in seconds and its counts.
	Log *slog.Logger

	// Progress, when set, is kept up to date for a display to poll.
	Progress *Progress

	// Shard and Commit, when set, make the run one step of a sharded run
	// (package shards): Usage is then not read.
	Shard  *ShardInput
	Commit *CommitInput

	// Names, when set, gives input files the names the rejects and the
	// manifest call them by: a file fetched from a bucket is named by its
	// URL, not by where it was copied to.
	Names map[string]string
	// Given, when set, are the input arguments as the user gave them (URLs
	// before they were fetched), recorded in the manifest's options in
	// place of the local files, so that verify --inputs finds them again.
	Given map[string][]string
}

// DefaultSpillBytes is the default in-memory budget of one line sort.
//
// It is small on purpose: every page of fresh memory costs a page fault,
// and a larger budget spends more time in the kernel and more memory than
// it saves in merging, and a sort over a buffer that fits the processor's
// caches is quicker (docs/performance.md gives the measurements). Package
// spill doubles it every 256 runs, so files stay few on large inputs.
const DefaultSpillBytes = 8 << 20

// ErrDataQuality is returned when a limit set by the operator (such as
// Config.MaxRejectRatio) was crossed. The previous output is kept.
var ErrDataQuality = errors.New("data-quality limit crossed")

// ErrUsage is returned for a command line the run refuses before reading
// anything, such as an input inside --out.
var ErrUsage = errors.New("usage error")

// GuardInput is what Config.Guard judges.
type GuardInput struct {
	Base        string // the latest version's folder; "" for a first run
	BaseVersion int64
	Staged      string            // the new version's folder, complete but for its manifest
	Manifest    *writers.Manifest // the new version's manifest; the guard may add to Accepted
	Trips       []string          // the run's own guards that tripped, one line each
	// Withdrawn are the invoiced lines of closed cycles the inputs hold
	// but reject now, by line_id.
	Withdrawn []string
}

// Result summarises a completed run.
type Result struct {
	Manifest *writers.Manifest
	// Alerts are the run's spending and low-credit alerts, as written to
	// alerts/alerts.parquet, for the caller to page someone with.
	Alerts []rules.Alert
	// Warnings are problems that did not fail the run, such as a previous
	// tree that could not be removed after the new one was put in place.
	Warnings []string
	// Version is the number the run published and Shared the bytes it
	// shares with the version before.
	Version, Shared int64
}

type run struct {
	cfg        Config
	mark       time.Time // when the current stage began
	ctx        context.Context
	tree       *storage.Tree
	spillDir   string
	inputs     []writers.Input
	rowsSet    []bool // by input: setRows has set its rows
	counts     writers.Counts
	totals     map[string]*currencyTotals
	extras     readers.ExtraColumns
	usageFiles []string
	stamps     map[string]stamp  // input path -> size and mtime when hashed
	cycles     []billing.Cycle   // the billing cycles of the bills, ascending
	warnings   []string          // what did not fail the run but its user should hear
	dups       dupSet            // the lines rejected as duplicates
	pending    int64             // lines whose payer waits for the holds
	discounts  *rules.Discounts  // whose discount each line gets
	purchases  rules.Purchases   // the accepted purchases the refund rule looks at
	renames    map[uint64]uint32 // alibaba profile: seq -> n, for a line_id repeated n-1 times before
	settle     *settlement       // the credits and alerts of pass D
	cycleSums  map[cycleCurrency]*cycleSum
	closed     *closedCycles    // the closed cycles of the base version, or nil
	prof       *readers.Profile // the usage files' input profile (cfg.Profile)
	// accountNames: the accepted accounts' account_name, where given.
	accountNames map[string]string
}

// lineSpills are the sorts the usage lines go through.
//
// Pass A (readUsage) parses every row. A bad row goes to rejects. A good
// line adds its id to ids and, when no hold can change its payer (nearly
// always), goes to bills at once with its payer; else to pending.
// Pass B (findDuplicates) replays ids in (line_id, read order): a repeated
// id is a duplicate, marked in run.dups, and the first lines that may hold
// a change back are observed. Pass C (assignPending) gives the pending lines
// their payers and adds them to bills. Pass D (writeBills) writes bills in
// partition order, leaving out the duplicates. Each line is spilled whole
// once (in bills or pending) and its id once.
type lineSpills struct {
	ids     *spill.Sorter // line_id, NUL, seq -> the line if it may hold a change back
	bills   *spill.Sorter // billKey -> encodeBill
	pending *spill.Sorter // seq -> encodeLine
	rejects *spill.Sorter // rejectKey -> encodeReject
	prepaid *spill.Sorter // seq -> encodePrepaid: lines a prepaid rule may reject
}

// stamp is what an input file looked like when it was hashed.
type stamp struct {
	size  int64
	mtime time.Time
}

// currencyTotals are the exact sums of one currency: the list amounts read,
// billed and rejected, and the settlement of the billed lines.
type currencyTotals struct {
	read, billed, rejected                 billing.Sum
	discount, coupon, voucher, storedValue billing.Sum
}

func (r *run) total(cur string) *currencyTotals {
	t := r.totals[cur]
	if t == nil {
		t = &currencyTotals{}
		r.totals[strings.Clone(cur)] = t // cur may point into a spill buffer
	}
	return t
}

// Run performs one consolidation run. On error nothing under cfg.Out changes.
// It only wires the stages together; each is a method of run.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	started := time.Now().UTC()
	if cfg.Zone == nil {
		cfg.Zone = time.FixedZone("+08:00", 8*3600)
		cfg.ZoneName = "+08:00"
	}
	if cfg.SpillBytes <= 0 {
		cfg.SpillBytes = DefaultSpillBytes
	}
	r := &run{cfg: cfg, ctx: ctx, totals: map[string]*currencyTotals{}, stamps: map[string]stamp{}, mark: time.Now(),
		prof: readers.LookupProfile(cfg.Profile)}
	if r.prof == nil {
		return nil, fmt.Errorf("%w: unknown profile %q", ErrUsage, cfg.Profile)
	}
	in, err := r.resolveInputs()
	if err != nil {
		return nil, err
	}
	tree, err := storage.BeginWait(ctx, cfg.Out, cfg.Wait, cfg.Waiting)
	if err != nil {
		return nil, err
	}
	tree.Keep = cfg.Keep
	r.tree = tree
	committed := false
	defer func() {
		if !committed {
			tree.Abort()
		}
	}()
	if err := r.prepareTree(); err != nil {
		return nil, err
	}
	if err := r.hashInputs(in); err != nil {
		return nil, err
	}
	sm, err := r.readSmallInputs(in)
	if err != nil {
		return nil, err
	}
	outputs, sp, err := r.readUsageLines(in, sm)
	if err != nil {
		return nil, err
	}
	settled, alerts, err := r.finishSettlement(sm)
	if err != nil {
		return nil, err
	}
	outputs = append(outputs, settled...)
	if outputs, err = r.writeInputOutputs(in, sm, sp, outputs); err != nil {
		return nil, err
	}
	m, err := r.buildManifest(started, outputs)
	if err != nil {
		return nil, err
	}
	if err := r.guard(m); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := tree.Commit(); err != nil {
		return nil, err
	}
	committed = true
	r.stage("commit", slog.String("out", cfg.Out), slog.Int64("version", m.TreeVersion), slog.Int64("shared_bytes", tree.Shared))
	return &Result{Manifest: m, Warnings: append(r.warnings, tree.Warnings...), Alerts: alerts, Version: m.TreeVersion, Shared: tree.Shared}, nil
}

// inputFiles are a run's input files, each argument expanded.
type inputFiles struct {
	usage, changes, accounts []string
	settle                   map[string][]string // by kind: discounts, enterprises, credits, balances
}

// resolveInputs expands every input argument, before the output is
// touched: inputs inside the output tree are refused, the arguments first
// (a folder inside DIR), then the files they name.
func (r *run) resolveInputs() (*inputFiles, error) {
	cfg := r.cfg
	given := map[string][]string{"--usage": cfg.Usage, "--changes": cfg.Changes, "--accounts": cfg.Accounts,
		"--discounts": cfg.Discounts, "--credits": cfg.Credits, "--enterprises": cfg.Enterprises, "--balances": cfg.Balances}
	if err := inputsOutside(cfg.Out, given); err != nil {
		return nil, err
	}
	// A shard or commit is given its usage files (zip members among
	// them, archive.zip:member.csv) already expanded.
	var usage []string
	var err error
	switch {
	case cfg.Shard != nil:
		usage = cfg.Shard.Files
	case cfg.Commit != nil:
		usage = cfg.Commit.Files
	default:
		if usage, err = expandAll(cfg.Usage); err != nil {
			return nil, err
		}
	}
	changes, err := expandAll(cfg.Changes)
	if err != nil {
		return nil, err
	}
	accounts, err := expandAll(cfg.Accounts)
	if err != nil {
		return nil, err
	}
	r.usageFiles = usage
	if len(cfg.Enterprises) > 0 && len(cfg.Accounts) == 0 {
		return nil, fmt.Errorf("--enterprises needs --accounts: an enterprise is found through its accounts")
	}
	settleFiles := map[string][]string{}
	for _, in := range []struct {
		kind string
		args []string
	}{{"discounts", cfg.Discounts}, {"enterprises", cfg.Enterprises}, {"credits", cfg.Credits}, {"balances", cfg.Balances}} {
		if settleFiles[in.kind], err = expandAll(in.args); err != nil {
			return nil, err
		}
	}

	expanded := map[string][]string{"--usage": usage, "--changes": changes, "--accounts": accounts,
		"--discounts": settleFiles["discounts"], "--credits": settleFiles["credits"],
		"--enterprises": settleFiles["enterprises"], "--balances": settleFiles["balances"]}
	if err := inputsOutside(cfg.Out, expanded); err != nil {
		return nil, err
	}
	if cfg.Shard == nil && cfg.Commit == nil {
		r.warnings = append(r.warnings, inputsTwice(expanded)...)
	}

	return &inputFiles{usage: usage, changes: changes, accounts: accounts, settle: settleFiles}, nil
}

// prepareTree makes the run's spill folder in the new version and loads
// the closed cycles of the version it starts from.
func (r *run) prepareTree() error {
	cfg, tree := r.cfg, r.tree
	var err error
	r.spillDir = filepath.Join(tree.Dir(), ".spill")
	if err := os.Mkdir(r.spillDir, 0o755); err != nil {
		return fmt.Errorf("creating spill folder: %w", err)
	}
	if tree.BaseVersion() > 0 && cfg.GuardBase == "" && cfg.Shard == nil && cfg.Commit == nil {
		if r.closed, err = r.loadClosed(tree.BaseDir()); err != nil {
			return err
		}
	} else if len(cfg.Restate) > 0 {
		return fmt.Errorf("%w: --restate %s: %s has no closed cycle", ErrUsage, cfg.Restate[0], cfg.Out)
	}

	return nil
}

// hashInputs describes every input file (size, mtime, SHA-256) for the
// manifest, and says when two usage files hold the same bytes.
func (r *run) hashInputs(in *inputFiles) error {
	cfg := r.cfg
	usage, changes, accounts, settleFiles := in.usage, in.changes, in.accounts, in.settle
	inputHashes := hashes{}
	var plainUsage []writers.Input // usage files, not zip members, hashed so far
	var plainFiles []string        // and where they are
	groups := []struct {
		kind  string
		files []string
	}{{"usage", usage}, {"changes", changes}, {"accounts", accounts},
		{"discounts", settleFiles["discounts"]}, {"enterprises", settleFiles["enterprises"]},
		{"credits", settleFiles["credits"]}, {"balances", settleFiles["balances"]}}
	var all []string
	for _, group := range groups {
		if group.kind != "usage" || cfg.Shard == nil && cfg.Commit == nil {
			all = append(all, group.files...)
		}
	}
	inputHashes.prehash(all, cmp.Or(cfg.Jobs, UsageReaders))
	for _, group := range groups {
		if group.kind == "usage" && (cfg.Shard != nil || cfg.Commit != nil) {
			// A sharded run's usage files were hashed by its split steps.
			if cfg.Commit != nil {
				r.inputs = append(r.inputs, cfg.Commit.Inputs...)
			}
			continue
		}
		for _, f := range group.files {
			in, st, err := inputHashes.describe(group.kind, f)
			if err != nil {
				return err
			}
			in.Path = r.name(f)
			r.stamps[f] = st
			if group.kind == "usage" && readers.ArchivePath(f) == f { // a zip member's hash is its archive's
				for i, prev := range plainUsage {
					if prev.SHA256 == in.SHA256 && prev.Bytes == in.Bytes && in.Bytes > 0 && !sameFile(plainFiles[i], f) {
						r.warnings = append(r.warnings, fmt.Sprintf("usage files %s and %s have the same bytes (sha256 %.12s…): every line of the second is a duplicate of one of the first, and is rejected", prev.Path, in.Path, in.SHA256))
					}
				}
				plainUsage, plainFiles = append(plainUsage, in), append(plainFiles, f)
			}
			r.inputs = append(r.inputs, in)
		}
	}

	var inBytes int64
	for _, in := range r.inputs {
		inBytes += in.Bytes
	}
	r.stage("hash_inputs", slog.Int("files", len(r.inputs)), slog.Int64("bytes", inBytes))
	storage.Checkpoint("hashed")

	return nil
}

// smallInputs are what a run reads whole before the usage lines: the
// accounts, the changes and their plan, and the settlement inputs.
type smallInputs struct {
	acctMap         rules.Accounts
	acctRejects     []writers.Reject
	acceptedChanges []billing.Change
	changeRejects   []writers.Reject
	plan            *rules.Plan
	settleIn        *settlementInputs
	applied         *writers.Applied
	credits         *rules.Credits
}

// readSmallInputs reads the accounts, the changes (into the payer plan)
// and the settlement inputs.
func (r *run) readSmallInputs(in *inputFiles) (*smallInputs, error) {
	cfg, tree := r.cfg, r.tree
	accounts, changes, settleFiles := in.accounts, in.changes, in.settle
	var err error
	var acctMap rules.Accounts
	var acctRejects []writers.Reject
	if len(accounts) > 0 {
		acctMap, acctRejects, err = r.readAccounts(accounts)
		if err != nil {
			return nil, err
		}
		r.stage("read_accounts", slog.Int64("rows", r.counts.AccountsRead), slog.Int64("accepted", r.counts.AccountsAccepted), slog.Int64("rejected", r.counts.AccountsRejected))
	}
	acceptedChanges, changeRejects, err := r.readChanges(changes, acctMap)
	if err != nil {
		return nil, err
	}
	plan := rules.NewPlan(acceptedChanges, cfg.Zone, cfg.Timing)
	r.stage("read_changes", slog.Int64("rows", r.counts.ChangesRead), slog.Int64("accepted", r.counts.ChangesAccepted), slog.Int64("rejected", r.counts.ChangesRejected))
	settleIn, err := r.readSettlement(settleFiles["discounts"], settleFiles["enterprises"], settleFiles["credits"], settleFiles["balances"])
	if err != nil {
		return nil, err
	}
	r.discounts = rules.NewDiscounts(acctMap, settleIn.enterprises, settleIn.discounts)
	applied, err := writers.NewApplied(tree.Dir())
	if err != nil {
		return nil, err
	}
	credits := rules.NewCredits(settleIn.credits, cfg.Zone)
	r.settle = newSettlement(credits, applied, settleIn.balances)
	c := r.counts
	r.stage("read_settlement", slog.Int64("discounts", c.DiscountsAccepted), slog.Int64("enterprises", c.EnterprisesAccepted),
		slog.Int64("credits", c.CreditsAccepted), slog.Int64("balances", c.BalancesAccepted),
		slog.Int64("rejected", c.DiscountsRejected+c.EnterprisesRejected+c.CreditsRejected+c.BalancesRejected))

	return &smallInputs{acctMap: acctMap, acctRejects: acctRejects, acceptedChanges: acceptedChanges, changeRejects: changeRejects,
		plan: plan, settleIn: settleIn, applied: applied, credits: credits}, nil
}

// readUsageLines runs passes A to D over the usage lines, or, committing a
// sharded run, merges the shards' bills.
func (r *run) readUsageLines(in *inputFiles, sm *smallInputs) ([]writers.Output, *lineSpills, error) {
	cfg, usage, plan := r.cfg, in.usage, sm.plan
	var err error
	sp := &lineSpills{
		ids:     spill.New(r.spillDir, "by-line-id", cfg.SpillBytes/2),
		bills:   spill.New(r.spillDir, "by-partition", cfg.SpillBytes),
		pending: spill.New(r.spillDir, "pending", cfg.SpillBytes/4),
		rejects: spill.New(r.spillDir, "usage-rejects", cfg.SpillBytes/4),
		prepaid: spill.New(r.spillDir, "prepaid", cfg.SpillBytes/8),
	}
	var outputs []writers.Output
	if cfg.Commit != nil {
		r.extras = readers.ExtraColumnsOf(cfg.Commit.Extras)
		if outputs, err = r.commitUsage(cfg.Commit); err != nil {
			return nil, nil, err
		}
		r.stage("settle_shards", slog.Int64("summary_rows", r.counts.SummaryRows))
	} else if outputs, err = r.usagePasses(usage, plan, sp); err != nil {
		return nil, nil, err
	}

	return outputs, sp, nil
}

// finishSettlement writes what is left of the settlement once pass D has
// settled the statement rows: the credits applied and their balances, and
// the alerts.
func (r *run) finishSettlement(sm *smallInputs) ([]writers.Output, []rules.Alert, error) {
	tree, applied, credits, settleIn, plan := r.tree, sm.applied, sm.credits, sm.settleIn, sm.plan
	var outputs []writers.Output
	appliedOut, err := applied.Close()
	if err != nil {
		return nil, nil, err
	}
	r.counts.CreditsApplied = r.settle.n
	balOut, err := writers.WriteCreditBalances(tree.Dir(), credits.Balances())
	if err != nil {
		return nil, nil, err
	}
	alertCycles := r.cycles
	var alerts []rules.Alert
	if r.closed != nil {
		// The closed cycles' alerts stay as they were.
		if alerts, err = r.closed.keepAlerts(); err != nil {
			return nil, nil, err
		}
		alertCycles = slices.DeleteFunc(slices.Clone(alertCycles), func(c billing.Cycle) bool { return c <= r.closed.last })
	}
	alerts = append(alerts, rules.Alerts(settleIn.balances, alertCycles, r.settle, plan.InTrusteeshipAtEnd)...)
	r.counts.Alerts = int64(len(alerts))
	alertOut, err := writers.WriteAlerts(tree.Dir(), alerts)
	if err != nil {
		return nil, nil, err
	}
	outputs = append(outputs, appliedOut, balOut, alertOut)
	r.stage("settle", slog.Int64("credits_applied", r.counts.CreditsApplied), slog.Int64("alerts", r.counts.Alerts))

	return outputs, alerts, nil
}

// writeInputOutputs writes the rejects of every input, the accepted
// changes and settlement inputs, and views.sql over all the outputs.
func (r *run) writeInputOutputs(in *inputFiles, sm *smallInputs, sp *lineSpills, outputs []writers.Output) ([]writers.Output, error) {
	cfg, tree, accounts := r.cfg, r.tree, in.accounts
	changeRejects, acctRejects, acceptedChanges, settleIn, acctMap := sm.changeRejects, sm.acctRejects, sm.acceptedChanges, sm.settleIn, sm.acctMap
	var err error
	var rejOut writers.Output
	if cfg.Commit != nil {
		rejOut, err = r.commitRejects(cfg.Commit)
	} else {
		rejOut, err = r.writeUsageRejects(sp.rejects)
	}
	if err != nil {
		return nil, err
	}
	sp.rejects.Remove()
	outputs = append(outputs, rejOut)
	chOut, err := writeRejectList(tree.Dir(), "changes", changeRejects)
	if err != nil {
		return nil, err
	}
	outputs = append(outputs, chOut)
	if len(accounts) > 0 {
		acOut, err := writeRejectList(tree.Dir(), "accounts", acctRejects)
		if err != nil {
			return nil, err
		}
		outputs = append(outputs, acOut)
	}
	accOut, err := writers.WriteAcceptedChanges(tree.Dir(), acceptedChanges, cfg.Zone)
	if err != nil {
		return nil, err
	}
	outputs = append(outputs, accOut)
	setOuts, err := writers.WriteAcceptedSettlement(tree.Dir(), settleIn.discounts, settleIn.enterprises, acctMap, r.accountNames)
	if err != nil {
		return nil, err
	}
	outputs = append(outputs, setOuts...)
	for _, kind := range []string{"discounts", "enterprises", "credits", "balances"} {
		if rs, ok := settleIn.rejects[kind]; ok {
			o, err := writeRejectList(tree.Dir(), kind, rs)
			if err != nil {
				return nil, err
			}
			outputs = append(outputs, o)
		}
	}
	absOut, err := filepath.Abs(cfg.Out)
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", cfg.Out, err)
	}
	if cfg.ViewsDir != "" {
		absOut = cfg.ViewsDir
	}
	var billFiles []string
	hasIndex := false
	for _, o := range outputs {
		switch {
		case strings.HasPrefix(o.Path, "bills/"):
			billFiles = append(billFiles, o.Path)
		case o.Path == writers.IndexPath:
			hasIndex = true
		}
	}
	viewsOut, err := writers.WriteViews(tree.Dir(), writers.Views{Dir: absOut, Zone: cfg.Zone, ZoneName: cfg.ZoneName,
		Cycles: r.cycles, BillFiles: billFiles, HasIndex: hasIndex, HasAccounts: len(accounts) > 0, Extras: r.extras.Names(),
		SettlementRejects: slices.Sorted(maps.Keys(settleIn.rejects))})
	if err != nil {
		return nil, err
	}
	outputs = append(outputs, viewsOut)
	if err := os.RemoveAll(r.spillDir); err != nil {
		return nil, fmt.Errorf("removing spill folder: %w", err)
	}
	r.stage("write_rejects", slog.Int64("usage", r.counts.UsageRejected), slog.Int64("changes", r.counts.ChangesRejected), slog.Int64("accounts", r.counts.AccountsRejected))

	return outputs, nil
}

// buildManifest describes the new version: its inputs, outputs, counts and
// totals, checked against each other.
func (r *run) buildManifest(started time.Time, outputs []writers.Output) (*writers.Manifest, error) {
	cfg, tree := r.cfg, r.tree
	if r.closed != nil {
		r.counts.LinesCarried = r.closed.carried
		for cur := range r.closed.carriedBy {
			r.total(cur) // a currency only carried still has its totals
		}
	}
	if r.counts.UsageRead != r.counts.UsageBilled+r.counts.UsageRejected {
		return nil, fmt.Errorf("internal error: %d usage rows read but %d billed and %d rejected", r.counts.UsageRead, r.counts.UsageBilled, r.counts.UsageRejected)
	}
	m := &writers.Manifest{
		Format:        storage.TreeFormat,
		FormatVersion: storage.TreeFormatVersion,
		TreeVersion:   tree.Next(),
		BaseVersion:   tree.BaseVersion(),
		Command:       "run",
		Cycles:        r.allCycleTotals(),
		Program:       "billcons",
		Version:       cfg.Version,
		StartedAt:     started.Format(time.RFC3339Nano),
		Options: map[string]any{
			"usage": cfg.Usage, "changes": cfg.Changes, "accounts": cfg.Accounts, "out": cfg.Out,
			"timing": cfg.Timing.String(), "tz": cfg.ZoneName, "max_reject_ratio": cfg.MaxRejectRatio,
			"discounts": cfg.Discounts, "credits": cfg.Credits, "enterprises": cfg.Enterprises, "balances": cfg.Balances,
			"profile": cfg.Profile, "currency": cfg.Currency, "keep": cfg.Keep,
		},
		Inputs:  r.inputs,
		Outputs: outputs,
		Counts:  r.counts,
		Totals:  map[string]writers.Totals{},
	}
	for k, v := range cfg.Given {
		m.Options[k] = v
	}
	m.Closed, m.Net = r.closedRecords()
	// Input paths are recorded as given: where they were given from, so that
	// verify --inputs finds them from anywhere.
	if wd, err := os.Getwd(); err == nil {
		m.Options["workdir"] = wd
	}
	for cur, t := range r.totals {
		var sum billing.Sum
		sum.AddSum(t.billed)
		sum.AddSum(t.rejected)
		if sum != t.read {
			return nil, fmt.Errorf("internal error: %s read %s but billed %s and rejected %s", cur, t.read, t.billed, t.rejected)
		}
		eff := t.billed
		var carried billing.Sum
		if r.closed != nil && r.closed.carriedBy[cur] != nil {
			carried = *r.closed.carriedBy[cur]
			eff.AddSum(carried)
		}
		eff.SubSum(t.discount)
		due := eff
		due.SubSum(t.coupon)
		due.SubSum(t.voucher)
		due.SubSum(t.storedValue)
		m.Totals[cur] = writers.Totals{Read: t.read.String(), Billed: t.billed.String(), Rejected: t.rejected.String(),
			Discount: t.discount.String(), Effective: eff.String(), Coupon: t.coupon.String(), Voucher: t.voucher.String(),
			StoredValue: t.storedValue.String(), Due: due.String()}
		if carried != (billing.Sum{}) {
			tt := m.Totals[cur]
			tt.Carried = carried.String()
			m.Totals[cur] = tt
		}
	}
	return m, nil
}

// guard holds the new version to the data-quality limits: the reject
// ratio here, the guards against the latest version through cfg.Guard.
// The manifest is written either way it passes.
func (r *run) guard(m *writers.Manifest) error {
	cfg, tree, ctx := r.cfg, r.tree, r.ctx
	var trips []string
	if cfg.MaxRejectRatio >= 0 && r.counts.UsageRead > 0 {
		ratio := float64(r.counts.UsageRejected) / float64(r.counts.UsageRead)
		if ratio > cfg.MaxRejectRatio {
			trips = append(trips, fmt.Sprintf("reject_ratio: data-quality limit crossed: %d of %d usage rows rejected (%.4g), above --max-reject-ratio %g (rejects/usage.parquet says why; --max-reject-ratio 1 turns the guard off)",
				r.counts.UsageRejected, r.counts.UsageRead, ratio, cfg.MaxRejectRatio))
		}
	}
	if len(trips) > 0 && len(r.warnings) > 0 {
		trips[0] += "; " + strings.Join(r.warnings, "; ")
	}
	if cfg.Guard == nil && len(trips) > 0 {
		return fmt.Errorf("%w: %s; previous output kept", ErrDataQuality, trips[0])
	}
	m.EndedAt = time.Now().UTC().Format(time.RFC3339Nano)
	if err := writers.WriteManifest(tree.Dir(), m); err != nil {
		return err
	}
	if cfg.Guard != nil {
		g := &GuardInput{Base: tree.BaseDir(), BaseVersion: tree.BaseVersion(), Staged: tree.Dir(), Manifest: m, Trips: trips}
		if r.closed != nil {
			g.Withdrawn = r.closed.withdrawnRejected
		}
		if cfg.GuardBase != "" {
			g.Base, g.BaseVersion = cfg.GuardBase, cfg.GuardBaseVersion
		}
		if err := cfg.Guard(ctx, g); err != nil {
			return err
		}
		if len(m.Accepted) > 0 { // the guards passed on purpose, on record
			if err := writers.WriteManifest(tree.Dir(), m); err != nil {
				return err
			}
		}
		r.stage("guards", slog.Int64("base_version", tree.BaseVersion()))
	}
	return nil
}

// usagePasses are passes A to D over the usage lines.
func (r *run) usagePasses(usage []string, plan *rules.Plan, sp *lineSpills) ([]writers.Output, error) {
	cfg := r.cfg
	cfg.Progress.begin("reading usage", 1, 0)
	if err := r.readUsage(usage, plan, sp); err != nil {
		return nil, err
	}
	r.stage("read_usage", slog.Int("files", len(usage)), slog.Int64("rows", r.counts.UsageRead), slog.Int64("rejected", r.counts.UsageRejected))
	accepted := r.counts.UsageRead - r.counts.UsageRejected
	if r.closed != nil {
		// What the closed cycles invoiced of the lines read: their
		// payment status for pass B, their net states for pass D.
		r.closed.extras = r.extras.Names() // known once the usage is read
		inv, err := r.invoiced()
		if err != nil {
			return nil, err
		}
		r.closed.inv = inv
	}
	cfg.Progress.begin("finding duplicates and holds", 2, accepted)
	if err := r.findDuplicates(sp, plan); err != nil {
		return nil, err
	}
	sp.ids.Remove()
	if r.closed != nil && r.closed.invIDs != nil {
		r.closed.invIDs.Remove()
	}
	r.stage("find_duplicates", slog.Int64("duplicates", r.dups.n))
	cfg.Progress.begin("assigning payers", 3, r.pending)
	if err := r.assignPending(sp, plan); err != nil {
		return nil, err
	}
	if err := r.judgePrepaid(sp, plan); err != nil {
		return nil, err
	}
	sp.pending.Remove()
	sp.prepaid.Remove()
	r.stage("assign_payers", slog.Int64("lines", accepted), slog.Int64("decided_while_reading", accepted-r.pending), slog.Int64("decided_after_holds", r.pending))
	cfg.Progress.begin("writing bills", 4, accepted)
	outputs, err := r.writeBills(sp.bills)
	if err != nil {
		return nil, err
	}
	sp.bills.Remove()
	r.stage("write_bills", slog.Int64("files", r.counts.BillFiles), slog.Int64("rows", r.counts.UsageBilled), slog.Int64("summary_rows", r.counts.SummaryRows))

	return outputs, nil
}

// stage logs the end of one stage of the run, with the time since the
// previous one.
func (r *run) stage(name string, attrs ...slog.Attr) {
	now := time.Now()
	if r.cfg.Log != nil {
		attrs = append([]slog.Attr{slog.String("stage", name), slog.Float64("seconds", now.Sub(r.mark).Seconds())}, attrs...)
		r.cfg.Log.LogAttrs(r.ctx, slog.LevelInfo, "stage", attrs...)
	}
	r.mark = now
}

func expandAll(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		fs, err := readers.Expand(a)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	return files, nil
}

// hashes hashes input files for the manifest, each file once: the members of
// a zip archive share their archive's hash.
type hashes map[string]hashed

type hashed struct {
	bytes int64
	sha   string
	st    stamp
}

// prehash hashes the files of paths (each archive once) on up to jobs
// goroutines: a run's first stage, before any core has other work. A file
// it cannot read is left to describe, which says why in the inputs' order.
func (hs hashes) prehash(paths []string, jobs int) {
	var files []string
	seen := map[string]bool{}
	for _, p := range paths {
		if f := readers.ArchivePath(p); !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
	}
	done := make([]*hashed, len(files))
	var g errgroup.Group
	g.SetLimit(jobs)
	for i, f := range files {
		g.Go(func() error {
			if h, err := hashFile(f); err == nil {
				done[i] = &h
			}
			return nil
		})
	}
	g.Wait()
	for i, h := range done {
		if h != nil {
			hs[files[i]] = *h
		}
	}
}

// hashFile reads file whole for its size, SHA-256 and stamp.
func hashFile(file string) (hashed, error) {
	f, err := os.Open(file)
	if err != nil {
		return hashed{}, unwrapPath(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return hashed{}, unwrapPath(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return hashed{}, fmt.Errorf("reading: %w", unwrapPath(err))
	}
	return hashed{n, hex.EncodeToString(h.Sum(nil)), stamp{size: st.Size(), mtime: st.ModTime()}}, nil
}

// describe hashes one input file for the manifest, unless prehash did.
func (hs hashes) describe(kind, path string) (writers.Input, stamp, error) {
	file := readers.ArchivePath(path) // a zip member: its archive
	h, ok := hs[file]
	if !ok {
		var err error
		if h, err = hashFile(file); err != nil {
			return writers.Input{}, stamp{}, fmt.Errorf("%s: %w", path, err)
		}
		hs[file] = h
	}
	return writers.Input{Kind: kind, Path: path, Bytes: h.bytes, SHA256: h.sha}, h.st, nil
}

// unchanged checks, after an input was parsed, that it is still the file
// that was hashed: an input rewritten or removed during the run would make
// the manifest's checksum describe other data than the bills.
func (r *run) unchanged(path string) error {
	want := r.stamps[path]
	st, err := os.Stat(readers.ArchivePath(path))
	if err != nil {
		return fmt.Errorf("%s: removed during the run (%v); the output would not match its inputs, rerun when they are complete", path, unwrapPath(err))
	}
	if st.Size() != want.size || !st.ModTime().Equal(want.mtime) {
		return fmt.Errorf("%s: changed during the run (%d bytes, modified %s; was %d bytes, modified %s); rerun when the inputs are complete",
			path, st.Size(), st.ModTime().UTC().Format(time.RFC3339Nano), want.size, want.mtime.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// name is what the rejects and the manifest call input file path.
func (r *run) name(path string) string {
	if n, ok := r.cfg.Names[path]; ok {
		return n
	}
	return path
}

// openInput opens a small input file under its name.
func (r *run) openInput(path string) (readers.Table, error) {
	t, err := readers.Open(path)
	if err != nil {
		if n := r.name(path); n != path {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		return nil, err
	}
	return readers.Renamed(t, r.name(path)), nil
}

// setRows records how many rows an input file held: the first entry of
// its path and kind not yet set, so that a file given twice (read twice)
// has both entries set to its own rows.
func (r *run) setRows(path string, kind string, rows int64) {
	path = r.name(path)
	if r.rowsSet == nil {
		r.rowsSet = make([]bool, len(r.inputs))
	}
	for i := range r.inputs {
		if r.inputs[i].Path == path && r.inputs[i].Kind == kind && !r.rowsSet[i] {
			r.inputs[i].Rows, r.rowsSet[i] = rows, true
			return
		}
	}
}

// sameFile reports whether two paths name one file (a file named twice is
// said so by inputsTwice, not as two files of the same bytes).
func sameFile(a, b string) bool {
	x, err1 := os.Stat(a)
	y, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(x, y)
}
