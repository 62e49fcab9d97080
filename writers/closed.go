package writers

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/rules"
	"github.com/parquet-go/parquet-go"
)

// ClosedCycle is one closed billing cycle, as a version's manifest records
// it: when and by which version it was closed, and its bills files with
// their SHA-256, which every later version keeps byte for byte.
type ClosedCycle struct {
	Cycle   string   `json:"cycle"`
	Version int64    `json:"closed_in_version"`
	At      string   `json:"closed_at"`
	Files   []Output `json:"files"`
	// Corrects are the earlier cycles whose lines its correction rows
	// correct: a run that reads those cycles' lines reads its files too.
	Corrects []string `json:"corrects,omitempty"`
}

// NetTotals are the net invoiced states of one closed cycle's lines (by
// the cycle a line belongs to, wherever its rows are): how many lines
// stand, and their list amounts per currency. A run that reads none of the
// cycle's lines carries them all as invoiced without reading its files.
type NetTotals struct {
	Cycle string            `json:"cycle"`
	Lines int64             `json:"lines"`
	List  map[string]string `json:"list"`
}

// netTotals adds closed rows to the net totals by line cycle.
type netTotals map[string]*netCycle

type netCycle struct {
	lines int64
	list  map[string]*billing.Sum
}

func (n netTotals) cycle(c string) *netCycle {
	x := n[c]
	if x == nil {
		x = &netCycle{list: map[string]*billing.Sum{}}
		n[c] = x
	}
	return x
}

func (x *netCycle) sum(currency string) *billing.Sum {
	s := x.list[currency]
	if s == nil {
		s = &billing.Sum{}
		x.list[strings.Clone(currency)] = s
	}
	return s
}

// addRow adds one closed bills row: a line's own row or a + correction
// stands for one line more, a − correction for one less; each moves the
// amounts by its own.
func (n netTotals) addRow(rowCycle billing.Cycle, l *billing.UsageLine, d *Decided) {
	cycle, lines := rowCycle.String(), int64(1)
	if d.ChargeClass != "" {
		cycle, lines = d.CorrectsCycle, int64(d.CorrectionSign)
	}
	x := n.cycle(cycle)
	x.lines += lines
	x.sum(l.Currency).Add(l.ListAmount)
}

// from starts the totals from a manifest's.
func (n netTotals) from(old []NetTotals) error {
	for _, t := range old {
		x := n.cycle(t.Cycle)
		x.lines += t.Lines
		for cur, v := range t.List {
			s, err := billing.ParseSum(v)
			if err != nil {
				return fmt.Errorf("manifest: net totals of %s: %w", t.Cycle, err)
			}
			x.sum(cur).AddSum(s)
		}
	}
	return nil
}

func (n netTotals) list() []NetTotals {
	var out []NetTotals
	for _, c := range slices.Sorted(maps.Keys(n)) {
		x := n[c]
		t := NetTotals{Cycle: c, Lines: x.lines, List: map[string]string{}}
		for cur, s := range x.list {
			t.List[cur] = s.String()
		}
		out = append(out, t)
	}
	return out
}

// LastClosed is the latest closed cycle, and false when none is.
func (m *Manifest) LastClosed() (billing.Cycle, bool) {
	if len(m.Closed) == 0 {
		return 0, false
	}
	c, err := billing.ParseCycle(m.Closed[len(m.Closed)-1].Cycle)
	return c, err == nil
}

// IsClosed reports whether cycle c is closed in the version m describes:
// every cycle up to the last one closed is.
func (m *Manifest) IsClosed(c billing.Cycle) bool {
	last, ok := m.LastClosed()
	return ok && c <= last
}

// InvoiceID is the invoice of one payer and currency in a closed cycle:
// YYYYMM-PAYER-CURRENCY.
func InvoiceID(c billing.Cycle, payer, currency string) string {
	return strings.ReplaceAll(c.String(), "-", "") + "-" + payer + "-" + currency
}

// Correction classes and reasons (CONTRACT.md, Corrections): a correction
// row's charge_class, and its correction_reason, in the order a line's
// difference is given its one reason.
const (
	ChargeClassCorrection = "correction"

	ReasonWithdrawn       = "line_withdrawn"
	ReasonLate            = "late_line"
	ReasonPayerChanged    = "payer_changed"
	ReasonAmountChanged   = "amount_changed"
	ReasonDiscountChanged = "discount_changed"
)

// ReadBillRows calls fn for each row of a bills file written by [Bills],
// decoded as the line and decision it was written from (its cycle from
// the partition folder, cycle). The extra columns are those of the file
// after the contract's, in file order, named by extras. The strings of l
// and d are valid only during the call.
func ReadBillRows(p string, cycle billing.Cycle, fn func(l *billing.UsageLine, d *Decided, extras []string) error) error {
	r, err := OpenBillRows(p, cycle)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		l, d, ok, err := r.Next()
		if err != nil || !ok {
			return err
		}
		if err := fn(l, d, r.Extras); err != nil {
			return err
		}
	}
}

// BillRows reads the rows of a bills file one by one ([OpenBillRows]), by
// the column reader verify uses (a map per row, as [parquetio.Read] gives,
// made a run over eleven closed months of 100,000 lines each 3.7 times
// slower).
type BillRows struct {
	Extras []string // the extra columns, in file order
	p      string
	t      readers.Table
	cycle  billing.Cycle
	header []string
	at     struct {
		payer, line, account, product, sub, start, end, list, cur, status, issued, settled int
		decided, held, typ, resource, owner, rule, discID, disc, invoice, class, reason    int
		corrects, sign                                                                     int
	}
	extraAt []int
	rows    []readers.Row
	n, i    int
	done    bool
	narrow  bool
	l       billing.UsageLine
	d       Decided
}

// OpenBillRowsNarrow opens the bills file p of closed cycle cycle to read
// only what a line's history needs: its line_id, payment status and
// settled_at, and the correction columns; the other fields are zero.
func OpenBillRowsNarrow(p string, cycle billing.Cycle) (*BillRows, error) {
	r, err := OpenBillRows(p, cycle)
	if err != nil {
		return nil, err
	}
	r.narrow = true
	a := &r.at
	readers.ReadOnly(r.t, []int{a.line, a.status, a.settled, a.class, a.reason, a.corrects, a.sign})
	return r, nil
}

// OpenBillRows opens the bills file p of closed cycle cycle.
func OpenBillRows(p string, cycle billing.Cycle) (*BillRows, error) {
	t, err := readers.Open(p)
	if err != nil {
		return nil, err
	}
	r := &BillRows{p: p, t: t, cycle: cycle, header: t.Header(), rows: make([]readers.Row, 1024)}
	for i, c := range r.header {
		if !slices.Contains(BillColumns, c) {
			r.Extras, r.extraAt = append(r.Extras, c), append(r.extraAt, i)
		}
	}
	for _, c := range []string{"payer_account_id", "line_id", "account_id", "product_code", "usage_start", "usage_end", "list_amount", "currency", "issued_at", "discount_amount"} {
		if !slices.Contains(r.header, c) {
			t.Close()
			return nil, fmt.Errorf("%s: no column %s", p, c)
		}
	}
	col := func(name string) int { return slices.Index(r.header, name) }
	a := &r.at
	a.payer, a.line, a.account, a.product = col("payer_account_id"), col("line_id"), col("account_id"), col("product_code")
	a.sub, a.start, a.end, a.list = col("subscription_type"), col("usage_start"), col("usage_end"), col("list_amount")
	a.cur, a.status, a.issued, a.settled = col("currency"), col("payment_status"), col("issued_at"), col("settled_at")
	a.decided, a.held, a.typ, a.resource = col("decided_by"), col("held_by"), col("charge_type"), col("resource_id")
	a.owner, a.rule, a.discID, a.disc = col("discount_owner"), col("discount_rule"), col("discount_id"), col("discount_amount")
	a.invoice, a.class, a.reason, a.corrects = col("invoice_id"), col("charge_class"), col("correction_reason"), col("corrects_cycle")
	a.sign = col("correction_sign")
	readers.DeliverTyped(t, []int{a.start, a.end, a.issued, a.settled, a.list, a.disc})
	return r, nil
}

// Close closes the file.
func (r *BillRows) Close() error { return r.t.Close() }

// Next returns the next row, and false at the end. l and d, and their
// strings, are valid until the next call.
func (r *BillRows) Next() (*billing.UsageLine, *Decided, bool, error) {
	for r.i >= r.n {
		if r.done {
			return nil, nil, false, nil
		}
		n, err := r.t.Read(r.rows)
		r.n, r.i = n, 0
		if err == io.EOF {
			r.done = true
		} else if err != nil {
			return nil, nil, false, fmt.Errorf("%s: %w", r.p, err)
		}
	}
	row := &r.rows[r.i]
	r.i++
	if row.Err != nil {
		return nil, nil, false, fmt.Errorf("%s: row %d: %w", r.p, row.N, row.Err)
	}
	text := func(c int) string {
		if c < 0 || c >= len(row.Fields) || (row.Null != nil && row.Null[c]) {
			return ""
		}
		return row.Fields[c]
	}
	var bad error
	tm := func(c int) billing.Time {
		x, ok := row.Time(c)
		if !ok && bad == nil {
			bad = fmt.Errorf("%s: row %d: %s is not a timestamp", r.p, row.N, r.header[c])
		}
		return x
	}
	amt := func(c int) billing.Amount {
		x, ok := row.Amount(c)
		if !ok && bad == nil {
			bad = fmt.Errorf("%s: row %d: %s is not an amount", r.p, row.N, r.header[c])
		}
		return x
	}
	a := &r.at
	if r.narrow {
		ps, err := billing.ParsePaymentStatus(text(a.status))
		if err != nil {
			return nil, nil, false, fmt.Errorf("%s: row %d: %w", r.p, row.N, err)
		}
		r.l = billing.UsageLine{LineID: text(a.line), Cycle: r.cycle, PaymentStatus: ps}
		if a.settled >= 0 && (row.Null == nil || !row.Null[a.settled]) {
			r.l.SettledAt, r.l.HasSettledAt = tm(a.settled), true
		}
		r.d = Decided{ChargeClass: text(a.class), CorrectionReason: text(a.reason), CorrectsCycle: text(a.corrects)}
		switch text(a.sign) {
		case "1":
			r.d.CorrectionSign = 1
		case "-1":
			r.d.CorrectionSign = -1
		}
		return &r.l, &r.d, bad == nil, bad
	}
	st, err1 := billing.ParseSubscriptionType(text(a.sub))
	ps, err2 := billing.ParsePaymentStatus(text(a.status))
	ct, err3 := billing.ParseChargeType(text(a.typ))
	if err := cmp.Or(err1, err2, err3); err != nil {
		return nil, nil, false, fmt.Errorf("%s: row %d: %w", r.p, row.N, err)
	}
	r.l = billing.UsageLine{LineID: text(a.line), AccountID: text(a.account), ProductCode: text(a.product),
		Cycle: r.cycle, SubscriptionType: st, UsageStart: tm(a.start), UsageEnd: tm(a.end),
		ListAmount: amt(a.list), Currency: text(a.cur), PaymentStatus: ps, IssuedAt: tm(a.issued),
		ChargeType: ct, ResourceID: text(a.resource), Extra: r.l.Extra[:0]}
	if a.settled >= 0 && (row.Null == nil || !row.Null[a.settled]) {
		r.l.SettledAt, r.l.HasSettledAt = tm(a.settled), true
	}
	for _, c := range r.extraAt {
		valid := c < len(row.Fields) && (row.Null == nil || !row.Null[c])
		x := billing.NullString{Valid: valid}
		if valid {
			x.S = row.Fields[c]
		}
		r.l.Extra = append(r.l.Extra, x)
	}
	r.d = Decided{Payer: text(a.payer), DecidedBy: text(a.decided), HeldBy: text(a.held),
		DiscountOwner: text(a.owner), DiscountRule: text(a.rule), DiscountID: text(a.discID),
		DiscountAmount: amt(a.disc), InvoiceID: text(a.invoice),
		ChargeClass: text(a.class), CorrectionReason: text(a.reason), CorrectsCycle: text(a.corrects)}
	switch text(a.sign) {
	case "1":
		r.d.CorrectionSign = 1
	case "-1":
		r.d.CorrectionSign = -1
	}
	if bad != nil {
		return nil, nil, false, bad
	}
	return &r.l, &r.d, true, nil
}

// ReadApplied calls fn for each row of a credits/applied.parquet file, in
// file order (the settlement order), with the cycle a return was given
// back from ("" for an application).
func ReadApplied(p string, fn func(row *rules.StatementRow, a *rules.Application, from string) error) error {
	var row rules.StatementRow
	var a rules.Application
	return parquetio.Read(p, func(_ []string, v map[string]parquet.Value) error {
		c, err := billing.ParseCycle(v["billing_cycle"].String())
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		k, err := billing.ParseCreditKind(v["kind"].String())
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		row = rules.StatementRow{Cycle: c, Payer: v["payer_account_id"].String(), Member: v["account_id"].String(),
			Product: v["product_code"].String(), Currency: v["currency"].String()}
		a = rules.Application{CreditID: v["credit_id"].String(), Owner: v["owner_account_id"].String(), Kind: k,
			Amount: billing.Amount(v["amount"].Int64())}
		from := ""
		if x, ok := v["returned_from_cycle"]; ok && !x.IsNull() {
			from = x.String()
		}
		return fn(&row, &a, from)
	})
}

// ReadAlerts returns the rows of an alerts/alerts.parquet file.
func ReadAlerts(p string) ([]rules.Alert, error) {
	var out []rules.Alert
	err := parquetio.Read(p, func(_ []string, v map[string]parquet.Value) error {
		c, err := billing.ParseCycle(v["billing_cycle"].String())
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		a := rules.Alert{Cycle: c, Payer: v["payer_account_id"].String(), Currency: v["currency"].String(),
			AmountDue: billing.SumFromBytes16(v["amount_due"].ByteArray()), Limit: billing.Amount(v["limit"].Int64()),
			Members: v["members"].Int64()}
		switch v["kind"].String() {
		case rules.SpendingAlert.Code:
			a.Rule = rules.SpendingAlert
		case rules.LowCreditAlert.Code:
			a.Rule = rules.LowCreditAlert
		default:
			return fmt.Errorf("%s: unknown alert kind %q", p, v["kind"].String())
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// RecomputedPath is the file in which a run over closed cycles records
// what it recomputed of them from its inputs, for verify.
const RecomputedPath = "closed/recomputed.parquet"

// RecomputedRow is one closed cycle, payer and currency of a run's
// recomputation: the lines the inputs hold as decided now ("recomputed"),
// or the invoiced lines the inputs lack, carried as invoiced ("carried").
type RecomputedRow struct {
	Cycle          billing.Cycle
	Payer          string
	Currency       string
	Kind           string // "recomputed" or "carried"
	Lines          int64
	List, Discount billing.Sum
}

// Recomputed writes RecomputedPath.
type Recomputed struct{ f *parquetio.Writer }

// NewRecomputed creates RecomputedPath under root.
func NewRecomputed(root string) (*Recomputed, error) {
	f, err := createFlat(root, RecomputedPath, "recomputed", []parquetio.Column{
		{Name: "billing_cycle", Kind: parquetio.Text}, {Name: "payer_account_id", Kind: parquetio.Text}, {Name: "currency", Kind: parquetio.Text},
		{Name: "kind", Kind: parquetio.Text}, {Name: "line_count", Kind: parquetio.Count}, {Name: "list_amount", Kind: parquetio.Sum}, {Name: "discount_amount", Kind: parquetio.Sum},
	})
	if err != nil {
		return nil, err
	}
	return &Recomputed{f: f}, nil
}

// Write appends one row.
func (w *Recomputed) Write(r *RecomputedRow) error {
	f := w.f
	f.Text(r.Cycle.String())
	f.Text(r.Payer)
	f.Text(r.Currency)
	f.Text(r.Kind)
	f.Int64(r.Lines)
	f.Sum(r.List)
	f.Sum(r.Discount)
	return f.EndRow()
}

// Close writes the footer.
func (w *Recomputed) Close() (Output, error) { return output(w.f.Close()) }

// ReadRecomputed calls fn for each row of a RecomputedPath file.
func ReadRecomputed(p string, fn func(*RecomputedRow) error) error {
	var row RecomputedRow
	return parquetio.Read(p, func(_ []string, v map[string]parquet.Value) error {
		c, err := billing.ParseCycle(v["billing_cycle"].String())
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		row = RecomputedRow{Cycle: c, Payer: v["payer_account_id"].String(), Currency: v["currency"].String(), Kind: v["kind"].String(),
			Lines: v["line_count"].Int64(), List: billing.SumFromBytes16(v["list_amount"].ByteArray()),
			Discount: billing.SumFromBytes16(v["discount_amount"].ByteArray())}
		return fn(&row)
	})
}
