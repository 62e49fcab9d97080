package pipeline

import (
	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/writers"
)

// settlementInputs are the accepted rows of the settlement inputs.
type settlementInputs struct {
	discounts   []billing.Discount
	enterprises []billing.Enterprise
	credits     []billing.Credit
	balances    []billing.Balance
	rejects     map[string][]writers.Reject // by input kind, for the kinds given
}

// inputCount points at an input's read, accepted and rejected counts.
type inputCount struct{ read, accepted, rejected *int64 }

// readInput reads every row of one small input (kind: changes, discounts,
// enterprises, credits or balances): a malformed row is rejected on its
// own; the well-formed ones, numbered in read order, are judged together by
// validate, whose rejects get the rows' raw records.
func readInput[T any, D interface{ Header() []string }](r *run, kind string, files []string, count inputCount,
	open func(readers.Table) (D, error),
	decode func(D, *readers.Row, *T, int) *billing.RowError,
	validate func([]T) ([]T, []rules.InputReject)) ([]T, []writers.Reject, error) {
	var rejects []writers.Reject
	var rows []T
	var records []string // by seq, for the rows a rule rejects
	for _, path := range files {
		t, err := r.openInput(path)
		if err != nil {
			return nil, nil, err
		}
		dec, err := open(t)
		if err != nil {
			t.Close()
			return nil, nil, err
		}
		var n int64
		err = readers.Each(r.ctx, t, func(row *readers.Row) error {
			n++
			*count.read++
			var x T
			if e := decode(dec, row, &x, len(rows)); e != nil {
				rejects = append(rejects, rowReject(dec.Header(), row, e))
				return nil
			}
			records = append(records, recordJSON(readers.Record(dec.Header(), row)))
			rows = append(rows, x)
			return nil
		})
		t.Close()
		if err != nil {
			return nil, nil, err
		}
		if err := r.unchanged(path); err != nil {
			return nil, nil, err
		}
		r.setRows(path, kind, n)
	}
	accepted, judged := validate(rows)
	for _, j := range judged {
		rejects = append(rejects, writers.Reject{SourceFile: j.Pos.File, SourceRow: j.Pos.Row,
			Code: j.Rule.Code, Reason: j.Reason, Record: records[j.Seq]})
	}
	*count.accepted = int64(len(accepted))
	*count.rejected = int64(len(rejects))
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = r.name(f)
	}
	sortRejects(rejects, names)
	return accepted, rejects, nil
}

// readSettlement reads the settlement inputs that were given.
func (r *run) readSettlement(discounts, enterprises, credits, balances []string) (*settlementInputs, error) {
	in := &settlementInputs{rejects: map[string][]writers.Reject{}}
	c := &r.counts
	var err error
	var rej []writers.Reject
	if len(discounts) > 0 {
		in.discounts, rej, err = readInput(r, "discounts", discounts, inputCount{&c.DiscountsRead, &c.DiscountsAccepted, &c.DiscountsRejected},
			readers.NewDiscountDecoder,
			func(d *readers.SettlementDecoder, row *readers.Row, x *billing.Discount, seq int) *billing.RowError {
				x.Seq = seq
				return d.DecodeDiscount(row, x)
			}, rules.ValidateDiscounts)
		if err != nil {
			return nil, err
		}
		in.rejects["discounts"] = rej
	}
	if len(enterprises) > 0 {
		in.enterprises, rej, err = readInput(r, "enterprises", enterprises, inputCount{&c.EnterprisesRead, &c.EnterprisesAccepted, &c.EnterprisesRejected},
			readers.NewEnterpriseDecoder,
			func(d *readers.SettlementDecoder, row *readers.Row, x *billing.Enterprise, seq int) *billing.RowError {
				x.Seq = seq
				return d.DecodeEnterprise(row, x, rules.DefaultUpgradedAt)
			}, rules.ValidateEnterprises)
		if err != nil {
			return nil, err
		}
		in.rejects["enterprises"] = rej
	}
	if len(credits) > 0 {
		in.credits, rej, err = readInput(r, "credits", credits, inputCount{&c.CreditsRead, &c.CreditsAccepted, &c.CreditsRejected},
			readers.NewCreditDecoder,
			func(d *readers.SettlementDecoder, row *readers.Row, x *billing.Credit, seq int) *billing.RowError {
				x.Seq = seq
				return d.DecodeCredit(row, x)
			}, rules.ValidateCredits)
		if err != nil {
			return nil, err
		}
		in.rejects["credits"] = rej
	}
	if len(balances) > 0 {
		in.balances, rej, err = readInput(r, "balances", balances, inputCount{&c.BalancesRead, &c.BalancesAccepted, &c.BalancesRejected},
			readers.NewBalanceDecoder,
			func(d *readers.SettlementDecoder, row *readers.Row, x *billing.Balance, seq int) *billing.RowError {
				x.Seq = seq
				return d.DecodeBalance(row, x)
			}, rules.ValidateBalances)
		if err != nil {
			return nil, err
		}
		in.rejects["balances"] = rej
	}
	return in, nil
}
