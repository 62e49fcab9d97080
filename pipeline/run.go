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
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/pipeline/spill"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/writers"
)

// Config is what one run reads, where it writes, and how it decides.
type Config struct {
	Usage    []string // --usage arguments: files, folders or globs
	Changes  []string // --changes arguments
	Accounts []string // --accounts arguments; none means no enterprise checks
	Out      string   // --out DIR

	Timing   rules.Timing
	Zone     *time.Location // the billing time zone cycles are cut in
	ZoneName string         // as given, for the manifest

	// MaxRejectRatio fails the run with ErrDataQuality when the share of
	// rejected usage rows is above it. Negative means no limit.
	MaxRejectRatio float64

	// SpillBytes is the memory budget of each line sort before it spills to
	// disk. Zero means DefaultSpillBytes.
	SpillBytes int

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
}

// DefaultSpillBytes is the default in-memory budget of one line sort.
//
// It is small on purpose: on this machine (a VM) every page of fresh memory
// costs a page fault. With 128 MiB a million-line run took 11.8 s, 6.5 s of
// it in the kernel, at 460 MB peak; with 16 MiB, 7.7 s, 1.8 s and 185 MB.
// Package spill doubles it every 256 runs, so files stay few on large inputs.
const DefaultSpillBytes = 16 << 20

// ErrDataQuality is returned when a limit set by the operator (such as
// Config.MaxRejectRatio) was crossed. The previous output is kept.
var ErrDataQuality = errors.New("data-quality limit crossed")

// Result summarises a completed run.
type Result struct {
	Manifest *writers.Manifest
	// Warnings are problems that did not fail the run, such as a previous
	// tree that could not be removed after the new one was put in place.
	Warnings []string
}

type run struct {
	cfg        Config
	mark       time.Time // when the current stage began
	ctx        context.Context
	tree       *writers.Tree
	spillDir   string
	inputs     []writers.Input
	counts     writers.Counts
	totals     map[string]*currencyTotals
	extras     readers.ExtraColumns
	usageFiles []string
	stamps     map[string]stamp // input path -> size and mtime when hashed
	cycles     []billing.Cycle  // the billing cycles of the bills, ascending
	dups       dupSet           // the lines rejected as duplicates
	pending    int64            // lines whose payer waits for the holds
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
}

// stamp is what an input file looked like when it was hashed.
type stamp struct {
	size  int64
	mtime time.Time
}

type currencyTotals struct{ read, billed, rejected billing.Sum }

func (r *run) total(cur string) *currencyTotals {
	t := r.totals[cur]
	if t == nil {
		t = &currencyTotals{}
		r.totals[strings.Clone(cur)] = t // cur may point into a spill buffer
	}
	return t
}

// Run performs one consolidation run. On error nothing under cfg.Out changes.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	started := time.Now().UTC()
	if cfg.Zone == nil {
		cfg.Zone = time.FixedZone("+08:00", 8*3600)
		cfg.ZoneName = "+08:00"
	}
	if cfg.SpillBytes <= 0 {
		cfg.SpillBytes = DefaultSpillBytes
	}
	r := &run{cfg: cfg, ctx: ctx, totals: map[string]*currencyTotals{}, stamps: map[string]stamp{}, mark: time.Now()}

	// Resolve every input before touching the output.
	usage, err := expandAll(cfg.Usage)
	if err != nil {
		return nil, err
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

	tree, err := writers.BeginWait(ctx, cfg.Out, cfg.Wait, cfg.Waiting)
	if err != nil {
		return nil, err
	}
	r.tree = tree
	committed := false
	defer func() {
		if !committed {
			tree.Abort()
		}
	}()
	r.spillDir = filepath.Join(tree.Dir(), ".spill")
	if err := os.Mkdir(r.spillDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating spill folder: %w", err)
	}

	for _, group := range []struct {
		kind  string
		files []string
	}{{"usage", usage}, {"changes", changes}, {"accounts", accounts}} {
		for _, f := range group.files {
			in, st, err := describe(group.kind, f)
			if err != nil {
				return nil, err
			}
			r.stamps[f] = st
			r.inputs = append(r.inputs, in)
		}
	}

	var inBytes int64
	for _, in := range r.inputs {
		inBytes += in.Bytes
	}
	r.stage("hash_inputs", slog.Int("files", len(r.inputs)), slog.Int64("bytes", inBytes))
	writers.Checkpoint("hashed")

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

	sp := &lineSpills{
		ids:     spill.New(r.spillDir, "by-line-id", cfg.SpillBytes/2),
		bills:   spill.New(r.spillDir, "by-partition", cfg.SpillBytes),
		pending: spill.New(r.spillDir, "pending", cfg.SpillBytes/4),
		rejects: spill.New(r.spillDir, "usage-rejects", cfg.SpillBytes/4),
	}
	cfg.Progress.begin("reading usage", 1, 0)
	if err := r.readUsage(usage, plan, sp); err != nil {
		return nil, err
	}
	r.stage("read_usage", slog.Int("files", len(usage)), slog.Int64("rows", r.counts.UsageRead), slog.Int64("rejected", r.counts.UsageRejected))
	accepted := r.counts.UsageRead - r.counts.UsageRejected
	cfg.Progress.begin("finding duplicates and holds", 2, accepted)
	if err := r.findDuplicates(sp, plan); err != nil {
		return nil, err
	}
	sp.ids.Remove()
	r.stage("find_duplicates", slog.Int64("duplicates", r.dups.n))
	cfg.Progress.begin("assigning payers", 3, r.pending)
	if err := r.assignPending(sp, plan); err != nil {
		return nil, err
	}
	sp.pending.Remove()
	r.stage("assign_payers", slog.Int64("lines", accepted), slog.Int64("decided_while_reading", accepted-r.pending), slog.Int64("decided_after_holds", r.pending))
	cfg.Progress.begin("writing bills", 4, accepted)
	outputs, err := r.writeBills(sp.bills)
	if err != nil {
		return nil, err
	}
	sp.bills.Remove()
	r.stage("write_bills", slog.Int64("files", r.counts.BillFiles), slog.Int64("rows", r.counts.UsageBilled), slog.Int64("summary_rows", r.counts.SummaryRows))

	rejOut, err := r.writeUsageRejects(sp.rejects)
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
	absOut, err := filepath.Abs(cfg.Out)
	if err != nil {
		return nil, fmt.Errorf("--out %s: %w", cfg.Out, err)
	}
	viewsOut, err := writers.WriteViews(tree.Dir(), writers.Views{Dir: absOut, Zone: cfg.Zone, ZoneName: cfg.ZoneName,
		Cycles: r.cycles, HasBills: r.counts.BillFiles > 0, HasAccounts: len(accounts) > 0, Extras: r.extras.Names()})
	if err != nil {
		return nil, err
	}
	outputs = append(outputs, viewsOut)
	if err := os.RemoveAll(r.spillDir); err != nil {
		return nil, fmt.Errorf("removing spill folder: %w", err)
	}
	r.stage("write_rejects", slog.Int64("usage", r.counts.UsageRejected), slog.Int64("changes", r.counts.ChangesRejected), slog.Int64("accounts", r.counts.AccountsRejected))

	if r.counts.UsageRead != r.counts.UsageBilled+r.counts.UsageRejected {
		return nil, fmt.Errorf("internal error: %d usage rows read but %d billed and %d rejected", r.counts.UsageRead, r.counts.UsageBilled, r.counts.UsageRejected)
	}
	m := &writers.Manifest{
		Program:   "billcons",
		Version:   cfg.Version,
		StartedAt: started.Format(time.RFC3339Nano),
		Options: map[string]any{
			"usage": cfg.Usage, "changes": cfg.Changes, "accounts": cfg.Accounts, "out": cfg.Out,
			"timing": cfg.Timing.String(), "tz": cfg.ZoneName, "max_reject_ratio": cfg.MaxRejectRatio,
		},
		Inputs:  r.inputs,
		Outputs: outputs,
		Counts:  r.counts,
		Totals:  map[string]writers.Totals{},
	}
	for cur, t := range r.totals {
		var sum billing.Sum
		sum.AddSum(t.billed)
		sum.AddSum(t.rejected)
		if sum != t.read {
			return nil, fmt.Errorf("internal error: %s read %s but billed %s and rejected %s", cur, t.read, t.billed, t.rejected)
		}
		m.Totals[cur] = writers.Totals{Read: t.read.String(), Billed: t.billed.String(), Rejected: t.rejected.String()}
	}
	if cfg.MaxRejectRatio >= 0 && r.counts.UsageRead > 0 {
		ratio := float64(r.counts.UsageRejected) / float64(r.counts.UsageRead)
		if ratio > cfg.MaxRejectRatio {
			return nil, fmt.Errorf("%w: %d of %d usage rows rejected (%.4g), above --max-reject-ratio %g; previous output kept",
				ErrDataQuality, r.counts.UsageRejected, r.counts.UsageRead, ratio, cfg.MaxRejectRatio)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.EndedAt = time.Now().UTC().Format(time.RFC3339Nano)
	if err := writers.WriteManifest(tree.Dir(), m); err != nil {
		return nil, err
	}
	if err := tree.Commit(); err != nil {
		return nil, err
	}
	committed = true
	r.stage("commit", slog.String("out", cfg.Out))
	return &Result{Manifest: m, Warnings: tree.Warnings}, nil
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

// describe hashes one input file for the manifest.
func describe(kind, path string) (writers.Input, stamp, error) {
	f, err := os.Open(path)
	if err != nil {
		return writers.Input{}, stamp{}, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return writers.Input{}, stamp{}, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return writers.Input{}, stamp{}, fmt.Errorf("%s: reading: %w", path, unwrapPath(err))
	}
	return writers.Input{Kind: kind, Path: path, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))},
		stamp{size: st.Size(), mtime: st.ModTime()}, nil
}

// unchanged checks, after an input was parsed, that it is still the file
// that was hashed: an input rewritten or removed during the run would make
// the manifest's checksum describe other data than the bills.
func (r *run) unchanged(path string) error {
	want := r.stamps[path]
	st, err := os.Stat(path)
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

func (r *run) setRows(path string, kind string, rows int64) {
	for i := range r.inputs {
		if r.inputs[i].Path == path && r.inputs[i].Kind == kind {
			r.inputs[i].Rows = rows
			return
		}
	}
}

func rowReject(header []string, row *readers.Row, e *billing.RowError) writers.Reject {
	reason := e.Err.Error()
	if e.Field != "" {
		reason = e.Field + ": " + reason
	}
	return writers.Reject{SourceFile: e.Pos.File, SourceRow: e.Pos.Row, Code: e.Code, Reason: reason,
		Record: recordJSON(readers.Record(header, row))}
}

// recordJSON renders raw values as a JSON object in column order.
func recordJSON(fields []readers.Field) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Name)
		b.Write(k)
		b.WriteByte(':')
		if f.Value == nil {
			b.WriteString("null")
		} else {
			v, _ := json.Marshal(*f.Value)
			b.Write(v)
		}
	}
	b.WriteByte('}')
	return b.String()
}

func (r *run) readAccounts(files []string) (rules.Accounts, []writers.Reject, error) {
	type entry struct {
		acct billing.Account
		row  readers.Row
		hdr  []string
	}
	var rejects []writers.Reject
	seen := map[string][]entry{}
	var order []string
	for _, path := range files {
		t, err := readers.Open(path)
		if err != nil {
			return nil, nil, err
		}
		dec, err := readers.NewAccountDecoder(t)
		if err != nil {
			t.Close()
			return nil, nil, err
		}
		var rows int64
		err = readers.Each(r.ctx, t, func(row *readers.Row) error {
			rows++
			r.counts.AccountsRead++
			var a billing.Account
			if e := dec.Decode(row, &a); e != nil {
				rejects = append(rejects, rowReject(dec.Header(), row, e))
				return nil
			}
			if _, ok := seen[a.AccountID]; !ok {
				order = append(order, a.AccountID)
			}
			seen[a.AccountID] = append(seen[a.AccountID], entry{a, row.Clone(), dec.Header()})
			return nil
		})
		t.Close()
		if err != nil {
			return nil, nil, err
		}
		if err := r.unchanged(path); err != nil {
			return nil, nil, err
		}
		r.setRows(path, "accounts", rows)
	}
	accts := rules.Accounts{}
	for _, id := range order {
		es := seen[id]
		ambiguous := false
		for _, e := range es[1:] {
			if e.acct.EnterpriseID != es[0].acct.EnterpriseID {
				ambiguous = true
			}
		}
		for i, e := range es {
			switch {
			case ambiguous:
				rejects = append(rejects, writers.Reject{SourceFile: e.acct.Pos.File, SourceRow: e.acct.Pos.Row, Code: "ambiguous_account",
					Reason: fmt.Sprintf("account %s is listed with different enterprises; all of its rows are rejected", id), Record: recordJSON(readers.Record(e.hdr, &e.row))})
			case i > 0:
				rejects = append(rejects, writers.Reject{SourceFile: e.acct.Pos.File, SourceRow: e.acct.Pos.Row, Code: "duplicate_account",
					Reason: fmt.Sprintf("account %s is already listed at %s", id, es[0].acct.Pos), Record: recordJSON(readers.Record(e.hdr, &e.row))})
			default:
				accts[id] = e.acct.EnterpriseID
				r.counts.AccountsAccepted++
			}
		}
	}
	r.counts.AccountsRejected = int64(len(rejects))
	sortRejects(rejects, files)
	return accts, rejects, nil
}

func (r *run) readChanges(files []string, accounts rules.Accounts) ([]billing.Change, []writers.Reject, error) {
	var rejects []writers.Reject
	var changes []billing.Change
	records := map[int]string{} // change seq -> record JSON, for rule rejects
	for _, path := range files {
		t, err := readers.Open(path)
		if err != nil {
			return nil, nil, err
		}
		dec, err := readers.NewChangeDecoder(t)
		if err != nil {
			t.Close()
			return nil, nil, err
		}
		var rows int64
		err = readers.Each(r.ctx, t, func(row *readers.Row) error {
			rows++
			r.counts.ChangesRead++
			var c billing.Change
			if e := dec.Decode(row, &c); e != nil {
				rejects = append(rejects, rowReject(dec.Header(), row, e))
				return nil
			}
			c.Seq = len(changes)
			records[c.Seq] = recordJSON(readers.Record(dec.Header(), row))
			changes = append(changes, c)
			return nil
		})
		t.Close()
		if err != nil {
			return nil, nil, err
		}
		if err := r.unchanged(path); err != nil {
			return nil, nil, err
		}
		r.setRows(path, "changes", rows)
	}
	accepted, judged := rules.ValidateChanges(changes, accounts)
	for _, j := range judged {
		rejects = append(rejects, writers.Reject{SourceFile: j.Change.Pos.File, SourceRow: j.Change.Pos.Row,
			Code: j.Rule.Code, Reason: j.Reason, Record: records[j.Change.Seq]})
	}
	r.counts.ChangesAccepted = int64(len(accepted))
	r.counts.ChangesRejected = int64(len(rejects))
	sortRejects(rejects, files)
	return accepted, rejects, nil
}

// sortRejects orders rejects by input file (in the order read) and row.
func sortRejects(rs []writers.Reject, files []string) {
	idx := map[string]int{}
	for i, f := range files {
		if _, ok := idx[f]; !ok {
			idx[f] = i
		}
	}
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := idx[rs[i].SourceFile], idx[rs[j].SourceFile]
		if a != b {
			return a < b
		}
		return rs[i].SourceRow < rs[j].SourceRow
	})
}

func writeRejectList(root, name string, rs []writers.Reject) (writers.Output, error) {
	w, err := writers.NewRejects(root, name)
	if err != nil {
		return writers.Output{}, err
	}
	for i := range rs {
		if err := w.Write(&rs[i]); err != nil {
			return writers.Output{}, err
		}
	}
	return w.Close()
}

// rejectKey orders usage rejects by file and row.
func rejectKey(file int, row int64) []byte {
	var k [12]byte
	binary.BigEndian.PutUint32(k[:4], uint32(file))
	binary.BigEndian.PutUint64(k[4:], uint64(row))
	return k[:]
}

// rejectPlace reads a rejectKey.
func rejectPlace(k []byte) (file int, row int64) {
	if len(k) != 12 {
		return -1, -1
	}
	return int(binary.BigEndian.Uint32(k[:4])), int64(binary.BigEndian.Uint64(k[4:]))
}

func encodeReject(b []byte, x *writers.Reject) []byte {
	b = appendString(b, x.SourceFile)
	b = binary.AppendUvarint(b, uint64(x.SourceRow))
	b = appendString(b, x.Code)
	b = appendString(b, x.Reason)
	b = appendString(b, x.Record)
	return b
}

func decodeReject(b []byte) (writers.Reject, error) {
	d := decoder{b: b}
	x := writers.Reject{SourceFile: d.string(), SourceRow: int64(d.uvarint()), Code: d.string(), Reason: d.string(), Record: d.string()}
	if d.err {
		return x, errCorrupt
	}
	return x, nil
}

// fieldAt returns a row's value in column i, if the row has one there and it
// is not null: exactly the values readers.Record puts in a reject's record.
func fieldAt(row *readers.Row, i int) (string, bool) {
	if i < 0 || i >= len(row.Fields) || (row.Null != nil && row.Null[i]) {
		return "", false
	}
	return row.Fields[i], true
}

// usageTally is one reader's counts and totals, added to the run's at the
// end (exact integers: the order of the additions does not matter).
type usageTally struct {
	read, rejected, pending int64
	totals                  map[string]*currencyTotals
}

func (u *usageTally) total(cur string) *currencyTotals {
	t := u.totals[cur]
	if t == nil {
		t = &currencyTotals{}
		u.totals[cur] = t
	}
	return t
}

// countRejectedAmount adds a rejected row's amount to the rejected total of
// its currency, when both parse on their own.
func (u *usageTally) countRejectedAmount(amount, currency string) {
	a, err1 := billing.ParseAmount(amount)
	c, err2 := billing.ParseCurrency(currency)
	if err1 == nil && err2 == nil {
		t := u.total(c)
		t.read.Add(a)
		t.rejected.Add(a)
	}
}

// UsageReaders is how many usage files are read at once.
const UsageReaders = 2

// readUsage is pass A: parse every usage row; bad rows go to the rejects,
// good ones into runs sorted by line_id and read order. Files are read by
// up to UsageReaders goroutines at once; a line's place in the read order
// is its file's index and its row, so the outcome does not depend on which
// goroutine read what first.
func (r *run) readUsage(files []string, plan *rules.Plan, sp *lineSpills) error {
	// The headers first, in file order: extra columns are numbered in the
	// order they are first seen, and every decoder must know them all.
	decs := make([]*readers.UsageDecoder, len(files))
	for fi, path := range files {
		t, err := readers.Open(path)
		if err != nil {
			return err
		}
		decs[fi], err = readers.NewUsageDecoder(t, &r.extras)
		t.Close()
		if err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	var (
		mu       sync.Mutex // guards the sorters, r.inputs and firstErr
		firstErr error
		read     atomic.Int64
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	next := make(chan int)
	tallies := make([]*usageTally, min(UsageReaders, len(files)))
	for w := range tallies {
		tally := &usageTally{totals: map[string]*currencyTotals{}}
		tallies[w] = tally
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fi := range next {
				if err := r.readUsageFile(ctx, fi, files[fi], decs[fi], plan, tally, &read, &mu, sp); err != nil {
					fail(err)
				}
			}
		}()
	}
feed:
	for fi := range files {
		select {
		case next <- fi:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := r.ctx.Err(); err != nil {
		return err
	}
	for _, t := range tallies {
		r.counts.UsageRead += t.read
		r.counts.UsageRejected += t.rejected
		r.pending += t.pending
		for cur, x := range t.totals {
			rt := r.total(cur)
			rt.read.AddSum(x.read)
			rt.rejected.AddSum(x.rejected)
		}
	}
	return nil
}

// readUsageFile reads one usage file into the sorters, which mu guards.
func (r *run) readUsageFile(ctx context.Context, fi int, path string, dec *readers.UsageDecoder, plan *rules.Plan, tally *usageTally,
	read *atomic.Int64, mu *sync.Mutex, sp *lineSpills) error {
	t, err := readers.Open(path)
	if err != nil {
		return err
	}
	defer t.Close()
	if !slices.Equal(t.Header(), dec.Header()) {
		return fmt.Errorf("%s: changed during the run (its header differs)", path)
	}
	amountCol, currencyCol := -1, -1
	for i, h := range dec.Header() {
		switch h {
		case "list_amount":
			amountCol = i
		case "currency":
			currencyCol = i
		}
	}
	var idKey, idPayload, key, payload []byte
	var line billing.UsageLine
	var rows int64
	err = readers.Each(ctx, t, func(row *readers.Row) error {
		rows++
		tally.read++
		if n := read.Add(1); n%1024 == 0 {
			r.cfg.Progress.add(1024)
			if n == 1024 {
				writers.Checkpoint("reading")
			}
		}
		if e := dec.Decode(row, &line); e != nil {
			tally.rejected++
			// Count from the values the reject's record holds, as verify
			// does, even for a row with too many or too few fields.
			if v, ok := fieldAt(row, amountCol); ok {
				if c, ok := fieldAt(row, currencyCol); ok {
					tally.countRejectedAmount(v, c)
				}
			}
			x := rowReject(dec.Header(), row, e)
			payload = encodeReject(payload[:0], &x)
			mu.Lock()
			err := sp.rejects.Add(rejectKey(fi, row.N), payload)
			mu.Unlock()
			return err
		}
		line.Seq = seqOf(fi, row.N)
		tally.total(line.Currency).read.Add(line.ListAmount)
		idKey = append(idKey[:0], line.LineID...)
		idKey = append(idKey, 0)
		idKey = binary.BigEndian.AppendUint64(idKey, line.Seq)
		idPayload = idPayload[:0]
		if plan.Holds(&line) {
			idPayload = encodeLine(idPayload, &line)
		}
		d, early := plan.AssignEarly(&line)
		if early {
			key = billKey(key[:0], &line, d.Payer)
			payload = encodeBill(payload[:0], &line, d.DecidedBy, d.HeldBy)
		} else {
			tally.pending++
			key = binary.BigEndian.AppendUint64(key[:0], line.Seq)
			payload = encodeLine(payload[:0], &line)
		}
		mu.Lock()
		defer mu.Unlock()
		if err := sp.ids.Add(idKey, idPayload); err != nil {
			return err
		}
		if early {
			return sp.bills.Add(key, payload)
		}
		return sp.pending.Add(key, payload)
	})
	if err != nil {
		return err
	}
	if err := r.unchanged(path); err != nil {
		return err
	}
	mu.Lock()
	r.setRows(path, "usage", rows)
	mu.Unlock()
	return nil
}

// findDuplicates is pass B: replay the ids in (line_id, read order); reject
// every line but the first of an id, and observe the first lines that may
// hold a change back.
func (r *run) findDuplicates(sp *lineSpills, plan *rules.Plan) error {
	it, err := sp.ids.Merge()
	if err != nil {
		return err
	}
	defer it.Close()
	// The duplicates' rejects, without their records: those are read from
	// the inputs again, once every duplicate is known.
	dups := spill.New(r.spillDir, "duplicates", r.cfg.SpillBytes/4)
	defer dups.Remove()
	var first []byte // the first key of the current line_id
	var line billing.UsageLine
	var n int
	for {
		key, payload, ok := it.Next()
		if !ok {
			break
		}
		if err := r.tick(&n); err != nil {
			return err
		}
		if len(key) < 9 {
			return errCorrupt
		}
		id := key[:len(key)-9]
		if first == nil || !bytes.Equal(id, first[:len(first)-9]) {
			first = append(first[:0], key...)
			if len(payload) > 0 {
				if err := viewLine(payload, &line); err != nil {
					return err
				}
				plan.Observe(&line)
			}
			continue
		}
		file, row := placeOf(binary.BigEndian.Uint64(key[len(key)-8:]))
		firstFile, firstRow := placeOf(binary.BigEndian.Uint64(first[len(first)-8:]))
		r.dups.add(file, row)
		r.counts.UsageRejected++
		x := writers.Reject{
			SourceFile: r.usageFiles[file], SourceRow: row, Code: "duplicate_line_id",
			Reason: fmt.Sprintf("line_id %s was already read at %s:%d; the first stays", id, r.usageFiles[firstFile], firstRow),
		}
		if err := dups.Add(rejectKey(file, row), encodeReject(nil, &x)); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	return r.readDuplicates(dups, sp.rejects)
}

// tick counts a line of a pass for the progress display and, every 8,192
// lines, checks whether the run was cancelled.
func (r *run) tick(n *int) error {
	if *n++; *n%8192 == 0 {
		r.cfg.Progress.add(8192)
		return r.ctx.Err()
	}
	return nil
}

// errFound stops a read once the rows sought are found.
var errFound = errors.New("found")

// readDuplicates reads the duplicates' rows from their files again, in
// file and row order, and adds their rejects with the rows' raw values:
// the record of a reject is the row as read, like every other reject's.
// Files without duplicates are not opened; a run without any reads nothing.
func (r *run) readDuplicates(dups, rejects *spill.Sorter) error {
	if r.dups.n == 0 {
		return nil
	}
	it, err := dups.Merge()
	if err != nil {
		return err
	}
	defer it.Close()
	key, payload, ok := it.Next()
	for ok {
		fi, _ := rejectPlace(key)
		path := r.usageFiles[fi]
		t, err := readers.Open(path)
		if err != nil {
			return err
		}
		err = readers.Each(r.ctx, t, func(row *readers.Row) error {
			for ok {
				file, n := rejectPlace(key)
				if file != fi {
					return errFound
				}
				if n != row.N {
					return nil
				}
				x, err := decodeReject(payload)
				if err != nil {
					return err
				}
				x.Record = recordJSON(readers.Record(t.Header(), row))
				if err := rejects.Add(key, encodeReject(nil, &x)); err != nil {
					return err
				}
				key, payload, ok = it.Next()
			}
			return errFound
		})
		t.Close()
		if err != nil && err != errFound {
			return err
		}
		if file, n := rejectPlace(key); ok && file == fi {
			return fmt.Errorf("internal error: %s: row %d, a duplicate line, is not there on reading the file again", path, n)
		}
		if err := r.unchanged(path); err != nil {
			return err
		}
	}
	return it.Err()
}

// assignPending is pass C: give the lines that waited for the holds their
// payers, and add them to the bills. Duplicates among them are left out by
// pass D, like those decided while reading.
func (r *run) assignPending(sp *lineSpills, plan *rules.Plan) error {
	it, err := sp.pending.Merge()
	if err != nil {
		return err
	}
	defer it.Close()
	var line billing.UsageLine
	var key, payload []byte
	var n int
	for {
		_, p, ok := it.Next()
		if !ok {
			break
		}
		if err := r.tick(&n); err != nil {
			return err
		}
		if err := viewLine(p, &line); err != nil {
			return err
		}
		d := plan.Assign(&line) // a duplicate too: pass D leaves it out

		key = billKey(key[:0], &line, d.Payer)
		payload = encodeBill(payload[:0], &line, d.DecidedBy, d.HeldBy)
		if err := sp.bills.Add(key, payload); err != nil {
			return err
		}
	}
	return it.Err()
}

// slab holds copies of spilled bills whose strings are handed on (the bills
// writer keeps them until their row group is written): one allocation per
// megabyte instead of one per value.
type slab struct{ buf []byte }

func (s *slab) copy(b []byte) []byte {
	if len(s.buf)+len(b) > cap(s.buf) {
		s.buf = make([]byte, 0, max(1<<20, len(b)))
	}
	start := len(s.buf)
	s.buf = append(s.buf, b...)
	return s.buf[start:len(s.buf):len(s.buf)]
}

// writeBills is pass D: write the bills one partition at a time, and the
// summary as runs of (cycle, payer, member, product, currency); leave out
// the duplicates.
func (r *run) writeBills(bySpill *spill.Sorter) ([]writers.Output, error) {
	it, err := bySpill.Merge()
	if err != nil {
		return nil, err
	}
	defer it.Close()
	bills := writers.NewBills(r.tree.Dir(), r.extras.Names())
	closed := false
	defer func() {
		if !closed {
			bills.Close() // let its goroutines finish on the way out of a failure
		}
	}()
	summary, err := writers.NewSummary(r.tree.Dir())
	if err != nil {
		return nil, err
	}
	var row writers.SummaryRow
	have := false
	flush := func() error {
		if !have {
			return nil
		}
		r.counts.SummaryRows++
		return summary.Write(&row)
	}
	var s spilled
	var mem slab
	var n int
	for {
		key, payload, ok := it.Next()
		if !ok {
			break
		}
		if err := r.tick(&n); err != nil {
			return nil, err
		}
		key, payload = mem.copy(key), mem.copy(payload)
		if err := viewBill(key, payload, &s); err != nil {
			return nil, err
		}
		l := &s.line
		if r.dups.has(l.Seq) {
			r.total(l.Currency).rejected.Add(l.ListAmount)
			continue
		}
		if len(r.cycles) == 0 || r.cycles[len(r.cycles)-1] != l.Cycle {
			r.cycles = append(r.cycles, l.Cycle)
		}
		if err := bills.Write(l, s.payer, s.decided, s.held); err != nil {
			return nil, err
		}
		r.counts.UsageBilled++
		r.total(l.Currency).billed.Add(l.ListAmount)
		if !have || row.Cycle != l.Cycle || row.Payer != s.payer || row.AccountID != l.AccountID || row.Product != l.ProductCode || row.Currency != l.Currency {
			if err := flush(); err != nil {
				return nil, err
			}
			row = writers.SummaryRow{Cycle: l.Cycle, Payer: s.payer, AccountID: l.AccountID, Product: l.ProductCode, Currency: l.Currency}
			have = true
		}
		row.LineCount++
		row.ListAmount.Add(l.ListAmount)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	closed = true
	outputs, err := bills.Close()
	if err != nil {
		return nil, err
	}
	r.counts.BillFiles = int64(len(outputs))
	sumOut, err := summary.Close()
	if err != nil {
		return nil, err
	}
	return append(outputs, sumOut), nil
}

func (r *run) writeUsageRejects(rejects *spill.Sorter) (writers.Output, error) {
	w, err := writers.NewRejects(r.tree.Dir(), "usage")
	if err != nil {
		return writers.Output{}, err
	}
	it, err := rejects.Merge()
	if err != nil {
		return writers.Output{}, err
	}
	defer it.Close()
	for {
		_, payload, ok := it.Next()
		if !ok {
			break
		}
		x, err := decodeReject(payload)
		if err != nil {
			return writers.Output{}, err
		}
		if err := w.Write(&x); err != nil {
			return writers.Output{}, err
		}
	}
	if err := it.Err(); err != nil {
		return writers.Output{}, err
	}
	return w.Close()
}
