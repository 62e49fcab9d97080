package writers

import (
	"fmt"
	"slices"
	"strings"

	"github.com/billcons/billcons/billing"
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
// after the contract's, in file order, named by extras.
func ReadBillRows(p string, cycle billing.Cycle, fn func(l *billing.UsageLine, d *Decided, extras []string) error) error {
	var l billing.UsageLine
	var d Decided
	var extras []string
	return ReadParquet(p, func(cols []string, v map[string]parquet.Value) error {
		if extras == nil {
			extras = []string{}
			for _, c := range cols {
				if !slices.Contains(BillColumns, c) {
					extras = append(extras, c)
				}
			}
		}
		text := func(name string) string {
			x, ok := v[name]
			if !ok || x.IsNull() {
				return ""
			}
			return x.String()
		}
		st, err := billing.ParseSubscriptionType(text("subscription_type"))
		if err != nil {
			return fmt.Errorf("%s: line %s: %w", p, text("line_id"), err)
		}
		ps, err := billing.ParsePaymentStatus(text("payment_status"))
		if err != nil {
			return fmt.Errorf("%s: line %s: %w", p, text("line_id"), err)
		}
		ct, err := billing.ParseChargeType(text("charge_type"))
		if err != nil {
			return fmt.Errorf("%s: line %s: %w", p, text("line_id"), err)
		}
		l = billing.UsageLine{LineID: text("line_id"), AccountID: text("account_id"), ProductCode: text("product_code"),
			Cycle: cycle, SubscriptionType: st, UsageStart: billing.Time(v["usage_start"].Int64()),
			UsageEnd: billing.Time(v["usage_end"].Int64()), ListAmount: billing.Amount(v["list_amount"].Int64()),
			Currency: text("currency"), PaymentStatus: ps, IssuedAt: billing.Time(v["issued_at"].Int64()),
			ChargeType: ct, ResourceID: text("resource_id")}
		if x := v["settled_at"]; !x.IsNull() {
			l.SettledAt, l.HasSettledAt = billing.Time(x.Int64()), true
		}
		l.Extra = l.Extra[:0]
		for _, name := range extras {
			x, ok := v[name]
			l.Extra = append(l.Extra, billing.NullString{S: x.String(), Valid: ok && !x.IsNull()})
		}
		d = Decided{Payer: text("payer_account_id"), DecidedBy: text("decided_by"), HeldBy: text("held_by"),
			DiscountOwner: text("discount_owner"), DiscountRule: text("discount_rule"), DiscountID: text("discount_id"),
			DiscountAmount: billing.Amount(v["discount_amount"].Int64()), InvoiceID: text("invoice_id"),
			ChargeClass: text("charge_class"), CorrectionReason: text("correction_reason"), CorrectsCycle: text("corrects_cycle")}
		return fn(&l, &d, extras)
	})
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
