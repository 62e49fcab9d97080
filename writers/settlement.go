package writers

import (
	"maps"
	"slices"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/rules"
)

// Applied writes DIR/credits/applied.parquet: one row per credit applied to
// a statement row, in settlement order.
type Applied struct {
	f *parquetio.Writer
}

// AppliedColumns are the columns of credits/applied.parquet.
var AppliedColumns = []string{"billing_cycle", "payer_account_id", "account_id", "product_code", "currency",
	"credit_id", "kind", "owner_account_id", "amount", "returned_from_cycle"}

// NewApplied creates credits/applied.parquet under root.
func NewApplied(root string) (*Applied, error) {
	f, err := createFlat(root, PathOf("credits_applied"), "applied", []parquetio.Column{
		{Name: "billing_cycle", Kind: parquetio.Text}, {Name: "payer_account_id", Kind: parquetio.Text}, {Name: "account_id", Kind: parquetio.Text},
		{Name: "product_code", Kind: parquetio.Text}, {Name: "currency", Kind: parquetio.Text}, {Name: "credit_id", Kind: parquetio.Text}, {Name: "kind", Kind: parquetio.Text},
		{Name: "owner_account_id", Kind: parquetio.Text}, {Name: "amount", Kind: parquetio.Amount}, {Name: "returned_from_cycle", Kind: parquetio.Text, Optional: true},
	})
	if err != nil {
		return nil, err
	}
	return &Applied{f: f}, nil
}

// Write appends one application of a credit to row.
func (w *Applied) Write(row *rules.StatementRow, a *rules.Application) error {
	return w.write(row, a, "")
}

// WriteReturn appends a credit given back on row (a negative amount) by a
// correction that reverses the same member, product and currency's row of
// closed cycle from: returned_from_cycle, so that a later correction
// gives back only what is left of what the credit paid there.
func (w *Applied) WriteReturn(row *rules.StatementRow, a *rules.Application, from billing.Cycle) error {
	return w.write(row, a, from.String())
}

func (w *Applied) write(row *rules.StatementRow, a *rules.Application, from string) error {
	f := w.f
	f.Text(row.Cycle.String())
	f.Text(row.Payer)
	f.Text(row.Member)
	f.Text(row.Product)
	f.Text(row.Currency)
	f.Text(a.CreditID)
	f.Text(a.Kind.String())
	f.Text(a.Owner)
	f.Int64(int64(a.Amount))
	f.OptText(from, from != "")
	return f.EndRow()
}

// Close writes the footer.
func (w *Applied) Close() (Output, error) { return output(w.f.Close()) }

// WriteCreditBalances writes DIR/credits/balances.parquet: one row per
// accepted credit, by credit_id.
func WriteCreditBalances(root string, credits []*rules.CreditBalance) (Output, error) {
	f, err := createFlat(root, PathOf("credit_balances"), "balance", []parquetio.Column{
		{Name: "credit_id", Kind: parquetio.Text}, {Name: "owner_account_id", Kind: parquetio.Text}, {Name: "kind", Kind: parquetio.Text}, {Name: "currency", Kind: parquetio.Text},
		{Name: "amount", Kind: parquetio.Amount}, {Name: "applied", Kind: parquetio.Amount}, {Name: "remaining", Kind: parquetio.Amount},
	})
	if err != nil {
		return Output{}, err
	}
	for _, c := range credits {
		f.Text(c.CreditID)
		f.Text(c.Owner)
		f.Text(c.Kind.String())
		f.Text(c.Currency)
		f.Int64(int64(c.Amount))
		f.Int64(int64(c.Applied))
		f.Int64(int64(c.Remaining()))
		if err := f.EndRow(); err != nil {
			return Output{}, err
		}
	}
	return output(f.Close())
}

// AlertColumns are the columns of alerts/alerts.parquet.
var AlertColumns = []string{"kind", "billing_cycle", "payer_account_id", "currency", "amount_due", "limit", "members"}

// WriteAlerts writes DIR/alerts/alerts.parquet: one row per alert.
func WriteAlerts(root string, alerts []rules.Alert) (Output, error) {
	f, err := createFlat(root, PathOf("alerts"), "alert", []parquetio.Column{
		{Name: "kind", Kind: parquetio.Text}, {Name: "billing_cycle", Kind: parquetio.Text}, {Name: "payer_account_id", Kind: parquetio.Text}, {Name: "currency", Kind: parquetio.Text},
		{Name: "amount_due", Kind: parquetio.Sum}, {Name: "limit", Kind: parquetio.Amount}, {Name: "members", Kind: parquetio.Count},
	})
	if err != nil {
		return Output{}, err
	}
	for _, a := range alerts {
		f.Text(a.Rule.Code)
		f.Text(a.Cycle.String())
		f.Text(a.Payer)
		f.Text(a.Currency)
		f.Sum(a.AmountDue)
		f.Int64(int64(a.Limit))
		f.Int64(a.Members)
		if err := f.EndRow(); err != nil {
			return Output{}, err
		}
	}
	return output(f.Close())
}

// WriteAcceptedSettlement writes the accepted discounts, enterprises and
// accounts under DIR/settlement/, so that the invoice and analysts can say
// why a line got the discount it did without the run's inputs at hand.
// Every run writes all three, empty when the input was not given; an
// enterprise's empty upgraded_at is written as the default it stands for.
// names holds the accounts' account_name, where the input gave one.
func WriteAcceptedSettlement(root string, discounts []billing.Discount, enterprises []billing.Enterprise, accounts, names map[string]string) ([]Output, error) {
	var outs []Output
	f, err := createFlat(root, PathOf("discounts"), "discount", []parquetio.Column{
		{Name: "discount_id", Kind: parquetio.Text}, {Name: "account_id", Kind: parquetio.Text}, {Name: "product_code", Kind: parquetio.Text}, {Name: "rate", Kind: parquetio.Amount},
		{Name: "valid_from", Kind: parquetio.Timestamp}, {Name: "valid_to", Kind: parquetio.Timestamp, Optional: true},
	})
	if err != nil {
		return nil, err
	}
	for _, d := range discounts {
		f.Text(d.DiscountID)
		f.Text(d.AccountID)
		f.Text(d.ProductCode)
		f.Int64(int64(d.Rate))
		f.Int64(int64(d.ValidFrom))
		f.OptInt64(int64(d.ValidTo), d.ValidTo != billing.MaxTime)
		if err := f.EndRow(); err != nil {
			return nil, err
		}
	}
	o, err := output(f.Close())
	if err != nil {
		return nil, err
	}
	outs = append(outs, o)

	f, err = createFlat(root, PathOf("enterprises"), "enterprise", []parquetio.Column{
		{Name: "enterprise_id", Kind: parquetio.Text}, {Name: "upgraded_at", Kind: parquetio.Timestamp}, {Name: "entity_discounts_from", Kind: parquetio.Timestamp, Optional: true},
	})
	if err != nil {
		return nil, err
	}
	for _, e := range enterprises {
		f.Text(e.EnterpriseID)
		f.Int64(int64(e.UpgradedAt))
		f.OptInt64(int64(e.EntityDiscountsFrom), e.EntityDiscountsFrom != billing.MaxTime)
		if err := f.EndRow(); err != nil {
			return nil, err
		}
	}
	if o, err = output(f.Close()); err != nil {
		return nil, err
	}
	outs = append(outs, o)

	f, err = createFlat(root, PathOf("accounts"), "account", []parquetio.Column{
		{Name: "account_id", Kind: parquetio.Text}, {Name: "enterprise_id", Kind: parquetio.Text}, {Name: "account_name", Kind: parquetio.Text, Optional: true},
	})
	if err != nil {
		return nil, err
	}
	for _, id := range slices.Sorted(maps.Keys(accounts)) {
		f.Text(id)
		f.Text(accounts[id])
		name, ok := names[id]
		f.OptText(name, ok)
		if err := f.EndRow(); err != nil {
			return nil, err
		}
	}
	if o, err = output(f.Close()); err != nil {
		return nil, err
	}
	return append(outs, o), nil
}
