package pipeline

import (
	"slices"
	"strconv"
	"strings"

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
	// The summary rows of one (cycle, payer, member, product): the bills
	// come in usage-end order, so its currencies interleave; they are
	// written in currency order once the next group begins.
	var group []writers.SummaryRow
	flush := func() error {
		slices.SortFunc(group, func(a, b writers.SummaryRow) int { return strings.Compare(a.Currency, b.Currency) })
		for i := range group {
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
		var row *writers.SummaryRow
		for i := range group {
			if group[i].Currency == l.Currency {
				row = &group[i]
				break
			}
		}
		if row == nil {
			group = append(group, writers.SummaryRow{Cycle: l.Cycle, Payer: strings.Clone(s.Payer), AccountID: strings.Clone(l.AccountID),
				Product: strings.Clone(l.ProductCode), Currency: strings.Clone(l.Currency)})
			row = &group[len(group)-1]
		}
		row.LineCount++
		row.ListAmount.Add(l.ListAmount)
		row.Discount.Add(s.DiscountAmount)
		return nil
	})
	if err != nil {
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
	r.counts.BillFiles = int64(len(outputs) - 1) // the last is the index
	sumOut, err := summary.Close()
	if err != nil {
		return nil, err
	}
	return append(outputs, sumOut), nil
}

// statementRow settles one statement row, in the settlement order, adds it
// to the run's totals and the cycle's, and writes it to the summary.
func (r *run) statementRow(summary *writers.Summary, row *writers.SummaryRow) error {
	r.counts.SummaryRows++
	if err := r.settle.row(row); err != nil {
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
