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
	f, err := createFlat(root, "changes/accepted.parquet", "change", []flatColumn{
		{"change_id", flatText, false}, {"account_id", flatText, false}, {"policy", flatText, false},
		{"management_account_id", flatText, true}, {"changed_at", flatTimestamp, false}, {"billing_cycle", flatText, false},
		{"payer_account_id", flatText, false}, {"source_file", flatText, false}, {"source_row", flatCount, false},
	})
	if err != nil {
		return Output{}, err
	}
	for i := range changes {
		c := &changes[i]
		f.text(c.ChangeID)
		f.text(c.AccountID)
		f.text(c.Policy.String())
		f.optText(c.ManagementAccountID, c.Policy == billing.PolicyTrusteeship)
		f.int64(int64(c.ChangedAt))
		f.text(billing.CycleOf(c.ChangedAt, loc).String())
		f.text(c.Payer())
		f.text(c.Pos.File)
		f.int64(c.Pos.Row)
		if err := f.endRow(); err != nil {
			return Output{}, err
		}
	}
	return f.close()
}
