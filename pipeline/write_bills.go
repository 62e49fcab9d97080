package pipeline

import (
	"slices"
	"strconv"
	"strings"

	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/spill"
	"github.com/billcons/billcons/writers"
)

// writeBills is pass D: write the bills one partition at a time, and the
// summary as runs of (cycle, payer, member, product, currency); leave out
// the duplicates.
func (r *run) writeBills(bySpill *spill.Sorter) ([]writers.Output, error) {
	bills, err := writers.NewBills(r.tree.Dir(), r.extras.Names())
	if err != nil {
		return nil, err
	}
	if r.cfg.Jobs > 0 {
		bills.SetWriters(r.cfg.Jobs)
	}
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
	var kept []writers.Output // the closed cycles' bills files
	cc := r.closed
	if cc != nil {
		cc.extras = r.extras.Names()
		if kept, err = cc.carry(r.tree.Dir()); err != nil {
			return nil, err
		}
		rows, err := cc.keepIndex()
		if err != nil {
			return nil, err
		}
		if err := bills.Carry(rows); err != nil {
			return nil, err
		}
		if err := r.keepSettlement(summary); err != nil {
			return nil, err
		}
		r.cycles = append(r.cycles, cc.cycles...)
		if cc.rec, err = writers.NewRecomputed(r.tree.Dir()); err != nil {
			return nil, err
		}
	}
	// corrRows writes the first open cycle's correction rows of the
	// payers before payer ("" for all), once correct has made them;
	// corrStmts its statement rows of corrections alone before key (nil
	// for all) and adds the corrections of the row at key, if given.
	corrRows := func(payer string) error {
		if cc == nil {
			return nil
		}
		if !cc.corrected {
			if err := r.correct(); err != nil {
				return err
			}
		}
		for ; cc.nextRow < len(cc.rows) && (payer == "" || cc.rows[cc.nextRow].d.Payer < payer); cc.nextRow++ {
			x := &cc.rows[cc.nextRow]
			if len(r.cycles) == 0 || r.cycles[len(r.cycles)-1] != cc.open {
				r.cycles = append(r.cycles, cc.open)
			}
			if err := bills.Write(&x.line, &x.d); err != nil {
				return err
			}
			r.counts.CorrectionRows++
		}
		return nil
	}
	corrStmts := func(at *writers.SummaryRow) error {
		if cc == nil {
			return nil
		}
		if err := corrRows("\x00"); err != nil { // correct has run
			return err
		}
		var key *stmtKey
		if at != nil {
			key = &stmtKey{at.Cycle, at.Payer, at.AccountID, at.Product, at.Currency}
		}
		for ; cc.nextStmt < len(cc.stmts); cc.nextStmt++ {
			a := &cc.stmts[cc.nextStmt]
			c := -1
			if key != nil {
				c = a.key.compare(*key)
			}
			if c > 0 {
				break
			}
			if c == 0 {
				at.LineCount += a.lines
				at.ListAmount.AddSum(a.list)
				at.Discount.AddSum(a.discount)
				at.Correction = a.list
				at.Correction.SubSum(a.discount)
				continue
			}
			k := a.key
			x := writers.SummaryRow{Cycle: k.cycle, Payer: k.payer, AccountID: k.member, Product: k.product, Currency: k.currency,
				LineCount: a.lines, ListAmount: a.list, Discount: a.discount, Correction: a.list}
			x.Correction.SubSum(a.discount)
			if err := r.statementRow(summary, &x); err != nil {
				return err
			}
		}
		return nil
	}
	// The summary rows of one (cycle, payer, member, product): the bills
	// come in usage-end order, so its currencies interleave; they are
	// written in currency order once the next group begins.
	var group []writers.SummaryRow
	flush := func() error {
		slices.SortFunc(group, func(a, b writers.SummaryRow) int { return strings.Compare(a.Currency, b.Currency) })
		for i := range group {
			if cc != nil && group[i].Cycle >= cc.open {
				if err := corrStmts(&group[i]); err != nil {
					return err
				}
			}
			if err := r.statementRow(summary, &group[i]); err != nil {
				return err
			}
		}
		group = group[:0]
		return nil
	}
	// A line's strings point into the spill iterator's buffer, valid until
	// the next line: the bills writer copies what it keeps, and the summary
	// row being summed keeps copies of its keys.
	var s spilled
	var row []byte
	err = r.replay(bySpill, func(key, payload []byte) error {
		if err := viewBill(key, payload, &s); err != nil {
			return err
		}
		l := &s.line
		if r.dups.has(l.Seq) {
			r.total(l.Currency).rejected.Add(l.ListAmount)
			return nil
		}
		if k, ok := r.renames[l.Seq]; ok {
			l.LineID = l.LineID + "." + strconv.FormatUint(uint64(k), 10)
		}
		if cc != nil {
			if l.Cycle <= cc.last {
				// A line of a closed cycle: compared, not billed again.
				r.counts.UsageBilled++
				r.total(l.Currency).billed.Add(l.ListAmount)
				return cc.recompute(&s, &row)
			}
			// The first open cycle's correction rows of a payer follow its
			// own lines; all of them come before a later cycle's lines.
			upTo := s.Payer
			if l.Cycle > cc.open {
				upTo = ""
			}
			if err := corrRows(upTo); err != nil {
				return err
			}
		}
		if len(r.cycles) == 0 || r.cycles[len(r.cycles)-1] != l.Cycle {
			r.cycles = append(r.cycles, l.Cycle)
		}
		if err := bills.Write(l, &s.Decided); err != nil {
			return err
		}
		r.counts.UsageBilled++
		r.total(l.Currency).billed.Add(l.ListAmount)
		if len(group) > 0 {
			if g := &group[0]; g.Cycle != l.Cycle || g.Payer != s.Payer || g.AccountID != l.AccountID || g.Product != l.ProductCode {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		var sr *writers.SummaryRow
		for i := range group {
			if group[i].Currency == l.Currency {
				sr = &group[i]
				break
			}
		}
		if sr == nil {
			group = append(group, writers.SummaryRow{Cycle: l.Cycle, Payer: strings.Clone(s.Payer), AccountID: strings.Clone(l.AccountID),
				Product: strings.Clone(l.ProductCode), Currency: strings.Clone(l.Currency)})
			sr = &group[len(group)-1]
		}
		sr.LineCount++
		sr.ListAmount.Add(l.ListAmount)
		sr.Discount.Add(s.DiscountAmount)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if err := corrRows(""); err != nil {
		return nil, err
	}
	if err := corrStmts(nil); err != nil {
		return nil, err
	}
	closed = true
	outputs, err := bills.Close()
	if err != nil {
		return nil, err
	}
	outputs = append(kept, outputs...)
	r.counts.BillFiles = int64(len(outputs) - 1) // the last is the index
	sumOut, err := summary.Close()
	if err != nil {
		return nil, err
	}
	outputs = append(outputs, sumOut)
	if cc != nil {
		recOut, err := cc.rec.Close()
		if err != nil {
			return nil, err
		}
		outputs = append(outputs, recOut)
	}
	return outputs, nil
}

// statementRow settles one statement row, in the settlement order, adds it
// to the run's totals and the cycle's, and writes it to the summary.
func (r *run) statementRow(summary *writers.Summary, row *writers.SummaryRow) error {
	r.counts.SummaryRows++
	var returns []rules.Application
	if r.closed != nil && row.Cycle == r.closed.open {
		returns = r.closed.returns[stmtKey{row.Cycle, row.Payer, row.AccountID, row.Product, row.Currency}]
	}
	if err := r.settle.row(row, returns); err != nil {
		return err
	}
	t := r.total(row.Currency)
	t.discount.AddSum(row.Discount)
	t.coupon.AddSum(row.Coupon)
	t.voucher.AddSum(row.Voucher)
	t.storedValue.AddSum(row.StoredVal)
	r.addCycle(row)
	return summary.Write(row)
}
