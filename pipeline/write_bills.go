package pipeline

import (
	"strconv"

	"github.com/billcons/billcons/spill"
	"github.com/billcons/billcons/writers"
)

// slab holds copies of spilled bills whose strings outlive the spill
// iterator's buffer (the summary row being summed keeps its keys): one
// allocation per megabyte instead of one per value.
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
		return summary.Write(&row)
	}
	var s spilled
	var mem slab
	err = r.replay(bySpill, func(key, payload []byte) error {
		key, payload = mem.copy(key), mem.copy(payload)
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
			row = writers.SummaryRow{Cycle: l.Cycle, Payer: s.Payer, AccountID: l.AccountID, Product: l.ProductCode, Currency: l.Currency}
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
