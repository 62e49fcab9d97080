package pipeline

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/storage"
)

// usageTally is one reader's counts and totals, added to the run's at the
// end (exact integers: the order of the additions does not matter).
type usageTally struct {
	read, rejected, pending int64
	totals                  map[string]*currencyTotals
	closed                  []billing.Cycle // the closed cycles it read lines of
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

// UsageReaders is how many usage files are read at once unless
// Config.Jobs says otherwise.
const UsageReaders = 2

// readUsage is pass A: parse every usage row; bad rows go to the rejects,
// good ones into runs sorted by line_id and read order. Files are read by
// up to UsageReaders goroutines at once; a line's place in the read order
// is its file's index and its row, so the outcome does not depend on which
// goroutine read what first.
func (r *run) readUsage(files []string, plan *rules.Plan, sp *lineSpills) error {
	// The headers first, in file order: extra columns are numbered in the
	// order they are first seen, and every decoder must know them all.
	// A large Parquet file is cut into parts of whole row groups from the
	// same opening, so that one file as DuckDB or Spark write it is still
	// read by every reader.
	decs := make([]*readers.UsageDecoder, len(files))
	parts := make([][]readers.Part, len(files))
	for fi, path := range files {
		t, err := r.openUsage(fi, path)
		if err != nil {
			return err
		}
		decs[fi], err = readers.NewUsageDecoderWith(t, &r.extras, readers.UsageOptions{Profile: r.cfg.Profile, Zone: r.cfg.Zone, Currency: r.cfg.Currency})
		if r.cfg.Shard == nil {
			parts[fi] = readers.Parts(t, cmp.Or(r.cfg.PartRows, PartRows))
		}
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
	// The work: each file, or each part of one.
	var units []usageUnit
	for fi := range files {
		if parts[fi] == nil {
			units = append(units, usageUnit{fi: fi})
		}
		for i := range parts[fi] {
			units = append(units, usageUnit{fi: fi, part: &parts[fi][i]})
		}
	}
	fileRows := make([]int64, len(files)) // rows read, by file; mu guards it
	next := make(chan usageUnit)
	tallies := make([]*usageTally, min(cmp.Or(r.cfg.Jobs, UsageReaders), len(units)))
	for w := range tallies {
		tally := &usageTally{totals: map[string]*currencyTotals{}}
		tallies[w] = tally
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range next {
				if err := r.readUsageFile(ctx, u, files[u.fi], decs[u.fi], plan, tally, &read, &mu, sp, fileRows); err != nil {
					fail(err)
				}
			}
		}()
	}
feed:
	for _, u := range units {
		select {
		case next <- u:
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
	for fi, path := range files {
		r.setRows(path, "usage", fileRows[fi])
	}
	for _, t := range tallies {
		if r.closed != nil {
			for _, c := range t.closed {
				r.closed.need[c] = true
			}
		}
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

// PartRows is the fewest rows a part of a Parquet usage file has when the
// file is cut into parts read at once: 1,048,576, one of DuckDB's row
// groups; gen's files (524,288 rows) stay whole.
const PartRows = 1 << 20

// usageUnit is what one reader reads at a time: usage file fi, or one part
// of it.
type usageUnit struct {
	fi   int
	part *readers.Part // nil: the whole file
}

// readUsageFile reads one usage file, or a part of one, into the sorters,
// which mu guards.
func (r *run) readUsageFile(ctx context.Context, u usageUnit, path string, dec *readers.UsageDecoder, plan *rules.Plan, tally *usageTally,
	read *atomic.Int64, mu *sync.Mutex, sp *lineSpills, fileRows []int64) error {
	fi := u.fi
	var t readers.Table
	var err error
	if u.part != nil {
		t, err = readers.OpenPart(path, *u.part)
		t, err = r.named(path, t, err)
	} else {
		t, err = r.openUsage(fi, path)
	}
	if err != nil {
		return err
	}
	defer t.Close()
	if !slices.Equal(t.Header(), dec.Header()) {
		return fmt.Errorf("%s: changed during the run (its header differs)", path)
	}
	dec = dec.ForReader() // a file's parts are read at once
	readers.DeliverTyped(t, dec.TypedColumns())
	// A rejected row's amount counts when its amount and currency parse,
	// from the columns the profile reads them from, as verify recounts it.
	amountCol, currencyCol, fixedCurrency := dec.AmountColumns()
	var idKey, idPayload, key, payload []byte
	var line billing.UsageLine
	var rows int64
	err = readers.Each(ctx, t, func(row *readers.Row) error {
		rows++
		tally.read++
		if n := read.Add(1); n%1024 == 0 {
			r.cfg.Progress.add(1024)
			if n == 1024 {
				storage.Checkpoint("reading")
			}
		}
		if e := dec.Decode(row, &line); e != nil {
			tally.rejected++
			// Count from the values the reject's record holds, as verify
			// does, even for a row with too many or too few fields.
			if v, ok := fieldAt(row, amountCol); ok {
				if c, ok := fieldAt(row, currencyCol); ok {
					tally.countRejectedAmount(v, c)
				} else if currencyCol < 0 && fixedCurrency != "" {
					tally.countRejectedAmount(v, fixedCurrency)
				}
			}
			x := rowReject(dec.Header(), row, e)
			payload = encodeReject(payload[:0], &x)
			mu.Lock()
			defer mu.Unlock()
			if r.closed != nil {
				if id, ok := fieldAt(row, dec.LineIDColumn()); ok {
					cycle, _ := fieldAt(row, dec.CycleColumn())
					if err := r.closed.rejectedID(strings.TrimSpace(id), strings.TrimSpace(cycle)); err != nil {
						return err
					}
				}
			}
			return sp.rejects.Add(rejectKey(fi, row.N), payload)
		}
		line.Seq = seqOf(fi, row.N)
		tally.total(line.Currency).read.Add(line.ListAmount)
		idKey = append(idKey[:0], line.LineID...)
		idKey = append(idKey, 0)
		idKey = binary.BigEndian.AppendUint64(idKey, line.Seq)
		// The prepaid rules: an adjustment the rule rejects never holds a
		// change back, and a refund whose verdict needs the member's
		// purchases waits for them (pass B collects them).
		adjRejected := plan.RejectsAdjustment(&line)
		prepaid := adjRejected || plan.NeedsPurchases(&line)
		idPayload = idPayload[:0]
		member := plan.Member(line.AccountID) // one lookup for both questions
		holds := member.Holds(&line)
		if cc := r.closed; cc != nil && line.Cycle <= cc.last {
			if !slices.Contains(tally.closed, line.Cycle) {
				tally.closed = append(tally.closed, line.Cycle)
			}
			if !holds && line.PaymentStatus == billing.Settled {
				// Pass B observes it with the status its cycle invoiced,
				// which may be unsettled: a payment alone corrects nothing.
				line.PaymentStatus = billing.Unsettled
				holds = member.Holds(&line)
				line.PaymentStatus = billing.Settled
			}
		}
		if (holds && !adjRejected) || plan.IsPurchaseToRecord(&line) {
			idPayload = encodeLine(idPayload, &line)
		} else if r.closed != nil && line.Cycle > r.closed.last {
			idPayload = append(idPayload, openLine)
		}
		d, early := member.AssignEarly(&line)
		if prepaid {
			early = false
			key = binary.BigEndian.AppendUint64(key[:0], line.Seq)
			payload = encodePrepaid(payload[:0], &line, adjRejected, recordJSON(readers.Record(dec.Header(), row)))
		} else if early {
			key = billKey(key[:0], &line, d.Payer)
			ld := r.discounts.Apply(&line, d)
			payload = encodeBill(payload[:0], &line, &d, &ld)
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
		switch {
		case prepaid:
			return sp.prepaid.Add(key, payload)
		case early:
			return sp.bills.Add(key, payload)
		}
		return sp.pending.Add(key, payload)
	})
	if err != nil {
		return err
	}
	if err := r.usageUnchanged(path); err != nil {
		return err
	}
	mu.Lock()
	fileRows[fi] += rows
	mu.Unlock()
	return nil
}

// openUsage opens usage file fi: the file itself, or in a shard of a
// sharded run, the shard's rows of it.
func (r *run) openUsage(fi int, path string) (readers.Table, error) {
	if r.cfg.Shard != nil {
		return r.cfg.Shard.Open(fi)
	}
	t, err := readers.Open(path)
	return r.named(path, t, err)
}

// named gives an opened usage file the name the run calls path by: a file
// fetched from a bucket is named by its URL in its rejects.
func (r *run) named(path string, t readers.Table, err error) (readers.Table, error) {
	if err != nil || r.name(path) == path {
		return t, err
	}
	return readers.Renamed(t, r.name(path)), nil
}

// usageUnchanged is unchanged for a usage file a run reads itself; a
// shard's rows were checked by the split step that read the file.
func (r *run) usageUnchanged(path string) error {
	if r.cfg.Shard != nil {
		return nil
	}
	return r.unchanged(path)
}
