package pipeline

import (
	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/writers"
)

func (r *run) readAccounts(files []string) (rules.Accounts, []writers.Reject, error) {
	c := &r.counts
	accepted, rejects, err := readInput(r, "accounts", files, inputCount{&c.AccountsRead, &c.AccountsAccepted, &c.AccountsRejected},
		readers.NewAccountDecoder,
		func(d *readers.AccountDecoder, row *readers.Row, x *billing.Account, seq int) *billing.RowError {
			x.Seq = seq
			return d.Decode(row, x)
		}, rules.ValidateAccounts)
	if err != nil {
		return nil, nil, err
	}
	accts := rules.Accounts{}
	for _, a := range accepted {
		accts[a.AccountID] = a.EnterpriseID
		if a.Name != "" {
			if r.accountNames == nil {
				r.accountNames = map[string]string{}
			}
			r.accountNames[a.AccountID] = a.Name
		}
	}
	return accts, rejects, nil
}

func (r *run) readChanges(files []string, accounts rules.Accounts) ([]billing.Change, []writers.Reject, error) {
	c := &r.counts
	return readInput(r, "changes", files, inputCount{&c.ChangesRead, &c.ChangesAccepted, &c.ChangesRejected},
		readers.NewChangeDecoder,
		func(d *readers.ChangeDecoder, row *readers.Row, x *billing.Change, seq int) *billing.RowError {
			x.Seq = seq
			return d.Decode(row, x)
		},
		func(cs []billing.Change) ([]billing.Change, []rules.InputReject) {
			accepted, judged := rules.ValidateChanges(cs, accounts)
			out := make([]rules.InputReject, len(judged))
			for i, j := range judged {
				out[i] = rules.InputReject{Pos: j.Change.Pos, Seq: j.Change.Seq, Rule: j.Rule, Reason: j.Reason}
			}
			return accepted, out
		})
}
