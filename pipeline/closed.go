package pipeline

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/spill"
	"github.com/billcons/billcons/writers"
)

// closedCycles is what a run keeps of the closed cycles of the version it
// starts from (CONTRACT.md, "Nightly runs over months": Close and
// Corrections). Their bills files, summary rows, credits applied and
// alerts are carried into the new version as they are; the run's lines of
// those cycles are recomputed as always and compared, by line_id, with
// their net invoiced state (the closed row plus the corrections made to it
// in closed cycles). Each difference becomes correction rows in the first
// open cycle, settled there.
type closedCycles struct {
	base string // the base version's folder
	m    *writers.Manifest
	last billing.Cycle // the latest closed cycle
	open billing.Cycle // the first open cycle: last + 1

	restate map[billing.Cycle]bool // --restate: the inputs hold these cycles whole

	// need are the closed cycles whose invoiced lines the run compares:
	// those the inputs hold lines of (accepted or rejected) and those
	// restated; needAll when a rejected row's cycle cannot be read. The
	// others' lines are all carried, from the manifest's net totals,
	// without reading their files.
	need    map[billing.Cycle]bool
	needAll bool

	// recomputed holds the run's lines of closed cycles by line_id, as pass
	// D found them (payer, discount and all); rejected the ids of the
	// usage rows rejected now.
	recomputed *spill.Sorter
	rejected   *spill.Sorter
	corrected  bool // correct has run

	// rec records the recomputation for verify (writers.RecomputedPath):
	// recAt sums the lines of the current closed cycle and payer as pass
	// D gives them, carriedAt the carried lines by cycle, payer and
	// currency.
	rec       *writers.Recomputed
	recAt     []writers.RecomputedRow
	carriedAt map[stmtKey]*writers.RecomputedRow

	// al is the closed cycle pass D is meeting its lines with; aligned the
	// cycles met so far; correctedIDs the lines that have correction rows in
	// closed cycles (their own row is not their net state); ord, key, buf
	// and ex the slow path's.
	al           *aligned
	aligned      map[billing.Cycle]bool
	correctedIDs map[string]bool
	ord          uint64
	key, buf     []byte
	ex           []billing.NullString

	// inv holds the closed rows of the cycles needed, by line_id (see
	// invoiced), for correct; invIDs the same rows' ids with what pass B
	// needs of them: their place in the line's history and the payment
	// status they were invoiced with (encodeStatus), a tenth of the bytes.
	inv, invIDs *spill.Sorter

	// The correction rows of the first open cycle in the order the bills
	// store them (payer, corrects_cycle, line_id, − before +), and per
	// statement row what they add, in summary order; next* are what pass
	// D has written of each.
	rows      []correction
	stmts     []stmtCorrection
	nextRow   int
	nextStmt  int
	carried   int64                   // invoiced lines absent from the inputs, kept as invoiced
	carriedBy map[string]*billing.Sum // their list amounts by currency
	returns   map[stmtKey][]rules.Application
	// paid are the credits the closed statement rows took (read once, by
	// keepSettlement), returnedEarlier what closed cycles' corrections
	// gave back of them.
	paid            map[stmtKey][]*paidCredit
	returnedEarlier []returned
	cycles          []billing.Cycle // the closed cycles that have bills
	// moved are the invoiced lines that the inputs now bill in an open
	// cycle (their billing_cycle changed): withdrawn from the closed one,
	// so that each line has one net state.
	moved map[string]bool
	// withdrawnRejected are the invoiced lines withdrawn because the
	// inputs reject them now: a loss the guards report.
	withdrawnRejected []string
	extras            []string // the run's extra columns
}

// stmtKey is a statement row: cycle, payer, member, product and currency.
type stmtKey struct {
	cycle                            billing.Cycle
	payer, member, product, currency string
}

func (a stmtKey) compare(b stmtKey) int {
	return cmp.Or(cmp.Compare(a.cycle, b.cycle), strings.Compare(a.payer, b.payer), strings.Compare(a.member, b.member),
		strings.Compare(a.product, b.product), strings.Compare(a.currency, b.currency))
}

// correction is one correction row: a line and its decision as the bills
// store it, and for a − row the closed statement row it reverses.
type correction struct {
	line     billing.UsageLine
	d        writers.Decided
	minus    bool
	reverses stmtKey
}

// stmtCorrection is what the correction rows add to one statement row of
// the first open cycle.
type stmtCorrection struct {
	key            stmtKey
	lines          int64
	list, discount billing.Sum
}

// invoicedRow is one closed bills row of a line: its original row or a
// correction made to it in a closed cycle.
type invoicedRow struct {
	cycle billing.Cycle // the cycle whose bills hold the row
	line  billing.UsageLine
	d     writers.Decided
}

// loadClosed reads what the base version closed, or returns nil when it
// closed nothing.
func (r *run) loadClosed(base string) (*closedCycles, error) {
	if base == "" {
		return nil, nil
	}
	m, err := writers.ReadManifest(base)
	if err != nil {
		return nil, err
	}
	last, ok := m.LastClosed()
	if !ok {
		if len(r.cfg.Restate) > 0 {
			return nil, fmt.Errorf("%w: --restate %s: %s has no closed cycle; --restate names a closed cycle whose inputs are whole", ErrUsage, r.cfg.Restate[0], r.cfg.Out)
		}
		return nil, nil
	}
	cc := &closedCycles{base: base, m: m, last: last, open: last + 1, restate: map[billing.Cycle]bool{}, need: map[billing.Cycle]bool{},
		carriedAt: map[stmtKey]*writers.RecomputedRow{}, paid: map[stmtKey][]*paidCredit{}, aligned: map[billing.Cycle]bool{}, correctedIDs: map[string]bool{},
		carriedBy: map[string]*billing.Sum{}, returns: map[stmtKey][]rules.Application{}, extras: r.extras.Names()}
	for _, c := range r.cfg.Restate {
		if c > last {
			return nil, fmt.Errorf("%w: --restate %s: the cycle is open (cycles up to %s are closed); an open cycle is recomputed from the inputs anyway", ErrUsage, c, last)
		}
		cc.restate[c] = true
		cc.need[c] = true
	}
	for _, ct := range m.Cycles {
		if c, err := billing.ParseCycle(ct.Cycle); err == nil && c <= last && !slices.Contains(cc.cycles, c) {
			cc.cycles = append(cc.cycles, c)
		}
	}
	cc.recomputed = spill.New(r.spillDir, "closed-recomputed", r.cfg.SpillBytes)
	cc.rejected = spill.New(r.spillDir, "rejected-ids", r.cfg.SpillBytes/16)
	return cc, nil
}

// carry puts the closed cycles' bills files into the staged version, as
// they are (hard links), and returns their outputs.
func (cc *closedCycles) carry(root string) ([]writers.Output, error) {
	var outs []writers.Output
	for _, o := range cc.m.Outputs {
		if !strings.HasPrefix(o.Path, "bills/") {
			continue
		}
		c, err := billing.ParseCycle(strings.TrimPrefix(path.Dir(o.Path), "bills/billing_cycle="))
		if err != nil || c > cc.last {
			continue
		}
		dst := filepath.Join(root, filepath.FromSlash(o.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.Link(filepath.Join(cc.base, filepath.FromSlash(o.Path)), dst); err != nil {
			return nil, fmt.Errorf("keeping closed %s: %w", o.Path, unwrapPath(err))
		}
		outs = append(outs, o)
	}
	return outs, nil
}

// keepIndex is the closed cycles' rows of the base version's index.
func (cc *closedCycles) keepIndex() ([]writers.IndexRow, error) {
	var rows []writers.IndexRow
	p := filepath.Join(cc.base, writers.IndexPath)
	if _, err := os.Stat(p); err != nil {
		return nil, nil
	}
	err := writers.ReadIndex(p, func(x *writers.IndexRow) error {
		if x.Cycle <= cc.last {
			rows = append(rows, *x)
		}
		return nil
	})
	return rows, err
}

// keepSettlement writes the closed cycles' summary rows and credits
// applied as the base version has them, and takes those applications
// from the credits' balances: the open cycles settle with what the closed
// ones left.
func (r *run) keepSettlement(summary *writers.Summary) error {
	cc := r.closed
	err := writers.ReadSummary(filepath.Join(cc.base, writers.PathOf("summary")), func(row *writers.SummaryRow) error {
		if row.Cycle > cc.last {
			return nil
		}
		r.counts.SummaryRows++
		t := r.total(row.Currency)
		t.discount.AddSum(row.Discount)
		t.coupon.AddSum(row.Coupon)
		t.voucher.AddSum(row.Voucher)
		t.storedValue.AddSum(row.StoredVal)
		return summary.Write(row)
	})
	if err != nil {
		return err
	}
	p := filepath.Join(cc.base, writers.PathOf("credits_applied"))
	if _, err := os.Stat(p); err != nil {
		return nil
	}
	return writers.ReadApplied(p, func(row *rules.StatementRow, a *rules.Application, from string) error {
		if row.Cycle > cc.last {
			return nil
		}
		r.settle.credits.Take(a.CreditID, a.Amount)
		r.settle.n++
		k := stmtKey{row.Cycle, strings.Clone(row.Payer), strings.Clone(row.Member), strings.Clone(row.Product), strings.Clone(row.Currency)}
		if from == "" {
			if err := r.settle.applied.Write(row, a); err != nil {
				return err
			}
			cc.paid[k] = append(cc.paid[k], &paidCredit{app: *a})
			return nil
		}
		// A return an earlier correction made: it counts against what
		// the credit paid on the row it reversed.
		f, err := billing.ParseCycle(from)
		if err != nil {
			return fmt.Errorf("%s: returned_from_cycle %q: %w", p, from, err)
		}
		if err := r.settle.applied.WriteReturn(row, a, f); err != nil {
			return err
		}
		k.cycle = f
		cc.returnedEarlier = append(cc.returnedEarlier, returned{k, a.CreditID, -a.Amount})
		return nil
	})
}

// paidCredit is a credit a closed statement row took, and what
// corrections have given back of it.
type paidCredit struct {
	app      rules.Application
	returned billing.Amount
}

// returned is what an earlier correction gave back of a credit that paid
// a closed statement row.
type returned struct {
	row    stmtKey
	credit string
	amount billing.Amount
}

// keepAlerts are the base version's alerts of the closed cycles.
func (cc *closedCycles) keepAlerts() ([]rules.Alert, error) {
	p := filepath.Join(cc.base, writers.PathOf("alerts"))
	if _, err := os.Stat(p); err != nil {
		return nil, nil
	}
	all, err := writers.ReadAlerts(p)
	if err != nil {
		return nil, err
	}
	var kept []rules.Alert
	for _, a := range all {
		if a.Cycle <= cc.last {
			kept = append(kept, a)
		}
	}
	return kept, nil
}

// keepCycles are the base version's totals of the closed cycles.
func (cc *closedCycles) keepCycles() []writers.CycleTotals {
	var kept []writers.CycleTotals
	for _, ct := range cc.m.Cycles {
		if c, err := billing.ParseCycle(ct.Cycle); err == nil && c <= cc.last {
			kept = append(kept, ct)
		}
	}
	return kept
}

// recompute takes a line of a closed cycle as pass D decided it: it adds
// it to the recomputation's record, and meets it with the cycle's own
// invoiced row; a line that differs, or has no such row, is kept for
// correct to compare by line_id.
func (cc *closedCycles) recompute(s *spilled, buf *[]byte) error {
	cc.need[s.line.Cycle] = true
	if len(cc.recAt) > 0 && (cc.recAt[0].Cycle != s.line.Cycle || cc.recAt[0].Payer != s.Payer) {
		if err := cc.flushRecomputed(); err != nil {
			return err
		}
	}
	var row *writers.RecomputedRow
	for i := range cc.recAt {
		if cc.recAt[i].Currency == s.line.Currency {
			row = &cc.recAt[i]
		}
	}
	if row == nil {
		cc.recAt = append(cc.recAt, writers.RecomputedRow{Cycle: s.line.Cycle, Payer: strings.Clone(s.Payer),
			Currency: strings.Clone(s.line.Currency), Kind: "recomputed"})
		row = &cc.recAt[len(cc.recAt)-1]
	}
	row.Lines++
	row.List.Add(s.line.ListAmount)
	row.Discount.Add(s.DiscountAmount)

	// The cycle's own invoiced rows, read beside its lines in the same
	// order: a line invoiced as it is now (nearly all) is done here; the
	// rest meet by line_id in correct.
	if cc.al == nil || cc.al.cycle != s.line.Cycle {
		if err := cc.align(s.line.Cycle); err != nil {
			return err
		}
	}
	al := cc.al
	for al.l != nil {
		c := compareBill(al.l, &al.d.Payer, &s.line, &s.Payer)
		if c > 0 {
			break
		}
		if c == 0 && !cc.correctedIDs[s.line.LineID] && al.l.ListAmount == s.line.ListAmount && al.d.DiscountAmount == s.DiscountAmount {
			return al.next() // invoiced as it is now
		}
		if err := cc.slowInvoiced(al.cycle, al.l, al.d, al.at); err != nil {
			return err
		}
		if err := al.next(); err != nil {
			return err
		}
		if c == 0 {
			break
		}
	}
	key := append([]byte(s.line.LineID), 0)
	*buf = encodeRow((*buf)[:0], s.line.Cycle, &s.line, &s.Decided)
	return cc.recomputed.Add(key, *buf)
}

// compareBill orders an invoiced own row and a recomputed line as the
// bills store them: payer, member, product, usage end, line_id, currency.
func compareBill(a *billing.UsageLine, aPayer *string, b *billing.UsageLine, bPayer *string) int {
	return cmp.Or(strings.Compare(*aPayer, *bPayer), strings.Compare(a.AccountID, b.AccountID), strings.Compare(a.ProductCode, b.ProductCode),
		cmp.Compare(a.UsageEnd, b.UsageEnd), strings.Compare(a.LineID, b.LineID), strings.Compare(a.Currency, b.Currency))
}

// aligned reads a closed cycle's own invoiced rows in order, for pass D
// to meet its lines with.
type aligned struct {
	cycle billing.Cycle
	files []string // the cycle's bills files still to open
	rows  *writers.BillRows
	at    []int // the run's extra columns by the file's
	l     *billing.UsageLine
	d     *writers.Decided
	extra []string // the run's extra columns
}

// next moves to the next own row (corrections of earlier cycles, in the
// same files, were spilled before pass B): nil at the end.
func (a *aligned) next() error {
	for {
		if a.rows == nil {
			if len(a.files) == 0 {
				a.l, a.d = nil, nil
				return nil
			}
			r, err := writers.OpenBillRows(a.files[0], a.cycle)
			if err != nil {
				return err
			}
			a.rows, a.files = r, a.files[1:]
			a.at = make([]int, len(a.extra))
			for i, name := range a.extra {
				a.at[i] = slices.Index(r.Extras, name)
			}
		}
		l, d, ok, err := a.rows.Next()
		if err != nil {
			return err
		}
		if !ok {
			a.rows.Close()
			a.rows = nil
			continue
		}
		if d.ChargeClass == "" {
			a.l, a.d = l, d
			return nil
		}
	}
}

func (a *aligned) close() {
	if a.rows != nil {
		a.rows.Close()
		a.rows = nil
	}
}

// align starts reading closed cycle c's own rows, after sending what is
// left of the cycle before to the slow path.
func (cc *closedCycles) align(c billing.Cycle) error {
	if err := cc.drainAligned(); err != nil {
		return err
	}
	cc.aligned[c] = true
	cc.al = &aligned{cycle: c, files: cc.filesOf(c), extra: cc.extras}
	return cc.al.next()
}

// drainAligned sends the rest of the aligned cycle's own rows to the slow
// path: lines the inputs no longer hold in that place.
func (cc *closedCycles) drainAligned() error {
	al := cc.al
	if al == nil {
		return nil
	}
	defer al.close()
	for al.l != nil {
		if err := cc.slowInvoiced(al.cycle, al.l, al.d, al.at); err != nil {
			return err
		}
		if err := al.next(); err != nil {
			return err
		}
	}
	cc.al = nil
	return nil
}

// drainUnaligned sends the own rows of the needed closed cycles that had
// no line tonight (restated, or needed for a rejected row) to the slow
// path.
func (cc *closedCycles) drainUnaligned() error {
	if err := cc.drainAligned(); err != nil {
		return err
	}
	for _, c := range cc.cycles {
		if cc.aligned[c] || !(cc.needAll || cc.need[c]) {
			continue
		}
		cc.aligned[c] = true
		cc.al = &aligned{cycle: c, files: cc.filesOf(c), extra: cc.extras}
		if err := cc.al.next(); err != nil {
			return err
		}
		if err := cc.drainAligned(); err != nil {
			return err
		}
	}
	return nil
}

// filesOf are closed cycle c's bills files in the base version, in order.
func (cc *closedCycles) filesOf(c billing.Cycle) []string {
	var files []string
	dir := writers.CycleDir(c) + "/"
	for _, o := range cc.m.Outputs {
		if strings.HasPrefix(o.Path, dir) {
			files = append(files, filepath.Join(cc.base, filepath.FromSlash(o.Path)))
		}
	}
	return files
}

// slowInvoiced spills a closed row by line_id for correct, its extra
// columns matched by name to the run's (at).
func (cc *closedCycles) slowInvoiced(c billing.Cycle, l *billing.UsageLine, d *writers.Decided, at []int) error {
	cc.ex = cc.ex[:0]
	for _, j := range at {
		var x billing.NullString
		if j >= 0 && j < len(l.Extra) {
			x = l.Extra[j]
		}
		cc.ex = append(cc.ex, x)
	}
	saved := l.Extra
	l.Extra = cc.ex
	cc.ord++
	cc.key = invoicedKey(cc.key[:0], l.LineID, c, cc.ord)
	cc.buf = encodeRow(cc.buf[:0], c, l, d)
	l.Extra = saved
	return cc.inv.Add(cc.key, cc.buf)
}

// invoicedKey orders closed rows by line_id, then the cycle whose bills
// hold them, then as they were read.
func invoicedKey(b []byte, id string, c billing.Cycle, ord uint64) []byte {
	b = append(append(b, id...), 0)
	b = binary.BigEndian.AppendUint32(b, uint32(c))
	return binary.BigEndian.AppendUint64(b, ord)
}

// flushRecomputed writes the sums of the current closed cycle and payer.
func (cc *closedCycles) flushRecomputed() error {
	slices.SortFunc(cc.recAt, func(a, b writers.RecomputedRow) int { return strings.Compare(a.Currency, b.Currency) })
	for i := range cc.recAt {
		if err := cc.rec.Write(&cc.recAt[i]); err != nil {
			return err
		}
	}
	cc.recAt = cc.recAt[:0]
	return nil
}

// carryLine adds a line carried as invoiced (its net state) to the
// recomputation's record.
func (cc *closedCycles) carryLine(net *invoicedRow, cycle billing.Cycle) {
	k := stmtKey{cycle: cycle, payer: net.d.Payer, currency: net.line.Currency}
	row := cc.carriedAt[k]
	if row == nil {
		k.payer, k.currency = strings.Clone(k.payer), strings.Clone(k.currency)
		row = &writers.RecomputedRow{Cycle: cycle, Payer: k.payer, Currency: k.currency, Kind: "carried"}
		cc.carriedAt[k] = row
	}
	row.Lines++
	row.List.Add(net.line.ListAmount)
	row.Discount.Add(net.d.DiscountAmount)
}

// encodeRow encodes a bills row: the cycle whose bills hold it, its line
// and its decision, the correction columns included.
func encodeRow(b []byte, cycle billing.Cycle, l *billing.UsageLine, d *writers.Decided) []byte {
	b = binary.AppendVarint(b, int64(cycle))
	b = encodeLine(b, l)
	for _, s := range [...]string{d.Payer, d.DecidedBy, d.HeldBy, d.DiscountOwner, d.DiscountRule, d.DiscountID,
		d.InvoiceID, d.ChargeClass, d.CorrectionReason, d.CorrectsCycle} {
		b = appendString(b, s)
	}
	b = append(b, byte(d.CorrectionSign))
	return binary.AppendVarint(b, int64(d.DiscountAmount))
}

// encodeStatus encodes what pass B needs of a closed row: the cycle whose
// bills hold it, its correction columns (for netState) and its payment
// status.
func encodeStatus(b []byte, cycle billing.Cycle, l *billing.UsageLine, d *writers.Decided) []byte {
	b = binary.AppendVarint(b, int64(cycle))
	b = appendString(b, d.ChargeClass)
	b = appendString(b, d.CorrectsCycle)
	b = append(b, byte(d.CorrectionSign), byte(l.PaymentStatus))
	if l.HasSettledAt {
		b = append(b, 1)
		return binary.AppendVarint(b, int64(l.SettledAt))
	}
	return append(b, 0)
}

// decodeStatus decodes what encodeStatus encoded into x; its strings
// point into b.
func decodeStatus(b []byte, x *invoicedRow) error {
	d := decoder{b: b, view: true}
	*x = invoicedRow{cycle: billing.Cycle(d.varint())}
	x.d.ChargeClass = d.string()
	x.d.CorrectsCycle = d.string()
	x.d.CorrectionSign = int8(d.byte())
	x.line.PaymentStatus = billing.PaymentStatus(d.byte())
	if d.byte() == 1 {
		x.line.SettledAt, x.line.HasSettledAt = billing.Time(d.varint()), true
	}
	if d.err || len(d.b) != 0 {
		return errCorrupt
	}
	return nil
}

// decodeRow decodes what encodeRow encoded; its strings point into b
// (see viewLine): [correction] rows clone what they keep.
func decodeRow(b []byte, x *invoicedRow) error {
	d := decoder{b: b, view: true}
	x.cycle = billing.Cycle(d.varint())
	d.line(&x.line)
	for _, f := range [...]*string{&x.d.Payer, &x.d.DecidedBy, &x.d.HeldBy, &x.d.DiscountOwner, &x.d.DiscountRule, &x.d.DiscountID,
		&x.d.InvoiceID, &x.d.ChargeClass, &x.d.CorrectionReason, &x.d.CorrectsCycle} {
		*f = d.string()
	}
	x.d.CorrectionSign = int8(d.byte())
	x.d.DiscountAmount = billing.Amount(d.varint())
	if d.err || len(d.b) != 0 {
		return errCorrupt
	}
	return nil
}

// rejectedID records the line_id of a usage row rejected now: an invoiced
// line rejected now is withdrawn.
func (cc *closedCycles) rejectedID(id, cycle string) error {
	if id == "" {
		return nil
	}
	if c, err := billing.ParseCycle(cycle); err != nil {
		cc.needAll = true // it may be any closed cycle's line
	} else if c <= cc.last {
		cc.need[c] = true
	}
	return cc.rejected.Add([]byte(id), nil)
}

// invoiced reads, before pass B, the bills of the closed cycles the run
// compares: every row's history and status goes to invIDs (for pass B),
// and every correction row whole to the sorter it returns (for correct,
// which also gets the own rows pass D does not meet), by line_id in the
// order they were billed, their extra columns matched by name to the
// run's.
func (r *run) invoiced() (*spill.Sorter, error) {
	cc := r.closed
	s := spill.New(r.spillDir, "closed-invoiced", r.cfg.SpillBytes)
	ids := spill.New(r.spillDir, "closed-ids", r.cfg.SpillBytes/2)
	cc.invIDs = ids
	var key, buf []byte
	var ex []billing.NullString
	needs := func(c billing.Cycle) bool { return cc.needAll || cc.need[c] }
	read := map[string]bool{}     // the closed cycles whose files hold rows of those needed
	corrects := map[string]bool{} // and those of them whose files hold corrections of them
	for _, cl := range cc.m.Closed {
		c, err := billing.ParseCycle(cl.Cycle)
		if err != nil {
			return nil, fmt.Errorf("manifest: closed cycle %q: %w", cl.Cycle, err)
		}
		read[cl.Cycle] = needs(c)
		for _, x := range cl.Corrects {
			if xc, err := billing.ParseCycle(x); err == nil && needs(xc) {
				read[cl.Cycle], corrects[cl.Cycle] = true, true
			}
		}
	}
	for _, o := range cc.m.Outputs {
		if !strings.HasPrefix(o.Path, "bills/") {
			continue
		}
		c, err := billing.ParseCycle(strings.TrimPrefix(path.Dir(o.Path), "bills/billing_cycle="))
		if err != nil || c > cc.last || !read[c.String()] {
			continue
		}
		// Every row's history and status for pass B; the whole row of a
		// correction, for correct. A file with no corrections needed is
		// read in those columns alone.
		p := filepath.Join(cc.base, filepath.FromSlash(o.Path))
		open := writers.OpenBillRowsNarrow
		if corrects[c.String()] {
			open = writers.OpenBillRows
		}
		rows, err := open(p, c)
		if err != nil {
			return nil, err
		}
		at := make([]int, len(cc.extras)) // the run's extras by the file's
		for i, name := range cc.extras {
			at[i] = slices.Index(rows.Extras, name)
		}
		err = func() error {
			defer rows.Close()
			for {
				l, d, ok, err := rows.Next()
				if err != nil || !ok {
					return err
				}
				if lc := c; d.CorrectsCycle != "" {
					if x, err := billing.ParseCycle(d.CorrectsCycle); err == nil {
						lc = x
					}
					if !needs(lc) {
						continue // a correction of a cycle the run does not compare
					}
				} else if !needs(c) {
					continue
				}
				cc.ord++
				key = invoicedKey(key[:0], l.LineID, c, cc.ord)
				if d.ChargeClass != "" {
					// A correction: to the slow path now, and its line's
					// own row too when pass D meets it.
					cc.correctedIDs[strings.Clone(l.LineID)] = true
					ex = ex[:0]
					for _, j := range at {
						var x billing.NullString
						if j >= 0 && j < len(l.Extra) {
							x = l.Extra[j]
						}
						ex = append(ex, x)
					}
					l.Extra = ex
					buf = encodeRow(buf[:0], c, l, d)
					if err := s.Add(key, buf); err != nil {
						return err
					}
				}
				buf = encodeStatus(buf[:0], c, l, d)
				if err := ids.Add(key, buf); err != nil {
					return err
				}
			}
		}()
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// netState folds a line's closed rows, in billing order, into its net
// invoiced state: the row standing now, or none once withdrawn. A line
// has a state per cycle it was billed in (more than one only when its
// billing_cycle moved): its own row there, changed by the corrections
// made to it; a − row (correction_sign −1) ends the state, a + row is
// the new one. The net state is the standing state of the latest such
// cycle.
func netState(rows []invoicedRow) (*invoicedRow, bool) {
	if len(rows) == 1 && rows[0].d.ChargeClass == "" {
		return &rows[0], true // nearly every line: its own row
	}
	type state struct {
		cycle string
		row   *invoicedRow
	}
	var states []state
	at := func(c string) *state {
		for i := range states {
			if states[i].cycle == c {
				return &states[i]
			}
		}
		states = append(states, state{cycle: c})
		return &states[len(states)-1]
	}
	// Within one cycle's bills a − row comes before its + row in billing
	// order only when they have one payer: take a cycle's rows of a line
	// together, the − rows first.
	for i := 0; i < len(rows); {
		j := i + 1
		for j < len(rows) && rows[j].cycle == rows[i].cycle {
			j++
		}
		group := rows[i:j]
		slices.SortStableFunc(group, func(a, b invoicedRow) int { return cmp.Compare(a.d.CorrectionSign, b.d.CorrectionSign) })
		for k := range group {
			x := &group[k]
			switch {
			case x.d.ChargeClass == "":
				at(x.cycle.String()).row = x
			case x.d.CorrectionSign < 0:
				at(x.d.CorrectsCycle).row = nil
			default:
				at(x.d.CorrectsCycle).row = x
			}
		}
		i = j
	}
	var net *invoicedRow
	last := ""
	for _, st := range states {
		if st.row != nil && st.cycle > last {
			net, last = st.row, st.cycle
		}
	}
	return net, net != nil
}

// reason is the one reason a line's recomputation differs from its net
// invoiced state, in the contract's order, or "" when it does not.
func reason(net *invoicedRow, now *invoicedRow) string {
	switch {
	case net == nil:
		return writers.ReasonLate
	case now.d.Payer != net.d.Payer:
		return writers.ReasonPayerChanged
	case now.line.ListAmount != net.line.ListAmount || now.line.Currency != net.line.Currency:
		return writers.ReasonAmountChanged
	case now.d.DiscountAmount != net.d.DiscountAmount:
		return writers.ReasonDiscountChanged
	}
	return ""
}

// correct compares the run's lines of closed cycles with their net
// invoiced states and makes the correction rows of the first open cycle,
// and the credits their − rows return.
func (r *run) correct() error {
	cc := r.closed
	cc.corrected = true
	if err := cc.flushRecomputed(); err != nil { // the last closed cycle and payer
		return err
	}
	if err := cc.drainUnaligned(); err != nil {
		return err
	}
	defer cc.inv.Remove()
	defer cc.recomputed.Remove()
	defer cc.rejected.Remove()
	its, err := cc.inv.Merge()
	if err != nil {
		return err
	}
	defer its.Close()
	rec, err := cc.recomputed.Merge()
	if err != nil {
		return err
	}
	defer rec.Close()
	rej, err := cc.rejected.Merge()
	if err != nil {
		return err
	}
	defer rej.Close()
	if err := cc.compare(its, rec, rej); err != nil {
		return err
	}
	if err := cc.carryUnread(); err != nil {
		return err
	}
	if err := cc.writeCarried(); err != nil {
		return err
	}
	cc.orderCorrections()
	return r.returnCredits()
}

// compare meets, by line id, the invoiced rows of closed cycles (its), the
// lines recomputed from the inputs (rec) and the ids rejected now (rej),
// and judges each line (judge).
//
// Each row is decoded from its own copy of the record, in a buffer reused
// from line to line: an iterator's record lasts only until its next one.
// The rows' strings are views of those buffers; add clones what a
// correction keeps.
func (cc *closedCycles) compare(its, rec, rej *spill.Iter) error {
	var bufs [][]byte
	var nowBuf, id []byte
	var rows []invoicedRow
	var now invoicedRow
	iK, iV, iOK := its.Next()
	rK, rV, rOK := rec.Next()
	jK, _, jOK := rej.Next()
	for iOK || rOK {
		switch {
		case !iOK:
			id = append(id[:0], lineKey(rK)...)
		case !rOK || bytes.Compare(lineKey(iK), lineKey(rK)) <= 0:
			id = append(id[:0], lineKey(iK)...)
		default:
			id = append(id[:0], lineKey(rK)...)
		}
		rows = rows[:0]
		for n := 0; iOK && bytes.Equal(lineKey(iK), id); n++ {
			if n == len(bufs) {
				bufs = append(bufs, nil)
			}
			bufs[n] = append(bufs[n][:0], iV...)
			rows = append(rows, invoicedRow{})
			if err := decodeRow(bufs[n], &rows[n]); err != nil {
				return err
			}
			iK, iV, iOK = its.Next()
		}
		haveNow := rOK && bytes.Equal(lineKey(rK), id)
		if haveNow {
			nowBuf = append(nowBuf[:0], rV...)
			if err := decodeRow(nowBuf, &now); err != nil {
				return err
			}
			rK, rV, rOK = rec.Next()
		}
		for jOK && bytes.Compare(jK, id) < 0 {
			jK, _, jOK = rej.Next()
		}
		rejected := jOK && bytes.Equal(jK, id)
		var nowRow *invoicedRow
		if haveNow {
			nowRow = &now
		}
		cc.judge(id, rows, nowRow, rejected)
	}
	return cmp.Or(its.Err(), rec.Err(), rej.Err())
}

// judge gives one line its correction, if any: rows are its invoiced
// rows in closed cycles, now its recomputation from the inputs (nil when
// the inputs lack it), rejected whether the inputs have it rejected.
func (cc *closedCycles) judge(id []byte, rows []invoicedRow, now *invoicedRow, rejected bool) {
	net, invoiced := netState(rows)
	switch {
	case now == nil && !invoiced:
		// Withdrawn in a closed cycle and still not in the inputs.
	case now == nil:
		if rejected || cc.restate[correctsCycle(net)] || cc.moved[string(id)] {
			cc.add(net, correctsCycle(net), writers.ReasonWithdrawn, true)
			if rejected {
				cc.withdrawnRejected = append(cc.withdrawnRejected, string(id))
			}
			return
		}
		cc.carried++
		cc.carryLine(net, correctsCycle(net))
		sum := cc.carriedBy[net.line.Currency]
		if sum == nil {
			sum = &billing.Sum{}
			cc.carriedBy[strings.Clone(net.line.Currency)] = sum
		}
		sum.Add(net.line.ListAmount)
	default:
		switch why := reason(net, now); why {
		case "":
		case writers.ReasonLate:
			cc.add(now, now.line.Cycle, why, false)
		default:
			// The line keeps the status its cycle invoiced it with.
			now.line.PaymentStatus, now.line.SettledAt, now.line.HasSettledAt = net.line.PaymentStatus, net.line.SettledAt, net.line.HasSettledAt
			cc.add(net, correctsCycle(net), why, true)
			cc.add(now, now.line.Cycle, why, false)
		}
	}
}

// correctsCycle is the closed cycle a row belongs to: its own, or, for a
// correction row, the cycle it corrects.
func correctsCycle(x *invoicedRow) billing.Cycle {
	if x.d.CorrectsCycle != "" {
		if c, err := billing.ParseCycle(x.d.CorrectsCycle); err == nil {
			return c
		}
	}
	return x.line.Cycle
}

// writeCarried writes the recomputation rows of what was carried as
// invoiced, in cycle, payer and currency order.
func (cc *closedCycles) writeCarried() error {
	carried := slices.SortedFunc(maps.Values(cc.carriedAt), func(a, b *writers.RecomputedRow) int {
		return cmp.Or(cmp.Compare(a.Cycle, b.Cycle), strings.Compare(a.Payer, b.Payer), strings.Compare(a.Currency, b.Currency))
	})
	for _, row := range carried {
		if err := cc.rec.Write(row); err != nil {
			return err
		}
	}
	return nil
}

// orderCorrections sorts the correction rows as the open cycle's bills
// hold them (payer, corrected cycle, line id, − before +) and sums them
// per statement row.
func (cc *closedCycles) orderCorrections() {
	slices.SortStableFunc(cc.rows, func(a, b correction) int {
		return cmp.Or(strings.Compare(a.d.Payer, b.d.Payer), strings.Compare(a.d.CorrectsCycle, b.d.CorrectsCycle),
			strings.Compare(a.line.LineID, b.line.LineID), -cmp.Compare(b2i(a.minus), b2i(b.minus)))
	})
	agg := map[stmtKey]*stmtCorrection{}
	for i := range cc.rows {
		x := &cc.rows[i]
		k := stmtKey{cc.open, x.d.Payer, x.line.AccountID, x.line.ProductCode, x.line.Currency}
		a := agg[k]
		if a == nil {
			a = &stmtCorrection{key: k}
			agg[k] = a
		}
		a.lines++
		a.list.Add(x.line.ListAmount)
		a.discount.Add(x.d.DiscountAmount)
	}
	for _, a := range agg {
		cc.stmts = append(cc.stmts, *a)
	}
	slices.SortFunc(cc.stmts, func(a, b stmtCorrection) int { return a.key.compare(b.key) })
}

// invoicedStatus gives the lines of closed cycles that pass B observes
// (those that may hold a change back) the payment status and settled_at
// their cycle invoiced them with (CONTRACT.md, Corrections): a payment
// since, alone, changes no payer and corrects nothing. Lines come in
// line_id order; so do the invoiced rows.
type invoicedStatus struct {
	it   *spill.Iter
	key  []byte
	val  []byte
	ok   bool
	bufs [][]byte
	rows []invoicedRow
}

func (cc *closedCycles) newInvoicedStatus() (*invoicedStatus, error) {
	it, err := cc.invIDs.Merge()
	if err != nil {
		return nil, err
	}
	s := &invoicedStatus{it: it}
	s.key, s.val, s.ok = it.Next()
	return s, nil
}

// apply sets l's status to its invoiced one, if it has a net invoiced
// state.
func (s *invoicedStatus) apply(l *billing.UsageLine) error {
	net, ok, err := s.at([]byte(l.LineID))
	if ok {
		l.PaymentStatus, l.SettledAt, l.HasSettledAt = net.line.PaymentStatus, net.line.SettledAt, net.line.HasSettledAt
	}
	return err
}

// at returns the net invoiced state of line id, if it has one; ids must
// come in ascending order.
func (s *invoicedStatus) at(id []byte) (*invoicedRow, bool, error) {
	for s.ok && bytes.Compare(lineKey(s.key), id) < 0 {
		s.key, s.val, s.ok = s.it.Next()
	}
	s.rows = s.rows[:0]
	for n := 0; s.ok && bytes.Equal(lineKey(s.key), id); n++ {
		if n == len(s.bufs) {
			s.bufs = append(s.bufs, nil)
		}
		s.bufs[n] = append(s.bufs[n][:0], s.val...)
		s.rows = append(s.rows, invoicedRow{})
		if err := decodeStatus(s.bufs[n], &s.rows[n]); err != nil {
			return nil, false, err
		}
		s.key, s.val, s.ok = s.it.Next()
	}
	net, ok := netState(s.rows)
	return net, ok, s.it.Err()
}

func (s *invoicedStatus) close() { s.it.Close() }

// openLine is the payload pass A gives, when cycles are closed, to the id
// of a line of an open cycle that holds nothing back: pass B checks
// whether a closed cycle invoiced it.
const openLine = 0

// checkMoved records line id, billed now in an open cycle, when a closed
// cycle invoiced it and it still stands there.
func (cc *closedCycles) checkMoved(s *invoicedStatus, id []byte) error {
	_, ok, err := s.at(id)
	if ok {
		if cc.moved == nil {
			cc.moved = map[string]bool{}
		}
		cc.moved[string(id)] = true
	}
	return err
}

// lineKey is the line_id of a key of the recomputed, rejected or invoiced
// sorters: up to its NUL, if any.
func lineKey(key []byte) []byte {
	if i := bytes.IndexByte(key, 0); i >= 0 {
		return key[:i]
	}
	return key
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// add makes one correction row of the first open cycle from a line's net
// invoiced state (minus: its reversal, amounts and usage_quantity negated)
// or its recomputation.
func (cc *closedCycles) add(x *invoicedRow, corrects billing.Cycle, why string, minus bool) {
	c := correction{line: x.line, d: x.d, minus: minus}
	l, d := &c.line, &c.d // the row's strings are views: keep copies
	for _, f := range [...]*string{&l.LineID, &l.AccountID, &l.ProductCode, &l.Currency, &l.ResourceID,
		&d.Payer, &d.DecidedBy, &d.HeldBy, &d.DiscountOwner, &d.DiscountRule, &d.DiscountID} {
		*f = strings.Clone(*f)
	}
	l.Extra = slices.Clone(x.line.Extra)
	for i := range l.Extra {
		l.Extra[i].S = strings.Clone(l.Extra[i].S)
	}
	c.d.InvoiceID, c.d.ChargeClass, c.d.CorrectionReason, c.d.CorrectsCycle = "", writers.ChargeClassCorrection, why, corrects.String()
	c.d.CorrectionSign = 1
	if minus {
		c.d.CorrectionSign = -1
	}
	if minus {
		c.reverses = stmtKey{x.cycle, d.Payer, l.AccountID, l.ProductCode, l.Currency}
		c.line.ListAmount = -c.line.ListAmount
		c.d.DiscountAmount = -c.d.DiscountAmount
		if i := slices.Index(cc.extras, "usage_quantity"); i >= 0 && i < len(c.line.Extra) && c.line.Extra[i].Valid {
			c.line.Extra[i].S = negateDecimal(c.line.Extra[i].S)
		}
	}
	c.line.Cycle = cc.open
	cc.rows = append(cc.rows, c)
}

// negateDecimal negates a decimal written as text: a usage quantity.
func negateDecimal(s string) string {
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return s
	case t[0] == '-':
		return t[1:]
	case t[0] == '+':
		t = t[1:]
	}
	if strings.Trim(t, "0.") == "" {
		return t
	}
	return "-" + t
}

// returnCredits gives back, for each − row in the contract's order
// (corrects_cycle, payer, member, product, currency, line_id), what the
// credits paid on the closed statement row it reverses: in reverse
// settlement order, up to what each paid there net of earlier returns. A
// return is a negative application on the open statement row holding the
// − row; the credit may pay again.
func (r *run) returnCredits() error {
	cc := r.closed
	var minus []*correction
	for i := range cc.rows {
		if x := &cc.rows[i]; x.minus && x.line.ListAmount-x.d.DiscountAmount < 0 {
			minus = append(minus, x)
		}
	}
	if len(minus) == 0 {
		return nil
	}
	slices.SortStableFunc(minus, func(a, b *correction) int {
		return cmp.Or(strings.Compare(a.d.CorrectsCycle, b.d.CorrectsCycle), strings.Compare(a.d.Payer, b.d.Payer),
			strings.Compare(a.line.AccountID, b.line.AccountID), strings.Compare(a.line.ProductCode, b.line.ProductCode),
			strings.Compare(a.line.Currency, b.line.Currency), strings.Compare(a.line.LineID, b.line.LineID))
	})
	// What earlier corrections gave back counts against what each credit
	// paid on the row it reversed.
	for _, e := range cc.returnedEarlier {
		for _, p := range cc.paid[e.row] {
			if p.app.CreditID == e.credit {
				p.returned += e.amount
			}
		}
	}
	for _, x := range minus {
		owed := -(x.line.ListAmount - x.d.DiscountAmount) // what the reversed row was charged
		apps := cc.paid[x.reverses]
		for i := len(apps) - 1; i >= 0 && owed > 0; i-- {
			a := apps[i]
			give := min(a.app.Amount-a.returned, owed)
			if give <= 0 {
				continue
			}
			a.returned += give
			owed -= give
			back := rules.Application{CreditID: a.app.CreditID, Owner: a.app.Owner, Kind: a.app.Kind, Amount: -give}
			open := stmtKey{cc.open, x.d.Payer, x.line.AccountID, x.line.ProductCode, x.line.Currency}
			cc.returns[open] = append(cc.returns[open], back)
			r.settle.credits.Take(back.CreditID, back.Amount)
			st := rules.StatementRow{Cycle: open.cycle, Payer: open.payer, Member: open.member, Product: open.product, Currency: open.currency}
			if err := r.settle.applied.WriteReturn(&st, &back, x.reverses.cycle); err != nil {
				return err
			}
			r.settle.n++
		}
	}
	return nil
}

// carryUnread carries the lines of the closed cycles the run did not
// compare, as invoiced: all of them, by the manifest's net totals.
func (cc *closedCycles) carryUnread() error {
	if cc.needAll {
		return nil
	}
	for _, t := range cc.m.Net {
		c, err := billing.ParseCycle(t.Cycle)
		if err != nil {
			return fmt.Errorf("manifest: net totals of %q: %w", t.Cycle, err)
		}
		if cc.need[c] {
			continue
		}
		cc.carried += t.Lines
		for cur, v := range t.List {
			x, err := billing.ParseSum(v)
			if err != nil {
				return fmt.Errorf("manifest: net totals of %s: %w", t.Cycle, err)
			}
			sum := cc.carriedBy[cur]
			if sum == nil {
				sum = &billing.Sum{}
				cc.carriedBy[cur] = sum
			}
			sum.AddSum(x)
		}
	}
	return nil
}

// closedRecords are the closed cycles the new version keeps, and their
// net totals: the base version's.
func (r *run) closedRecords() ([]writers.ClosedCycle, []writers.NetTotals) {
	if r.closed == nil {
		return nil, nil
	}
	return r.closed.m.Closed, r.closed.m.Net
}
