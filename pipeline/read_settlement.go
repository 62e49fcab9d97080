package pipeline

import (
	"fmt"
	"sort"

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
	first := make([]int, len(files)) // the seq of each file's first well-formed row
	for fi, path := range files {
		first[fi] = len(rows)
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
	rows = nil
	// The raw records of the rows a rule rejected are read again: keeping
	// every row's record for the few rejected ones was most of the memory
	// a million changes take.
	records, err := rereadRecords(r, files, first, judged, open)
	if err != nil {
		return nil, nil, err
	}
	for i, j := range judged {
		rejects = append(rejects, writers.Reject{SourceFile: j.Pos.File, SourceRow: j.Pos.Row,
			Code: j.Rule.Code, Reason: j.Reason, Record: records[i]})
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

// rereadRecords returns the raw record of each judged row, read again from
// its file: the file whose well-formed rows' seqs (first[i] on) hold the
// row's seq, at the row's number there.
func rereadRecords[D interface{ Header() []string }](r *run, files []string, first []int, judged []rules.InputReject,
	open func(readers.Table) (D, error)) ([]string, error) {
	records := make([]string, len(judged))
	want := make([]map[int64]int, len(files)) // by file: row number -> index in judged
	for i, j := range judged {
		fi := sort.Search(len(first), func(k int) bool { return first[k] > j.Seq }) - 1
		if want[fi] == nil {
			want[fi] = map[int64]int{}
		}
		want[fi][j.Pos.Row] = i
	}
	for fi, path := range files {
		if want[fi] == nil {
			continue
		}
		t, err := r.openInput(path)
		if err != nil {
			return nil, err
		}
		dec, err := open(t)
		if err != nil {
			t.Close()
			return nil, err
		}
		found := 0
		err = readers.Each(r.ctx, t, func(row *readers.Row) error {
			if i, ok := want[fi][row.N]; ok {
				records[i] = recordJSON(readers.Record(dec.Header(), row))
				found++
			}
			return nil
		})
		t.Close()
		if err != nil {
			return nil, err
		}
		if err := r.unchanged(path); err != nil {
			return nil, err
		}
		if found != len(want[fi]) {
			return nil, fmt.Errorf("%s: %d rejected rows not found when read again; rerun when the inputs are complete", path, len(want[fi])-found)
		}
	}
	return records, nil
}

// readSettlement reads the settlement inputs that were given.
func (r *run) readSettlement(discounts, enterprises, credits, balances []string) (*settlementInputs, error) {
	in := &settlementInputs{rejects: map[string][]writers.Reject{}}
	c := &r.counts
	var err error
	if in.discounts, err = readSettlementInput(r, in, "discounts", discounts, inputCount{&c.DiscountsRead, &c.DiscountsAccepted, &c.DiscountsRejected},
		readers.NewDiscountDecoder, (*readers.SettlementDecoder).DecodeDiscount,
		func(x *billing.Discount) *int { return &x.Seq }, rules.ValidateDiscounts); err != nil {
		return nil, err
	}
	decodeEnterprise := func(d *readers.SettlementDecoder, row *readers.Row, x *billing.Enterprise) *billing.RowError {
		return d.DecodeEnterprise(row, x, rules.DefaultUpgradedAt)
	}
	if in.enterprises, err = readSettlementInput(r, in, "enterprises", enterprises, inputCount{&c.EnterprisesRead, &c.EnterprisesAccepted, &c.EnterprisesRejected},
		readers.NewEnterpriseDecoder, decodeEnterprise,
		func(x *billing.Enterprise) *int { return &x.Seq }, rules.ValidateEnterprises); err != nil {
		return nil, err
	}
	if in.credits, err = readSettlementInput(r, in, "credits", credits, inputCount{&c.CreditsRead, &c.CreditsAccepted, &c.CreditsRejected},
		readers.NewCreditDecoder, (*readers.SettlementDecoder).DecodeCredit,
		func(x *billing.Credit) *int { return &x.Seq }, rules.ValidateCredits); err != nil {
		return nil, err
	}
	if in.balances, err = readSettlementInput(r, in, "balances", balances, inputCount{&c.BalancesRead, &c.BalancesAccepted, &c.BalancesRejected},
		readers.NewBalanceDecoder, (*readers.SettlementDecoder).DecodeBalance,
		func(x *billing.Balance) *int { return &x.Seq }, rules.ValidateBalances); err != nil {
		return nil, err
	}
	return in, nil
}

// readSettlementInput reads one settlement input when it was given: its
// rows in read order (seq sets each row's), judged by validate, the
// rejected ones kept in in.rejects under kind.
func readSettlementInput[T any](r *run, in *settlementInputs, kind string, files []string, count inputCount,
	open func(readers.Table) (*readers.SettlementDecoder, error),
	decode func(*readers.SettlementDecoder, *readers.Row, *T) *billing.RowError,
	seq func(*T) *int, validate func([]T) ([]T, []rules.InputReject)) ([]T, error) {
	if len(files) == 0 {
		return nil, nil
	}
	accepted, rej, err := readInput(r, kind, files, count, open,
		func(d *readers.SettlementDecoder, row *readers.Row, x *T, n int) *billing.RowError {
			*seq(x) = n
			return decode(d, row, x)
		}, validate)
	if err != nil {
		return nil, err
	}
	in.rejects[kind] = rej
	return accepted, nil
}
