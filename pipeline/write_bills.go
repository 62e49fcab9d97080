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
	p, err := r.newBillsPass()
	if err != nil {
		return nil, err
	}
	defer func() {
		if !p.closed {
			p.bills.Close() // let its goroutines finish on the way out of a failure
		}
	}()
	if err := r.replay(bySpill, p.line); err != nil {
		return nil, err
	}
	return p.finish()
}

// billsPass is pass D under way: the bills and summary being written, the
// closed cycles carried (cc, nil when none is closed), and the summary
// rows of the (cycle, payer, member, product) being summed.
type billsPass struct {
	r       *run
	bills   *writers.Bills
	summary *writers.Summary
	cc      *closedCycles
	kept    []writers.Output // the closed cycles' bills files
	closed  bool             // bills closed
	// group is the summary rows of one (cycle, payer, member, product): the
	// bills come in usage-end order, so its currencies interleave; they
	// are written in currency order once the next group begins.
	group []writers.SummaryRow
	s     spilled
	row   []byte
}

// newBillsPass opens the bills and the summary, and carries the closed
// cycles' files, index rows and settlement as they were.
func (r *run) newBillsPass() (*billsPass, error) {
	bills, err := writers.NewBills(r.tree.Dir(), r.extras.Names())
	if err != nil {
		return nil, err
	}
	if r.cfg.Jobs > 0 {
		bills.SetWriters(r.cfg.Jobs)
	}
	p := &billsPass{r: r, bills: bills, cc: r.closed}
	if err := p.open(); err != nil {
		bills.Close()
		return nil, err
	}
	return p, nil
}

func (p *billsPass) open() error {
	r, cc := p.r, p.cc
	var err error
	if p.summary, err = writers.NewSummary(r.tree.Dir()); err != nil {
		return err
	}
	if cc == nil {
		return nil
	}
	cc.extras = r.extras.Names()
	if p.kept, err = cc.carry(r.tree.Dir()); err != nil {
		return err
	}
	rows, err := cc.keepIndex()
	if err != nil {
		return err
	}
	if err := p.bills.Carry(rows); err != nil {
		return err
	}
	if err := r.keepSettlement(p.summary); err != nil {
		return err
	}
	r.cycles = append(r.cycles, cc.cycles...)
	cc.rec, err = writers.NewRecomputed(r.tree.Dir())
	return err
}

// corrRows writes the first open cycle's correction rows of the payers
// before payer ("" for all), once correct has made them.
func (p *billsPass) corrRows(payer string) error {
	r, cc := p.r, p.cc
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
		if err := p.bills.Write(&x.line, &x.d); err != nil {
			return err
		}
		r.counts.CorrectionRows++
	}
	return nil
}

// corrStmts writes the first open cycle's statement rows of corrections
// alone before at (nil for all), and adds the corrections of the row at
// at's key, if given, to it.
func (p *billsPass) corrStmts(at *writers.SummaryRow) error {
	cc := p.cc
	if cc == nil {
		return nil
	}
	if err := p.corrRows("\x00"); err != nil { // correct has run
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
		if err := p.r.statementRow(p.summary, &x); err != nil {
			return err
		}
	}
	return nil
}

// flush writes the summary rows of the group, in currency order.
func (p *billsPass) flush() error {
	slices.SortFunc(p.group, func(a, b writers.SummaryRow) int { return strings.Compare(a.Currency, b.Currency) })
	for i := range p.group {
		if p.cc != nil && p.group[i].Cycle >= p.cc.open {
			if err := p.corrStmts(&p.group[i]); err != nil {
				return err
			}
		}
		if err := p.r.statementRow(p.summary, &p.group[i]); err != nil {
			return err
		}
	}
	p.group = p.group[:0]
	return nil
}

// line takes one spilled line: a duplicate is left out, a closed cycle's
// line compared, any other billed and summed. Its strings point into the
// spill iterator's buffer, valid until the next line: the bills writer
// copies what it keeps, and the summary row being summed keeps copies of
// its keys.
func (p *billsPass) line(key, payload []byte) error {
	r, cc, s := p.r, p.cc, &p.s
	if err := viewBill(key, payload, s); err != nil {
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
			return cc.recompute(s, &p.row)
		}
		// The first open cycle's correction rows of a payer follow its
		// own lines; all of them come before a later cycle's lines.
		upTo := s.Payer
		if l.Cycle > cc.open {
			upTo = ""
		}
		if err := p.corrRows(upTo); err != nil {
			return err
		}
	}
	if len(r.cycles) == 0 || r.cycles[len(r.cycles)-1] != l.Cycle {
		r.cycles = append(r.cycles, l.Cycle)
	}
	if err := p.bills.Write(l, &s.Decided); err != nil {
		return err
	}
	r.counts.UsageBilled++
	r.total(l.Currency).billed.Add(l.ListAmount)
	return p.sum(s)
}

// sum adds a billed line to its summary row, writing the group before it
// when the line begins another.
func (p *billsPass) sum(s *spilled) error {
	l := &s.line
	if len(p.group) > 0 {
		if g := &p.group[0]; g.Cycle != l.Cycle || g.Payer != s.Payer || g.AccountID != l.AccountID || g.Product != l.ProductCode {
			if err := p.flush(); err != nil {
				return err
			}
		}
	}
	var sr *writers.SummaryRow
	for i := range p.group {
		if p.group[i].Currency == l.Currency {
			sr = &p.group[i]
			break
		}
	}
	if sr == nil {
		p.group = append(p.group, writers.SummaryRow{Cycle: l.Cycle, Payer: strings.Clone(s.Payer), AccountID: strings.Clone(l.AccountID),
			Product: strings.Clone(l.ProductCode), Currency: strings.Clone(l.Currency)})
		sr = &p.group[len(p.group)-1]
	}
	sr.LineCount++
	sr.ListAmount.Add(l.ListAmount)
	sr.Discount.Add(s.DiscountAmount)
	return nil
}

// finish writes what is left (the last group, the corrections after every
// line) and closes the files: the closed cycles' bills, the new ones and
// the index, the summary, and the closed cycles' recomputation.
func (p *billsPass) finish() ([]writers.Output, error) {
	if err := p.flush(); err != nil {
		return nil, err
	}
	if err := p.corrRows(""); err != nil {
		return nil, err
	}
	if err := p.corrStmts(nil); err != nil {
		return nil, err
	}
	p.closed = true
	outputs, err := p.bills.Close()
	if err != nil {
		return nil, err
	}
	outputs = append(p.kept, outputs...)
	p.r.counts.BillFiles = int64(len(outputs) - 1) // the last is the index
	sumOut, err := p.summary.Close()
	if err != nil {
		return nil, err
	}
	outputs = append(outputs, sumOut)
	if p.cc != nil {
		recOut, err := p.cc.rec.Close()
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
