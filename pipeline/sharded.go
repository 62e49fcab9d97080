package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/writers"
)

// ShardInput makes a run one shard of a sharded run (package shards): it
// reads its members' rows of the run's usage files, already split out by
// account, instead of the files themselves. Rows keep their own file and
// row number, so rejects, duplicates and read order are those of a single
// run over the whole input.
type ShardInput struct {
	// Files are the run's usage files in the single run's order: their
	// names, for the rejects, and their indexes, for the read order.
	Files []string
	// Open opens this shard's rows of file fi, under the file's header.
	Open func(fi int) (readers.Table, error)
	// Foreign lists, for each line_id that was also read in another shard,
	// the read order (seq) of every line of that id in the whole run,
	// ascending. Pass B judges those ids by it: the first line of the
	// whole run stays.
	Foreign map[string][]uint64
	// IDs, when set, receives the id and seq of every line that passed pass
	// A, in (line_id, seq) order: what commit needs to find ids read in
	// more than one shard.
	IDs func(id []byte, seq uint64) error
}

// HashInput describes an input file for the manifest as a run does: its
// size and SHA-256 (a zip member's are its archive's). A sharded run's
// split steps hash the usage files they read with it.
func HashInput(kind, path string) (writers.Input, error) {
	in, _, err := hashes{}.describe(kind, path)
	return in, err
}

// CommitInput makes a run the commit of a sharded run: it reads no usage,
// but settles the shards' summaries with the credits, merges their
// rejects, and writes the manifest over the shards' bills.
type CommitInput struct {
	Files     []string                    // the usage files, as in ShardInput
	Inputs    []writers.Input             // the usage files, hashed by the split steps
	Extras    []string                    // the extra usage columns, in order
	Summaries []string                    // each shard's summary file (local paths)
	Rejects   []string                    // each shard's rejects/usage.parquet (local paths)
	Bills     []writers.Output            // every shard's bills files, as published
	Indexes   []ShardIndex                // every shard's index/payers.parquet
	Counts    writers.Counts              // the shards' usage counts, summed
	Totals    []map[string]writers.Totals // each shard's per-currency totals
}

// commitUsage stands in for passes A to D in a commit: the counts and
// totals of the shards, their summaries settled in order, their rejects.
func (r *run) commitUsage(c *CommitInput) ([]writers.Output, error) {
	r.counts.UsageRead = c.Counts.UsageRead
	r.counts.UsageBilled = c.Counts.UsageBilled
	r.counts.UsageRejected = c.Counts.UsageRejected
	r.counts.BillFiles = int64(len(c.Bills))
	for _, ts := range c.Totals {
		for cur, t := range ts {
			rt := r.total(cur)
			for _, x := range []struct {
				s   *billing.Sum
				val string
			}{{&rt.read, t.Read}, {&rt.billed, t.Billed}, {&rt.rejected, t.Rejected}} {
				a, err := billing.ParseSum(x.val)
				if err != nil {
					return nil, fmt.Errorf("a shard's %s total %q: %w", cur, x.val, err)
				}
				x.s.AddSum(a)
			}
		}
	}
	// The statement rows: members are split among shards, so each row is
	// one shard's; sorted together they are in the single run's order.
	var rows []writers.SummaryRow
	for _, p := range c.Summaries {
		if err := writers.ReadSummary(p, func(row *writers.SummaryRow) error {
			rows = append(rows, *row)
			return nil
		}); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(rows, func(a, b writers.SummaryRow) int {
		return cmp.Or(cmp.Compare(a.Cycle, b.Cycle), cmp.Compare(a.Payer, b.Payer), cmp.Compare(a.AccountID, b.AccountID),
			cmp.Compare(a.Product, b.Product), cmp.Compare(a.Currency, b.Currency))
	})
	summary, err := writers.NewSummary(r.tree.Dir())
	if err != nil {
		return nil, err
	}
	for i := range rows {
		row := &rows[i]
		if len(r.cycles) == 0 || r.cycles[len(r.cycles)-1] != row.Cycle {
			r.cycles = append(r.cycles, row.Cycle)
		}
		if err := r.statementRow(summary, row); err != nil {
			return nil, err
		}
	}
	sumOut, err := summary.Close()
	if err != nil {
		return nil, err
	}
	idxOut, err := r.commitIndex(c.Indexes)
	if err != nil {
		return nil, err
	}
	return append(slices.Clone(c.Bills), idxOut, sumOut), nil
}

// ShardIndex is one shard's index/payers.parquet (a local path), and Map,
// which gives a row the published name of its file and its first row there
// (a file merged into another starts further in).
type ShardIndex struct {
	Path string
	Map  func(row *writers.IndexRow)
}

// commitIndex merges the shards' indexes into the tree's: each is sorted
// by cycle, payer and file, and so is their merge, the published names
// sorting by shard (rows of files merged into one sort by their first
// row there).
func (r *run) commitIndex(shards []ShardIndex) (writers.Output, error) {
	idx, err := writers.NewIndex(r.tree.Dir())
	if err != nil {
		return writers.Output{}, err
	}
	type stream struct {
		rows chan writers.IndexRow
		err  chan error
		row  writers.IndexRow
		ok   bool
	}
	done := make(chan struct{})
	defer close(done)
	streams := make([]*stream, len(shards))
	for i, sh := range shards {
		st := &stream{rows: make(chan writers.IndexRow, 256), err: make(chan error, 1)}
		streams[i] = st
		go func() {
			defer close(st.rows)
			st.err <- writers.ReadIndex(sh.Path, func(row *writers.IndexRow) error {
				x := *row
				sh.Map(&x)
				select {
				case st.rows <- x:
					return nil
				case <-done:
					return context.Canceled
				}
			})
		}()
	}
	next := func(st *stream) error {
		st.row, st.ok = <-st.rows
		if !st.ok {
			return <-st.err
		}
		return nil
	}
	for _, st := range streams {
		if err := next(st); err != nil {
			return writers.Output{}, err
		}
	}
	for {
		var min *stream
		for _, st := range streams {
			if st.ok && (min == nil || cmp.Or(cmp.Compare(st.row.Cycle, min.row.Cycle), strings.Compare(st.row.Payer, min.row.Payer),
				strings.Compare(st.row.File, min.row.File), cmp.Compare(st.row.FirstRow, min.row.FirstRow),
				strings.Compare(st.row.Currency, min.row.Currency)) < 0) {
				min = st
			}
		}
		if min == nil {
			break
		}
		if err := idx.Write(&min.row); err != nil {
			return writers.Output{}, err
		}
		if err := next(min); err != nil {
			return writers.Output{}, err
		}
	}
	return idx.Close()
}

// commitRejects merges the shards' usage rejects into the single run's
// order: by file, then row.
func (r *run) commitRejects(c *CommitInput) (writers.Output, error) {
	index := map[string]int{}
	for i, f := range c.Files {
		index[f] = i
	}
	var all []writers.Reject
	for _, p := range c.Rejects {
		if err := writers.ReadRejects(p, func(x *writers.Reject) error {
			all = append(all, *x)
			return nil
		}); err != nil {
			return writers.Output{}, err
		}
	}
	slices.SortFunc(all, func(a, b writers.Reject) int {
		return cmp.Or(cmp.Compare(index[a.SourceFile], index[b.SourceFile]), cmp.Compare(a.SourceRow, b.SourceRow))
	})
	return writeRejectList(r.tree.Dir(), "usage", all)
}
