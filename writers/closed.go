package writers

import (
	"cmp"
	"fmt"
	"io"
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
	at := make(map[string]int, len(BillColumns))
	for _, c := range BillColumns {
		at[c] = slices.Index(header, c)
	}
	for _, c := range []string{"payer_account_id", "line_id", "account_id", "product_code", "usage_start", "usage_end", "list_amount", "currency", "issued_at", "discount_amount"} {
		if at[c] < 0 {
			return fmt.Errorf("%s: no column %s", p, c)
		}
	}
	readers.DeliverTyped(t, []int{at["usage_start"], at["usage_end"], at["issued_at"], at["settled_at"], at["list_amount"], at["discount_amount"]})
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
			text := func(name string) string {
				c := at[name]
				if c < 0 || c >= len(r.Fields) || (r.Null != nil && r.Null[c]) {
					return ""
				}
				return r.Fields[c]
			}
			var bad error
			tm := func(name string) billing.Time {
				x, ok := r.Time(at[name])
				if !ok && bad == nil {
					bad = fmt.Errorf("%s: row %d: %s is not a timestamp", p, r.N, name)
				}
				return x
			}
			amt := func(name string) billing.Amount {
				x, ok := r.Amount(at[name])
				if !ok && bad == nil {
					bad = fmt.Errorf("%s: row %d: %s is not an amount", p, r.N, name)
				}
				return x
			}
			st, err1 := billing.ParseSubscriptionType(text("subscription_type"))
			ps, err2 := billing.ParsePaymentStatus(text("payment_status"))
			ct, err3 := billing.ParseChargeType(text("charge_type"))
			if err := cmp.Or(err1, err2, err3); err != nil {
				return fmt.Errorf("%s: row %d: %w", p, r.N, err)
			}
			l = billing.UsageLine{LineID: text("line_id"), AccountID: text("account_id"), ProductCode: text("product_code"),
				Cycle: cycle, SubscriptionType: st, UsageStart: tm("usage_start"), UsageEnd: tm("usage_end"),
				ListAmount: amt("list_amount"), Currency: text("currency"), PaymentStatus: ps, IssuedAt: tm("issued_at"),
				ChargeType: ct, ResourceID: text("resource_id"), Extra: l.Extra[:0]}
			if c := at["settled_at"]; c >= 0 && (r.Null == nil || !r.Null[c]) {
				l.SettledAt, l.HasSettledAt = tm("settled_at"), true
			}
			for _, c := range extraAt {
				valid := c < len(r.Fields) && (r.Null == nil || !r.Null[c])
				x := billing.NullString{Valid: valid}
				if valid {
					x.S = r.Fields[c]
				}
				l.Extra = append(l.Extra, x)
			}
			d = Decided{Payer: text("payer_account_id"), DecidedBy: text("decided_by"), HeldBy: text("held_by"),
				DiscountOwner: text("discount_owner"), DiscountRule: text("discount_rule"), DiscountID: text("discount_id"),
				DiscountAmount: amt("discount_amount"), InvoiceID: text("invoice_id"),
				ChargeClass: text("charge_class"), CorrectionReason: text("correction_reason"), CorrectsCycle: text("corrects_cycle")}
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
