package writers

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/billcons/billcons/billing"
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
// after the contract's, in file order, named by extras. It reads by the
// column reader verify uses (a map per row, as [ReadParquet] gives,
// made a run over eleven closed months of 100,000 lines each 3.7 times
// slower). The strings of l and d are valid only during the call.
func ReadBillRows(p string, cycle billing.Cycle, fn func(l *billing.UsageLine, d *Decided, extras []string) error) error {
	t, err := readers.Open(p)
	if err != nil {
		return err
	}
	defer t.Close()
	header := t.Header()
	var extras []string
	var extraAt []int
	for i, c := range header {
		if !slices.Contains(BillColumns, c) {
			extras, extraAt = append(extras, c), append(extraAt, i)
		}
	}
	col := func(name string) int { return slices.Index(header, name) }
	var (
		cPayer, cLine, cAccount, cProduct = col("payer_account_id"), col("line_id"), col("account_id"), col("product_code")
		cSub, cStart, cEnd, cList         = col("subscription_type"), col("usage_start"), col("usage_end"), col("list_amount")
		cCur, cStatus, cIssued, cSettled  = col("currency"), col("payment_status"), col("issued_at"), col("settled_at")
		cDecided, cHeld, cType, cResource = col("decided_by"), col("held_by"), col("charge_type"), col("resource_id")
		cOwner, cRule, cDiscID, cDisc     = col("discount_owner"), col("discount_rule"), col("discount_id"), col("discount_amount")
		cInvoice, cClass, cReason, cCorr  = col("invoice_id"), col("charge_class"), col("correction_reason"), col("corrects_cycle")
		cSign                             = col("correction_sign")
	)
	for _, c := range []string{"payer_account_id", "line_id", "account_id", "product_code", "usage_start", "usage_end", "list_amount", "currency", "issued_at", "discount_amount"} {
		if col(c) < 0 {
			return fmt.Errorf("%s: no column %s", p, c)
		}
	}
	readers.DeliverTyped(t, []int{cStart, cEnd, cIssued, cSettled, cList, cDisc})
	var l billing.UsageLine
	var d Decided
	rows := make([]readers.Row, 1024)
	for {
		n, rerr := t.Read(rows)
		for i := range rows[:n] {
			r := &rows[i]
			if r.Err != nil {
				return fmt.Errorf("%s: row %d: %w", p, r.N, r.Err)
			}
			text := func(c int) string {
				if c < 0 || c >= len(r.Fields) || (r.Null != nil && r.Null[c]) {
					return ""
				}
				return r.Fields[c]
			}
			var bad error
			tm := func(c int) billing.Time {
				x, ok := r.Time(c)
				if !ok && bad == nil {
					bad = fmt.Errorf("%s: row %d: %s is not a timestamp", p, r.N, header[c])
				}
				return x
			}
			amt := func(c int) billing.Amount {
				x, ok := r.Amount(c)
				if !ok && bad == nil {
					bad = fmt.Errorf("%s: row %d: %s is not an amount", p, r.N, header[c])
				}
				return x
			}
			st, err1 := billing.ParseSubscriptionType(text(cSub))
			ps, err2 := billing.ParsePaymentStatus(text(cStatus))
			ct, err3 := billing.ParseChargeType(text(cType))
			if err := cmp.Or(err1, err2, err3); err != nil {
				return fmt.Errorf("%s: row %d: %w", p, r.N, err)
			}
			l = billing.UsageLine{LineID: text(cLine), AccountID: text(cAccount), ProductCode: text(cProduct),
				Cycle: cycle, SubscriptionType: st, UsageStart: tm(cStart), UsageEnd: tm(cEnd),
				ListAmount: amt(cList), Currency: text(cCur), PaymentStatus: ps, IssuedAt: tm(cIssued),
				ChargeType: ct, ResourceID: text(cResource), Extra: l.Extra[:0]}
			if cSettled >= 0 && (r.Null == nil || !r.Null[cSettled]) {
				l.SettledAt, l.HasSettledAt = tm(cSettled), true
			}
			for _, c := range extraAt {
				valid := c < len(r.Fields) && (r.Null == nil || !r.Null[c])
				x := billing.NullString{Valid: valid}
				if valid {
					x.S = r.Fields[c]
				}
				l.Extra = append(l.Extra, x)
			}
			d = Decided{Payer: text(cPayer), DecidedBy: text(cDecided), HeldBy: text(cHeld),
				DiscountOwner: text(cOwner), DiscountRule: text(cRule), DiscountID: text(cDiscID),
				DiscountAmount: amt(cDisc), InvoiceID: text(cInvoice),
				ChargeClass: text(cClass), CorrectionReason: text(cReason), CorrectsCycle: text(cCorr)}
			switch text(cSign) {
			case "1":
				d.CorrectionSign = 1
			case "-1":
				d.CorrectionSign = -1
			}
			if bad != nil {
				return bad
			}
			if err := fn(&l, &d, extras); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("%s: %w", p, rerr)
		}
	}
}

// ReadApplied calls fn for each row of a credits/applied.parquet file, in
// file order (the settlement order).
func ReadApplied(p string, fn func(row *rules.StatementRow, a *rules.Application) error) error {
	var row rules.StatementRow
	var a rules.Application
	return ReadParquet(p, func(_ []string, v map[string]parquet.Value) error {
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
		return fn(&row, &a)
	})
}

// ReadAlerts returns the rows of an alerts/alerts.parquet file.
func ReadAlerts(p string) ([]rules.Alert, error) {
	var out []rules.Alert
	err := ReadParquet(p, func(_ []string, v map[string]parquet.Value) error {
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
type Recomputed struct{ f *flatWriter }

// NewRecomputed creates RecomputedPath under root.
func NewRecomputed(root string) (*Recomputed, error) {
	f, err := createFlat(root, RecomputedPath, "recomputed", []flatColumn{
		{"billing_cycle", flatText, false}, {"payer_account_id", flatText, false}, {"currency", flatText, false},
		{"kind", flatText, false}, {"line_count", flatCount, false}, {"list_amount", flatSum, false}, {"discount_amount", flatSum, false},
	})
	if err != nil {
		return nil, err
	}
	return &Recomputed{f: f}, nil
}

// Write appends one row.
func (w *Recomputed) Write(r *RecomputedRow) error {
	f := w.f
	f.text(r.Cycle.String())
	f.text(r.Payer)
	f.text(r.Currency)
	f.text(r.Kind)
	f.int64(r.Lines)
	f.sum(r.List)
	f.sum(r.Discount)
	return f.endRow()
}

// Close writes the footer.
func (w *Recomputed) Close() (Output, error) { return w.f.close() }

// ReadRecomputed calls fn for each row of a RecomputedPath file.
func ReadRecomputed(p string, fn func(*RecomputedRow) error) error {
	var row RecomputedRow
	return ReadParquet(p, func(_ []string, v map[string]parquet.Value) error {
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
