package writers

import (
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio"
)

// WriteAcceptedChanges writes DIR/changes/accepted.parquet: every accepted
// trusteeship change in (changed_at, change_id) order, with the billing
// cycle it was made in (cut in the run's time zone) and the payer it sets.
// The bills' decided_by and held_by name these changes; the file is what
// "billcons invoice" and analysts join them to, to say why a line moved.
func WriteAcceptedChanges(root string, changes []billing.Change, loc *time.Location) (Output, error) {
	f, err := createFlat(root, PathOf("changes"), "change", []parquetio.Column{
		{Name: "change_id", Kind: parquetio.Text}, {Name: "account_id", Kind: parquetio.Text}, {Name: "policy", Kind: parquetio.Text},
		{Name: "management_account_id", Kind: parquetio.Text, Optional: true}, {Name: "changed_at", Kind: parquetio.Timestamp}, {Name: "billing_cycle", Kind: parquetio.Text},
		{Name: "payer_account_id", Kind: parquetio.Text}, {Name: "source_file", Kind: parquetio.Text}, {Name: "source_row", Kind: parquetio.Count},
	})
	if err != nil {
		return Output{}, err
	}
	for i := range changes {
		c := &changes[i]
		f.Text(c.ChangeID)
		f.Text(c.AccountID)
		f.Text(c.Policy.String())
		f.OptText(c.ManagementAccountID, c.Policy == billing.PolicyTrusteeship)
		f.Int64(int64(c.ChangedAt))
		f.Text(billing.CycleOf(c.ChangedAt, loc).String())
		f.Text(c.Payer())
		f.Text(c.Pos.File)
		f.Int64(c.Pos.Row)
		if err := f.EndRow(); err != nil {
			return Output{}, err
		}
	}
	return output(f.Close())
}
