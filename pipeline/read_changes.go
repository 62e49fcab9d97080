package pipeline

import (
	"fmt"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/writers"
)

func (r *run) readAccounts(files []string) (rules.Accounts, []writers.Reject, error) {
	type entry struct {
		acct billing.Account
		row  readers.Row
		hdr  []string
	}
	var rejects []writers.Reject
	seen := map[string][]entry{}
	var order []string
	for _, path := range files {
		t, err := readers.Open(path)
		if err != nil {
			return nil, nil, err
		}
		dec, err := readers.NewAccountDecoder(t)
		if err != nil {
			t.Close()
			return nil, nil, err
		}
		var rows int64
		err = readers.Each(r.ctx, t, func(row *readers.Row) error {
			rows++
			r.counts.AccountsRead++
			var a billing.Account
			if e := dec.Decode(row, &a); e != nil {
				rejects = append(rejects, rowReject(dec.Header(), row, e))
				return nil
			}
			if _, ok := seen[a.AccountID]; !ok {
				order = append(order, a.AccountID)
			}
			seen[a.AccountID] = append(seen[a.AccountID], entry{a, row.Clone(), dec.Header()})
			return nil
		})
		t.Close()
		if err != nil {
			return nil, nil, err
		}
		if err := r.unchanged(path); err != nil {
			return nil, nil, err
		}
		r.setRows(path, "accounts", rows)
	}
	accts := rules.Accounts{}
	for _, id := range order {
		es := seen[id]
		ambiguous := false
		for _, e := range es[1:] {
			if e.acct.EnterpriseID != es[0].acct.EnterpriseID {
				ambiguous = true
			}
		}
		for i, e := range es {
			switch {
			case ambiguous:
				rejects = append(rejects, writers.Reject{SourceFile: e.acct.Pos.File, SourceRow: e.acct.Pos.Row, Code: "ambiguous_account",
					Reason: fmt.Sprintf("account %s is listed with different enterprises; all of its rows are rejected", id), Record: recordJSON(readers.Record(e.hdr, &e.row))})
			case i > 0:
				rejects = append(rejects, writers.Reject{SourceFile: e.acct.Pos.File, SourceRow: e.acct.Pos.Row, Code: "duplicate_account",
					Reason: fmt.Sprintf("account %s is already listed at %s", id, es[0].acct.Pos), Record: recordJSON(readers.Record(e.hdr, &e.row))})
			default:
				accts[id] = e.acct.EnterpriseID
				r.counts.AccountsAccepted++
			}
		}
	}
	r.counts.AccountsRejected = int64(len(rejects))
	sortRejects(rejects, files)
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
