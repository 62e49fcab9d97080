package pipeline

import (
	"strconv"
	"strings"

	"github.com/billcons/billcons/spill"
	"github.com/billcons/billcons/writers"
)

// writeBills is pass D: write the bills one partition at a time, and the
// summary as runs of (cycle, payer, member, product, currency); leave out
// the duplicates.
func (r *run) writeBills(bySpill *spill.Sorter) ([]writers.Output, error) {
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
		if err := r.settle.row(&row); err != nil {
			return err
		}
		t := r.total(row.Currency)
		t.discount.AddSum(row.Discount)
		t.coupon.AddSum(row.Coupon)
		t.voucher.AddSum(row.Voucher)
		t.storedValue.AddSum(row.StoredVal)
		r.addCycle(&row)
		return summary.Write(&row)
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
		if !have || row.Cycle != l.Cycle || row.Payer != s.Payer || row.AccountID != l.AccountID || row.Product != l.ProductCode || row.Currency != l.Currency {
			if err := flush(); err != nil {
				return err
			}
			row = writers.SummaryRow{Cycle: l.Cycle, Payer: strings.Clone(s.Payer), AccountID: strings.Clone(l.AccountID),
				Product: strings.Clone(l.ProductCode), Currency: strings.Clone(l.Currency)}
			have = true
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
	r.counts.BillFiles = int64(len(outputs))
	sumOut, err := summary.Close()
	if err != nil {
		return nil, err
	}
	return append(outputs, sumOut), nil
}
