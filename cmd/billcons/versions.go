package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/billcons/billcons/pipeline"
	"github.com/billcons/billcons/query"
	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/writers"
	"github.com/shopspring/decimal"
)

// exitDiffers is diff --exit-code's status when the versions differ.
const exitDiffers = 4

// versionFlag adds --version V to a reading command.
func versionFlag(fs *flag.FlagSet) *int64 {
	return fs.Int64("version", 0, "read version V of the tree instead of the latest (billcons versions DIR lists them)")
}

// readableAt is readable for version v of the tree (0: the latest): the
// folder that holds that version whole.
func readableAt(ctx context.Context, dir string, v int64) (string, error) {
	if v != 0 && (storage.IsURL(dir) || storage.IsPublished(dir)) {
		return "", fmt.Errorf("%s: --version reads local trees; a store's older runs are under its _published/ pointers", dir)
	}
	d, err := readable(ctx, dir)
	if err != nil {
		return "", err
	}
	return writers.Resolve(d, v)
}

// outsideTrees refuses a path to write (export, statements, guard
// reports) inside a billcons tree: the tree is what billcons publishes, and
// a file written into it would replace or sit beside the published files.
func outsideTrees(opt, p string) error {
	abs, err := filepath.Abs(p)
	if err != nil {
		return err
	}
	// The path as given first, so that the message names the tree as the
	// user knows it; then with links resolved, which no path escapes by.
	paths := []string{abs}
	if real, err := realPath(abs); err == nil && real != abs {
		paths = append(paths, real)
	}
	for _, start := range paths {
		for dir := start; ; {
			if dir != start || isDir(dir) {
				if writers.IsTree(dir) || isDir(filepath.Join(dir, writers.StateDir)) {
					return fmt.Errorf("%s %s is inside the billcons tree %s; write it outside the tree", opt, p, dir)
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return nil
}

// realPath is p with the links of its longest existing prefix resolved.
func realPath(p string) (string, error) {
	rest := ""
	for cur := p; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest), nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

const versionsHelp = `Usage:
  billcons versions DIR [--format table|csv|json]

Lists the kept versions of the tree DIR, oldest first: the number, when it
was published, by which command (run, rollback), the SHA-256 of its inputs
(one hash over every input file's checksum), and per billing cycle and
currency the lines and the amount due. The latest is marked *.
`

func cmdVersions(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billcons versions", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("format", "table", "table, csv or json (one object per version)")
	dir, rest, code := dirFirst("versions", fs, args, stdout, stderr, versionsHelp)
	if dir == "" {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "billcons versions: unexpected argument %q; see billcons versions --help\n", rest[0])
		return exitUsage
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		fmt.Fprintf(stderr, "billcons versions: --format %q: want table, csv or json\n", *format)
		return exitUsage
	}
	vs, err := writers.Versions(dir)
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

const rollbackHelp = `Usage:
  billcons rollback DIR V [--keep N] [--wait[=DURATION]]

Publishes the content of version V of the tree DIR as a new version (its
files shared with V by hard links): DIR then reads as V did, and the
versions in between stay listed and readable until --keep removes them.
Exit status 0 when published, 1 when V is not kept or another command holds
DIR, 2 for a usage error.
`

func cmdRollback(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billcons rollback", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	keep := fs.Int("keep", writers.DefaultKeep, "versions to keep, the new one included")
	var wait waitFlag
	fs.Var(&wait, "wait", "when another command holds DIR, wait for it")
	dir, rest, code := dirFirst("rollback", fs, args, stdout, stderr, rollbackHelp)
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
	m, t, err := writers.Rollback(ctx, dir, v, *keep, time.Duration(wait))
	if err != nil {
		fmt.Fprintf(stderr, "billcons rollback: %v\n", signalled(err, "; "+dir+" is unchanged"))
		return exitFailed
	}
	for _, w := range t.Warnings {
		fmt.Fprintf(stderr, "billcons rollback: warning: %s\n", w)
	}
	fmt.Fprintf(stderr, "billcons: published version %d of %s with the content of version %d (was %d)\n", m.TreeVersion, dir, v, m.BaseVersion)
	return exitOK
}

const diffHelp = `Usage:
  billcons diff DIR [--from V] [--to V] [--lines] [--format table|csv|json] [--exit-code]

Compares two versions of the tree DIR line by line (by line_id): by default
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
	dir, rest, code := dirFirst("diff", fs, args, stdout, stderr, diffHelp)
	if dir == "" {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "billcons diff: unexpected argument %q; see billcons diff --help\n", rest[0])
		return exitUsage
	}
	if *format != query.Table && *format != query.CSV && *format != query.JSON {
		fmt.Fprintf(stderr, "billcons diff: --format %q: want table, csv or json\n", *format)
		return exitUsage
	}
	vs, err := writers.Versions(dir)
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
	toDir, err := writers.Resolve(dir, toV)
	if err != nil {
		fmt.Fprintf(stderr, "billcons diff: --to: %v\n", err)
		return exitFailed
	}
	fromDir := ""
	if fromV > 0 {
		if fromDir, err = writers.Resolve(dir, fromV); err != nil {
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

// check is pipeline.Config.Guard: it compares the staged version with the
// latest and trips on what a broken export looks like.
func (g *guards) check(ctx context.Context, in *pipeline.GuardInput) error {
	trips := append([]string(nil), in.Trips...)
	var report []string
	if in.Base == "" {
		// A first version: every line is added, and the manifest's
		// per-cycle totals say so without reading a line again.
		g.changes = query.FirstCycles(in.Manifest.Cycles)
		if len(trips) > 0 {
			return &guardError{trips}
		}
		return nil
	}
	d, err := query.OpenDiff(ctx, in.Base, in.Staged, in.Staged)
	if err != nil {
		return fmt.Errorf("comparing with version %d: %w", in.BaseVersion, err)
	}
	defer d.Close()
	g.base = in.BaseVersion
	if g.changes, err = d.Cycles(ctx); err != nil {
		return fmt.Errorf("comparing with version %d: %w", in.BaseVersion, err)
	}
	var missing []string // what --accept-missing lets through
	if in.Base != "" {
		n, ids, rejected, err := d.Removed(ctx, 10)
		if err != nil {
			return err
		}
		if n > 0 {
			missing = append(missing, fmt.Sprintf("missing_lines: %d line(s) billed in version %d are not billed now (%d of them rejected now): %s",
				n, in.BaseVersion, rejected, idList(ids, n)))
			if g.report != "" {
				_, all, _, err := d.Removed(ctx, -1)
				if err != nil {
					return err
				}
				for _, id := range all {
					report = append(report, "missing_lines\t"+id)
				}
			}
		}
		for _, k := range []struct{ name, path, col string }{
			{"changes", "changes/accepted.parquet", "change_id"},
			{"discounts", "settlement/discounts.parquet", "discount_id"},
			{"enterprises", "settlement/enterprises.parquet", "enterprise_id"},
			{"accounts", "settlement/accounts.parquet", "account_id"},
			{"credits", "credits/balances.parquet", "credit_id"},
		} {
			ids, err := d.Lost(ctx, k.path, k.col)
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				missing = append(missing, fmt.Sprintf("missing_%s: %d %s row(s) accepted in version %d are not accepted now: %s",
					k.name, len(ids), strings.TrimSuffix(k.name, "s"), in.BaseVersion, idList(ids, int64(len(ids)))))
				for _, id := range ids {
					report = append(report, "missing_"+k.name+"\t"+id)
				}
			}
		}
		old, err := writers.ReadManifest(in.Base)
		if err != nil {
			return err
		}
		if old.Counts.BalancesAccepted > in.Manifest.Counts.BalancesAccepted {
			missing = append(missing, fmt.Sprintf("missing_balances: version %d accepted %d balance row(s), now %d",
				in.BaseVersion, old.Counts.BalancesAccepted, in.Manifest.Counts.BalancesAccepted))
		}
		if gone := goneInputs(old, in.Manifest); len(gone) > 0 {
			missing = append(missing, fmt.Sprintf("missing_inputs: %d input file(s) read by version %d are not read now: %s",
				len(gone), in.BaseVersion, idList(gone, int64(len(gone)))))
		}
		if g.maxCycleDrop < 1 {
			if drops := cycleDrops(old, in.Manifest, g.maxCycleDrop); len(drops) > 0 {
				trips = append(trips, fmt.Sprintf("cycle_drop: billed list amount fell by more than %g against version %d (--max-cycle-drop 1 turns the guard off): %s",
					g.maxCycleDrop, in.BaseVersion, strings.Join(drops, "; ")))
			}
		}
	}
	if g.acceptMissing {
		for _, m := range missing {
			in.Manifest.Accepted = append(in.Manifest.Accepted, m)
			g.say("accepted (--accept-missing): " + m)
		}
		missing = nil
	} else if len(missing) > 0 {
		missing[len(missing)-1] += " (billcons diff lists them once published; --accept-missing publishes anyway)"
	}
	trips = append(trips, missing...)
	if g.report != "" && len(report)+len(trips) > 0 {
		sort.Strings(report)
		body := strings.Join(append(trips, report...), "\n") + "\n"
		if err := os.WriteFile(g.report, []byte(body), 0o644); err != nil {
			return fmt.Errorf("--guard-report: %w", err)
		}
	}
	if len(trips) > 0 {
		return &guardError{trips}
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

// idList prints up to 10 ids of n.
func idList(ids []string, n int64) string {
	if len(ids) > 10 {
		ids = ids[:10]
	}
	s := strings.Join(ids, ", ")
	if n > int64(len(ids)) {
		s += fmt.Sprintf(", and %d more", n-int64(len(ids)))
	}
	return s
}

// goneInputs are the input files (kind and path) the old manifest lists
// and the new one does not.
func goneInputs(old, now *writers.Manifest) []string {
	have := map[string]bool{}
	for _, in := range now.Inputs {
		have[in.Kind+"\t"+in.Path] = true
	}
	var gone []string
	for _, in := range old.Inputs {
		if !have[in.Kind+"\t"+in.Path] {
			gone = append(gone, in.Kind+" "+in.Path)
		}
	}
	return gone
}

// cycleDrops are the cycles and currencies whose billed list amount fell
// by more than share against the old version.
func cycleDrops(old, now *writers.Manifest, share float64) []string {
	cur := map[string]string{}
	for _, c := range now.Cycles {
		cur[c.Cycle+" "+c.Currency] = c.List
	}
	var out []string
	for _, c := range old.Cycles {
		was, err := decimal.NewFromString(c.List)
		if err != nil || !was.IsPositive() {
			continue
		}
		is := decimal.Zero
		if s, ok := cur[c.Cycle+" "+c.Currency]; ok {
			if is, err = decimal.NewFromString(s); err != nil {
				continue
			}
		}
		// is < was × (1 − share), exactly
		if is.LessThan(was.Mul(decimal.NewFromInt(1).Sub(decimal.NewFromFloat(share)))) {
			now, ok := cur[c.Cycle+" "+c.Currency]
			if !ok {
				now = "no lines"
			}
			out = append(out, fmt.Sprintf("%s %s %s -> %s", c.Cycle, c.Currency, c.List, now))
		}
	}
	return out
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
