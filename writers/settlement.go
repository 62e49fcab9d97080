package writers

import (
	"maps"
	"slices"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/rules"
)

// Applied writes DIR/credits/applied.parquet: one row per credit applied to
// a statement row, in settlement order.
type Applied struct {
	f *parquetFile
	b rowBuilder
}

// AppliedColumns are the columns of credits/applied.parquet.
var AppliedColumns = []string{"billing_cycle", "payer_account_id", "account_id", "product_code", "currency",
	"credit_id", "kind", "owner_account_id", "amount"}

// NewApplied creates credits/applied.parquet under root.
func NewApplied(root string) (*Applied, error) {
	f, err := createParquet(root, "credits/applied.parquet", newSchema("applied", []column{
		{"billing_cycle", textNode}, {"payer_account_id", textNode}, {"account_id", textNode},
		{"product_code", textNode}, {"currency", textNode}, {"credit_id", textNode}, {"kind", textNode},
		{"owner_account_id", textNode}, {"amount", amountNode},
	}))
	if err != nil {
		return nil, err
	}
	return &Applied{f: f}, nil
}

// Write appends one application of a credit to row.
func (w *Applied) Write(row *rules.StatementRow, a *rules.Application) error {
	b := &w.b
	b.reset()
	b.text(row.Cycle.String())
	b.text(row.Payer)
	b.text(row.Member)
	b.text(row.Product)
	b.text(row.Currency)
	b.text(a.CreditID)
	b.text(a.Kind.String())
	b.text(a.Owner)
	b.int64(int64(a.Amount))
	return w.f.writeRow(b.row)
}

// Close writes the footer.
func (w *Applied) Close() (Output, error) { return w.f.close() }

// WriteCreditBalances writes DIR/credits/balances.parquet: one row per
// accepted credit, by credit_id.
func WriteCreditBalances(root string, credits []*rules.CreditBalance) (Output, error) {
	f, err := createParquet(root, "credits/balances.parquet", newSchema("balance", []column{
		{"credit_id", textNode}, {"owner_account_id", textNode}, {"kind", textNode}, {"currency", textNode},
		{"amount", amountNode}, {"applied", amountNode}, {"remaining", amountNode},
	}))
	if err != nil {
		return Output{}, err
	}
	var b rowBuilder
	for _, c := range credits {
		b.reset()
		b.text(c.CreditID)
		b.text(c.Owner)
		b.text(c.Kind.String())
		b.text(c.Currency)
		b.int64(int64(c.Amount))
		b.int64(int64(c.Applied))
		b.int64(int64(c.Remaining()))
		if err := f.writeRow(b.row); err != nil {
			return Output{}, err
		}
	}
	return f.close()
}

// AlertColumns are the columns of alerts/alerts.parquet.
var AlertColumns = []string{"kind", "billing_cycle", "payer_account_id", "currency", "amount_due", "limit", "members"}

// WriteAlerts writes DIR/alerts/alerts.parquet: one row per alert.
func WriteAlerts(root string, alerts []rules.Alert) (Output, error) {
	f, err := createParquet(root, "alerts/alerts.parquet", newSchema("alert", []column{
		{"kind", textNode}, {"billing_cycle", textNode}, {"payer_account_id", textNode}, {"currency", textNode},
		{"amount_due", sumNode}, {"limit", amountNode}, {"members", countNode},
	}))
	if err != nil {
		return Output{}, err
	}
	var b rowBuilder
	for _, a := range alerts {
		b.reset()
		b.text(a.Rule.Code)
		b.text(a.Cycle.String())
		b.text(a.Payer)
		b.text(a.Currency)
		b.fixed(a.AmountDue.Bytes16())
		b.int64(int64(a.Limit))
		b.int64(a.Members)
		if err := f.writeRow(b.row); err != nil {
			return Output{}, err
		}
	}
	return f.close()
}

// WriteAcceptedSettlement writes the accepted discounts, enterprises and
// accounts under DIR/settlement/, so that the invoice and analysts can say
// why a line got the discount it did without the run's inputs at hand.
// Every run writes all three, empty when the input was not given; an
// enterprise's empty upgraded_at is written as the default it stands for.
func WriteAcceptedSettlement(root string, discounts []billing.Discount, enterprises []billing.Enterprise, accounts map[string]string) ([]Output, error) {
	var outs []Output
	f, err := createParquet(root, "settlement/discounts.parquet", newSchema("discount", []column{
		{"discount_id", textNode}, {"account_id", textNode}, {"product_code", textNode}, {"rate", amountNode},
		{"valid_from", tsNode}, {"valid_to", optTS},
	}))
	if err != nil {
		return nil, err
	}
	var b rowBuilder
	for _, d := range discounts {
		b.reset()
		b.text(d.DiscountID)
		b.text(d.AccountID)
		b.text(d.ProductCode)
		b.int64(int64(d.Rate))
		b.int64(int64(d.ValidFrom))
		b.optInt64(int64(d.ValidTo), d.ValidTo != billing.MaxTime)
		if err := f.writeRow(b.row); err != nil {
			return nil, err
		}
	}
	o, err := f.close()
	if err != nil {
		return nil, err
	}
	outs = append(outs, o)

	f, err = createParquet(root, "settlement/enterprises.parquet", newSchema("enterprise", []column{
		{"enterprise_id", textNode}, {"upgraded_at", tsNode}, {"entity_discounts_from", optTS},
	}))
	if err != nil {
		return nil, err
	}
	for _, e := range enterprises {
		b.reset()
		b.text(e.EnterpriseID)
		b.int64(int64(e.UpgradedAt))
		b.optInt64(int64(e.EntityDiscountsFrom), e.EntityDiscountsFrom != billing.MaxTime)
		if err := f.writeRow(b.row); err != nil {
			return nil, err
		}
	}
	if o, err = f.close(); err != nil {
		return nil, err
	}
	outs = append(outs, o)

	f, err = createParquet(root, "settlement/accounts.parquet", newSchema("account", []column{
		{"account_id", textNode}, {"enterprise_id", textNode},
	}))
	if err != nil {
		return nil, err
	}
	for _, id := range slices.Sorted(maps.Keys(accounts)) {
		b.reset()
		b.text(id)
		b.text(accounts[id])
		if err := f.writeRow(b.row); err != nil {
			return nil, err
		}
	}
	if o, err = f.close(); err != nil {
		return nil, err
	}
	return append(outs, o), nil
}
