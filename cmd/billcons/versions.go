package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/pipeline"
	"github.com/billcons/billcons/query"
	"github.com/billcons/billcons/shards"
	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/writers"
)

// exitDiffers is diff --exit-code's status when the versions differ.
const exitDiffers = 4

// versionFlag adds --version V to a reading command.
func versionFlag(fs *flag.FlagSet) *int64 {
	return fs.Int64("version", 0, "read version V of the tree instead of the latest (billcons versions DIR lists them)")
}

// readableAt is readable for version v of the tree (0: the latest): the
// folder that holds that version whole.
// A store's versions are its published runs, fetched into the cache.
func readableAt(ctx context.Context, dir string, v int64) (string, error) {
	if isStore(dir) {
		return storage.MaterializeAt(ctx, dir, cacheDir(), v)
	}
	// A folder that is not a tree is said to be so, not as a missing file
	// somewhere inside it.
	switch st, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%s: no such folder", dir)
	case err != nil:
		return "", err
	case !st.IsDir():
		return "", fmt.Errorf("%s is a file, not a billcons output tree (a folder)", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("%s: not a billcons output tree (no manifest.json: not written by billcons run, or its first run has not finished)", dir)
	}
	return storage.Resolve(dir, v)
}

// isStore reports whether dir names a store (a URL, or a local folder of
// published runs) rather than a tree.
func isStore(dir string) bool { return storage.IsURL(dir) || storage.IsPublished(dir) }

// versionsOf lists the kept versions of the tree or store at dir, oldest
// first (a store's: every published run, by its sequence number).
func versionsOf(ctx context.Context, dir string) ([]writers.Version, error) {
	if !isStore(dir) {
		return writers.Versions(dir)
	}
	s, err := storage.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	ps, err := storage.Pointers(ctx, s)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("%s: no published run (nothing committed yet)", dir)
	}
	vs := make([]writers.Version, 0, len(ps))
	for i, p := range ps {
		m, _, err := storage.ManifestOf[writers.Manifest](ctx, s, &p)
		if err != nil {
			return nil, err
		}
		if m.EndedAt == "" || m.TreeVersion == 0 { // a run published before versions
			m.EndedAt = p.PublishedAt
		}
		vs = append(vs, writers.Version{KeptVersion: storage.KeptVersion{Number: p.Seq, Latest: i == len(ps)-1}, Manifest: m})
	}
	return vs, nil
}

// outsideTrees refuses a path to write (an export, a guard report) inside
// a billcons tree: the tree is what billcons publishes, and a file written
// into it would replace or sit beside the published files.
func outsideTrees(opt, p string) error {
	if tree := storage.TreeAround(p); tree != "" {
		return fmt.Errorf("%s %s is inside the billcons tree %s; write it outside the tree", opt, p, tree)
	}
	return nil
}

const versionsBody = `Lists the kept versions of the tree DIR, oldest first: the number, when it
was published, by which command (run, rollback), the SHA-256 of its inputs
(one hash over every input file's checksum), and per billing cycle and
currency the lines and the amount due. The latest is marked *.
`

func cmdVersions(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billcons versions", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("format", "table", "table, csv or json (one object per version)")
	dir, code := dirOnly("versions", fs, args, stdout, stderr, commandHelp("versions"))
	if dir == "" {
		return code
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		fmt.Fprintf(stderr, "billcons versions: --format %q: want table, csv or json\n", *format)
		return exitUsage
	}
	vs, err := versionsOf(ctx, dir)
	if err != nil {
		fmt.Fprintf(stderr, "billcons versions: %v\n", err)
		return exitFailed
	}
	type row struct {
		Version   int64                 `json:"version"`
		Latest    bool                  `json:"latest"`
		Published string                `json:"published_at"`
		Command   string                `json:"command"`
		Inputs    string                `json:"inputs_sha256"`
		Cycles    []writers.CycleTotals `json:"cycles"`
	}
	var rows []row
	for _, v := range vs {
		m := v.Manifest
		cmd := m.Command
		if cmd == "" {
			cmd = "run"
		}
		if m.RolledBackTo > 0 {
			cmd += " to " + strconv.FormatInt(m.RolledBackTo, 10)
		}
		rows = append(rows, row{v.Number, v.Latest, m.EndedAt, cmd, inputsHash(m), m.Cycles})
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		for _, r := range rows {
			enc.Encode(r)
		}
	case "csv":
		fmt.Fprintln(stdout, "version,latest,published_at,command,inputs_sha256,billing_cycle,currency,lines,due_amount")
		for _, r := range rows {
			for _, c := range r.Cycles {
				fmt.Fprintf(stdout, "%d,%v,%s,%s,%s,%s,%s,%d,%s\n", r.Version, r.Latest, r.Published, r.Command, r.Inputs, c.Cycle, c.Currency, c.Lines, c.Due)
			}
		}
	default:
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "version\tpublished_at\tcommand\tinputs sha256\tcycles: lines, amount due")
		for _, r := range rows {
			mark := " "
			if r.Latest {
				mark = "*"
			}
			var cs []string
			for _, c := range r.Cycles {
				cs = append(cs, fmt.Sprintf("%s %d lines %s %s", c.Cycle, c.Lines, c.Due, c.Currency))
			}
			fmt.Fprintf(tw, "%d%s\t%s\t%s\t%.16s\t%s\n", r.Version, mark, r.Published, r.Command, r.Inputs, strings.Join(cs, "; "))
		}
		tw.Flush()
	}
	return exitOK
}

// inputsHash is one SHA-256 over a manifest's inputs (kind, path and
// checksum each), so that two versions read the same inputs exactly when
// their hashes are equal.
func inputsHash(m *writers.Manifest) string {
	h := sha256.New()
	for _, in := range m.Inputs {
		fmt.Fprintf(h, "%s\t%s\t%s\n", in.Kind, in.Path, in.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))
}

const rollbackBody = `Publishes the content of version V of the tree DIR as a new version (its
files shared with V by hard links): DIR then reads as V did, and the
versions in between stay listed and readable until --keep removes them.
A version published before the latest close (billcons close) is refused:
it would reopen a closed cycle.
Exit status 0 when published, 1 when V is not kept, was published before
the latest close, or another command holds DIR, 2 for a usage error.
`

func cmdRollback(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billcons rollback", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	keep := fs.Int("keep", storage.DefaultKeep, "versions to keep, the new one included")
	var wait waitFlag
	fs.Var(&wait, "wait", "when another command holds DIR, wait for it")
	dir, rest, code := dirFirst("rollback", fs, args, stdout, stderr, commandHelp("rollback"))
	if dir == "" {
		return code
	}
	if len(rest) != 1 {
		fmt.Fprintln(stderr, "billcons rollback: want billcons rollback DIR V; billcons versions DIR lists the versions")
		return exitUsage
	}
	v, err := strconv.ParseInt(rest[0], 10, 64)
	if err != nil || v <= 0 {
		fmt.Fprintf(stderr, "billcons rollback: %q is not a version number; billcons versions DIR lists them\n", rest[0])
		return exitUsage
	}
	if *keep < 1 {
		fmt.Fprintf(stderr, "billcons rollback: --keep %d: keep at least 1 version\n", *keep)
		return exitUsage
	}
	var m *writers.Manifest
	if isStore(dir) {
		m, err = shards.Rollback(ctx, dir, v)
	} else {
		var t *storage.Tree
		if m, t, err = writers.Rollback(ctx, dir, v, *keep, time.Duration(wait)); err == nil {
			for _, w := range t.Warnings {
				fmt.Fprintf(stderr, "billcons rollback: warning: %s\n", w)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "billcons rollback: %v\n", signalled(err, "; "+dir+" is unchanged"))
		return exitFailed
	}
	fmt.Fprintf(stderr, "billcons: published version %d of %s with the content of version %d (was %d)\n", m.TreeVersion, dir, v, m.BaseVersion)
	return exitOK
}

const diffBody = `Compares two versions of the tree DIR line by line (by line_id): by default
the latest against the one before. Prints per billing_cycle,
payer_account_id and currency the lines added, removed, moved in and out
(to another payer or cycle) and changed in amount, and the deltas of the
list, discount, effective and due amounts (new minus old). --lines prints
every line that differs instead, with its old and new payer and amounts.

With --exit-code the status is 4 when the versions differ, 0 when not.
`

func cmdDiff(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billcons diff", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.Int64("from", 0, "the older version (default: the one before --to)")
	to := fs.Int64("to", 0, "the newer version (default: the latest)")
	lines := fs.Bool("lines", false, "every differing line instead of the totals")
	format := fs.String("format", "table", "table, csv or json")
	exitCode := fs.Bool("exit-code", false, "exit 4 when the versions differ")
	dir, code := dirOnly("diff", fs, args, stdout, stderr, commandHelp("diff"))
	if dir == "" {
		return code
	}
	if *format != query.Table && *format != query.CSV && *format != query.JSON {
		fmt.Fprintf(stderr, "billcons diff: --format %q: want table, csv or json\n", *format)
		return exitUsage
	}
	vs, err := versionsOf(ctx, dir)
	if err != nil {
		fmt.Fprintf(stderr, "billcons diff: %v\n", err)
		return exitFailed
	}
	toV := *to
	if toV == 0 {
		toV = vs[len(vs)-1].Number
	}
	fromV := *from
	if fromV == 0 {
		fromV = toV - 1
	}
	toDir, err := readableAt(ctx, dir, toV)
	if err != nil {
		fmt.Fprintf(stderr, "billcons diff: --to: %v\n", err)
		return exitFailed
	}
	fromDir := ""
	if fromV > 0 {
		if fromDir, err = readableAt(ctx, dir, fromV); err != nil {
			fmt.Fprintf(stderr, "billcons diff: --from: %v\n", err)
			return exitFailed
		}
	}
	d, err := query.OpenDiff(ctx, fromDir, toDir, os.TempDir())
	if err != nil {
		fmt.Fprintf(stderr, "billcons diff: %v\n", signalled(err, ""))
		return exitFailed
	}
	defer d.Close()
	n, err := d.Print(ctx, stdout, *format, *lines)
	if err != nil {
		fmt.Fprintf(stderr, "billcons diff: %v\n", signalled(err, ""))
		return exitFailed
	}
	if *exitCode && n > 0 {
		return exitDiffers
	}
	return exitOK
}

// guards are run's guards beyond the reject ratio (CONTRACT.md, Nightly
// runs over months: Guards), with what they need to say what tripped.
type guards struct {
	acceptMissing bool
	maxCycleDrop  float64 // a cycle's billed list amount may fall by this share at most; 1: off
	report        string  // --guard-report FILE: every id, one line each
	quiet         bool
	log           *slog.Logger
	stderr        io.Writer

	changes []query.CycleChange // the run's diff, for the summary after it
	base    int64
}

// guardError is the guards that tripped, one line each; it is
// pipeline.ErrDataQuality, so the run exits 3 and keeps the latest version.
type guardError struct{ lines []string }

func (e *guardError) Error() string { return strings.Join(e.lines, "\n") }
func (e *guardError) Unwrap() error { return pipeline.ErrDataQuality }

// check is pipeline.Config.Guard: query.CheckGuards judges the staged
// version against the latest; check records what --accept-missing let
// through, writes the guard report and says what tripped.
func (g *guards) check(ctx context.Context, in *pipeline.GuardInput) error {
	g.base = in.BaseVersion
	// The run's sorts are done: hand their memory back before DuckDB
	// takes its own, so the two do not add up in the peak.
	debug.FreeOSMemory()
	res, err := query.CheckGuards(ctx, query.Guards{AcceptMissing: g.acceptMissing, MaxCycleDrop: g.maxCycleDrop, AllIDs: g.report != "", Withdrawn: in.Withdrawn},
		in.Base, in.BaseVersion, in.Staged, in.Manifest, in.Trips)
	if err != nil {
		return fmt.Errorf("comparing with version %d: %w", in.BaseVersion, err)
	}
	g.changes = res.Changes
	for _, m := range res.Accepted {
		in.Manifest.Accepted = append(in.Manifest.Accepted, m)
		g.say("accepted (--accept-missing): " + m)
	}
	if g.report != "" && len(res.Report)+len(res.Trips) > 0 {
		body := strings.Join(append(append([]string(nil), res.Trips...), res.Report...), "\n") + "\n"
		if err := os.WriteFile(g.report, []byte(body), 0o644); err != nil {
			return fmt.Errorf("--guard-report: %w", err)
		}
	}
	if len(res.Trips) > 0 {
		return &guardError{res.Trips}
	}
	return nil
}

func (g *guards) say(line string) {
	switch {
	case g.log != nil:
		g.log.Warn("guard", "message", line)
	case !g.quiet:
		fmt.Fprintf(g.stderr, "billcons run: %s\n", line)
	}
}

// summarize says after a run what it changed against the version before:
// one line per billing cycle that changed (or one event each with
// --log-format json).
func (g *guards) summarize(res *pipeline.Result, stderr io.Writer, log *slog.Logger, quiet bool) {
	against := "nothing (a first version)"
	if g.base > 0 {
		against = "version " + strconv.FormatInt(g.base, 10)
	}
	if len(g.changes) == 0 && log == nil && !quiet {
		fmt.Fprintf(stderr, "billcons: version %d: no line or amount changed against %s\n", res.Version, against)
	}
	for _, c := range g.changes {
		var amounts []string
		for _, cur := range c.Currencies() {
			amounts = append(amounts, fmt.Sprintf("%s list %s due %s", cur, c.ListDelta[cur], c.DueDelta[cur]))
		}
		switch {
		case log != nil:
			log.Info("changed", "version", res.Version, "against", g.base, "billing_cycle", c.Cycle, "lines_added", c.Added,
				"lines_removed", c.Removed, "lines_moved", c.Moved, "lines_changed", c.Changed, "list_delta", c.ListDelta, "due_delta", c.DueDelta)
		case !quiet:
			line := fmt.Sprintf("billcons: version %d, %s against %s: %d lines added, %d removed, %d moved, %d changed",
				res.Version, c.Cycle, against, c.Added, c.Removed, c.Moved, c.Changed)
			if len(amounts) > 0 {
				line += "; " + strings.Join(amounts, "; ")
			}
			fmt.Fprintln(stderr, line)
		}
	}
}

const closeBody = `Closes billing cycle YYYY-MM of the tree DIR once its invoices are issued:
publishes a version in which each payer and currency of the cycle has its
invoice id (YYYYMM-PAYER-CURRENCY, in the bills, the summary, the
statements and FOCUS InvoiceId). From then on no version changes the
cycle: its bills files stay byte-identical, and its summary rows, credits
applied and alerts stay as they are. A later run that finds the cycle's
lines changed (a late line, a line withdrawn, a late trusteeship change, a
new amount or discount) writes correction rows into the first open cycle
instead. Cycles close in order: every earlier cycle with lines must be
closed first. There is no reopening.

Exit status 0 when closed, 1 when an earlier cycle is open, the cycle is
closed already or another command holds DIR, 2 for a usage error.
`

func cmdClose(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billcons close", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cycle := fs.String("cycle", "", "the billing cycle to close, YYYY-MM")
	keep := fs.Int("keep", storage.DefaultKeep, "versions to keep, the new one included")
	var wait waitFlag
	fs.Var(&wait, "wait", "when another command holds DIR, wait for it")
	dir, code := dirOnly("close", fs, args, stdout, stderr, commandHelp("close"))
	if dir == "" {
		return code
	}
	c, err := billing.ParseCycle(*cycle)
	if *cycle == "" || err != nil {
		fmt.Fprintf(stderr, "billcons close: --cycle %q: want the billing cycle to close, as YYYY-MM\n", *cycle)
		return exitUsage
	}
	if *keep < 1 {
		fmt.Fprintf(stderr, "billcons close: --keep %d: keep at least 1 version\n", *keep)
		return exitUsage
	}
	if isStore(dir) {
		fmt.Fprintf(stderr, "billcons close: %s: closing a cycle of a tree in a store is not built yet; close a local tree\n", dir)
		return exitFailed
	}
	m, t, err := writers.CloseCycle(ctx, dir, c, *keep, time.Duration(wait))
	if err != nil {
		fmt.Fprintf(stderr, "billcons close: %v\n", signalled(err, "; "+dir+" is unchanged"))
		return exitFailed
	}
	for _, w := range t.Warnings {
		fmt.Fprintf(stderr, "billcons close: warning: %s\n", w)
	}
	fmt.Fprintf(stderr, "billcons: closed %s in version %d of %s; its invoices are YYYYMM-PAYER-CURRENCY ids in the bills and the summary; later changes to its lines become corrections in %s\n",
		c, m.TreeVersion, dir, c+1)
	return exitOK
}
