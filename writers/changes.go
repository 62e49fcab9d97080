package writers

import (
	"time"

	"github.com/billcons/billcons/billing"
)

// WriteAcceptedChanges writes DIR/changes/accepted.parquet: every accepted
// trusteeship change in (changed_at, change_id) order, with the billing
// cycle it was made in (cut in the run's time zone) and the payer it sets.
// The bills' decided_by and held_by name these changes; the file is what
// "billcons invoice" and analysts join them to, to say why a line moved.
func WriteAcceptedChanges(root string, changes []billing.Change, loc *time.Location) (Output, error) {
	f, err := createParquet(root, "changes/accepted.parquet", newSchema("change", []column{
		{"change_id", textNode}, {"account_id", textNode}, {"policy", textNode},
		{"management_account_id", optText}, {"changed_at", tsNode}, {"billing_cycle", textNode},
		{"payer_account_id", textNode}, {"source_file", textNode}, {"source_row", countNode},
	}))
	if err != nil {
		return Output{}, err
	}
	var b rowBuilder
	for i := range changes {
		c := &changes[i]
		b.reset()
		b.text(c.ChangeID)
		b.text(c.AccountID)
		b.text(c.Policy.String())
		b.optText(c.ManagementAccountID, c.Policy == billing.PolicyTrusteeship)
		b.int64(int64(c.ChangedAt))
		b.text(billing.CycleOf(c.ChangedAt, loc).String())
		b.text(c.Payer())
		b.text(c.Pos.File)
		b.int64(c.Pos.Row)
		if err := f.writeRow(b.row); err != nil {
			return Output{}, err
		}
	}
	return f.close()
}
