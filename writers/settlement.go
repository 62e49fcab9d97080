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
	f *flatWriter
}

// AppliedColumns are the columns of credits/applied.parquet.
var AppliedColumns = []string{"billing_cycle", "payer_account_id", "account_id", "product_code", "currency",
	"credit_id", "kind", "owner_account_id", "amount", "returned_from_cycle"}

// NewApplied creates credits/applied.parquet under root.
func NewApplied(root string) (*Applied, error) {
	f, err := createFlat(root, "credits/applied.parquet", "applied", []flatColumn{
		{"billing_cycle", flatText, false}, {"payer_account_id", flatText, false}, {"account_id", flatText, false},
		{"product_code", flatText, false}, {"currency", flatText, false}, {"credit_id", flatText, false}, {"kind", flatText, false},
		{"owner_account_id", flatText, false}, {"amount", flatAmount, false}, {"returned_from_cycle", flatText, true},
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
	f.text(row.Cycle.String())
	f.text(row.Payer)
	f.text(row.Member)
	f.text(row.Product)
	f.text(row.Currency)
	f.text(a.CreditID)
	f.text(a.Kind.String())
	f.text(a.Owner)
	f.int64(int64(a.Amount))
	f.optText(from, from != "")
	return f.endRow()
}

// Close writes the footer.
func (w *Applied) Close() (Output, error) { return w.f.close() }

// WriteCreditBalances writes DIR/credits/balances.parquet: one row per
// accepted credit, by credit_id.
func WriteCreditBalances(root string, credits []*rules.CreditBalance) (Output, error) {
	f, err := createFlat(root, "credits/balances.parquet", "balance", []flatColumn{
		{"credit_id", flatText, false}, {"owner_account_id", flatText, false}, {"kind", flatText, false}, {"currency", flatText, false},
		{"amount", flatAmount, false}, {"applied", flatAmount, false}, {"remaining", flatAmount, false},
	})
	if err != nil {
		return Output{}, err
	}
	for _, c := range credits {
		f.text(c.CreditID)
		f.text(c.Owner)
		f.text(c.Kind.String())
		f.text(c.Currency)
		f.int64(int64(c.Amount))
		f.int64(int64(c.Applied))
		f.int64(int64(c.Remaining()))
		if err := f.endRow(); err != nil {
			return Output{}, err
		}
	}
	return f.close()
}

// AlertColumns are the columns of alerts/alerts.parquet.
var AlertColumns = []string{"kind", "billing_cycle", "payer_account_id", "currency", "amount_due", "limit", "members"}

// WriteAlerts writes DIR/alerts/alerts.parquet: one row per alert.
func WriteAlerts(root string, alerts []rules.Alert) (Output, error) {
	f, err := createFlat(root, "alerts/alerts.parquet", "alert", []flatColumn{
		{"kind", flatText, false}, {"billing_cycle", flatText, false}, {"payer_account_id", flatText, false}, {"currency", flatText, false},
		{"amount_due", flatSum, false}, {"limit", flatAmount, false}, {"members", flatCount, false},
	})
	if err != nil {
		return Output{}, err
	}
	for _, a := range alerts {
		f.text(a.Rule.Code)
		f.text(a.Cycle.String())
		f.text(a.Payer)
		f.text(a.Currency)
		f.sum(a.AmountDue)
		f.int64(int64(a.Limit))
		f.int64(a.Members)
		if err := f.endRow(); err != nil {
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
// names holds the accounts' account_name, where the input gave one.
func WriteAcceptedSettlement(root string, discounts []billing.Discount, enterprises []billing.Enterprise, accounts, names map[string]string) ([]Output, error) {
	var outs []Output
	f, err := createFlat(root, "settlement/discounts.parquet", "discount", []flatColumn{
		{"discount_id", flatText, false}, {"account_id", flatText, false}, {"product_code", flatText, false}, {"rate", flatAmount, false},
		{"valid_from", flatTimestamp, false}, {"valid_to", flatTimestamp, true},
	})
	if err != nil {
		return nil, err
	}
	for _, d := range discounts {
		f.text(d.DiscountID)
		f.text(d.AccountID)
		f.text(d.ProductCode)
		f.int64(int64(d.Rate))
		f.int64(int64(d.ValidFrom))
		f.optInt64(int64(d.ValidTo), d.ValidTo != billing.MaxTime)
		if err := f.endRow(); err != nil {
			return nil, err
		}
	}
	o, err := f.close()
	if err != nil {
		return nil, err
	}
	outs = append(outs, o)

	f, err = createFlat(root, "settlement/enterprises.parquet", "enterprise", []flatColumn{
		{"enterprise_id", flatText, false}, {"upgraded_at", flatTimestamp, false}, {"entity_discounts_from", flatTimestamp, true},
	})
	if err != nil {
		return nil, err
	}
	for _, e := range enterprises {
		f.text(e.EnterpriseID)
		f.int64(int64(e.UpgradedAt))
		f.optInt64(int64(e.EntityDiscountsFrom), e.EntityDiscountsFrom != billing.MaxTime)
		if err := f.endRow(); err != nil {
			return nil, err
		}
	}
	if o, err = f.close(); err != nil {
		return nil, err
	}
	outs = append(outs, o)

	f, err = createFlat(root, "settlement/accounts.parquet", "account", []flatColumn{
		{"account_id", flatText, false}, {"enterprise_id", flatText, false}, {"account_name", flatText, true},
	})
	if err != nil {
		return nil, err
	}
	for _, id := range slices.Sorted(maps.Keys(accounts)) {
		f.text(id)
		f.text(accounts[id])
		name, ok := names[id]
		f.optText(name, ok)
		if err := f.endRow(); err != nil {
			return nil, err
		}
	}
	if o, err = f.close(); err != nil {
		return nil, err
	}
	return append(outs, o), nil
}
