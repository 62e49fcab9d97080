package pipeline

import (
	"strings"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/writers"
)

// settlement is the settlement stage: it settles each statement row with
// the credits as pass D writes the summary, and keeps what the alerts need.
//
// Pass D produces the summary rows in (billing_cycle, payer, member,
// product, currency) order, which is the order the contract settles them
// in, so each row is settled as it is written: the summary is never held
// in memory or read again. Only the amounts of the accounts named in
// --balances are kept for the alerts.
type settlement struct {
	credits *rules.Credits
	applied *writers.Applied
	n       int64 // applications written

	watch   map[string]bool // the accounts of the balances
	due     map[dueKey]*billing.Sum
	members map[memberKey]int64
	last    struct {
		cycle          billing.Cycle
		payer, account string
	}
}

type dueKey struct {
	cycle           billing.Cycle
	payer, currency string
}

type memberKey struct {
	cycle billing.Cycle
	payer string
}

func newSettlement(credits *rules.Credits, applied *writers.Applied, balances []billing.Balance) *settlement {
	s := &settlement{credits: credits, applied: applied, watch: map[string]bool{},
		due: map[dueKey]*billing.Sum{}, members: map[memberKey]int64{}}
	for _, b := range balances {
		s.watch[b.AccountID] = true
	}
	return s
}

// row settles one summary row: it applies the credits that may pay it,
// writes the applications, and sets the row's effective, credit and due
// amounts. Returns are the credits given back on the row by its
// correction rows (negative applications, written already): the row owes
// its effective amount less them.
func (s *settlement) row(row *writers.SummaryRow, returns []rules.Application) error {
	row.Effective = row.ListAmount
	row.Effective.SubSum(row.Discount)
	st := rules.StatementRow{Cycle: row.Cycle, Payer: row.Payer, Member: row.AccountID, Product: row.Product,
		Currency: row.Currency, Effective: row.Effective}
	row.Coupon, row.Voucher, row.StoredVal = billing.Sum{}, billing.Sum{}, billing.Sum{}
	for _, a := range returns {
		addCredit(row, &a)
		st.Effective.Sub(a.Amount)
	}
	for _, a := range s.credits.Settle(&st) {
		addCredit(row, &a)
		if err := s.applied.Write(&st, &a); err != nil {
			return err
		}
		s.n++
	}
	row.Due = row.Effective
	row.Due.SubSum(row.Coupon)
	row.Due.SubSum(row.Voucher)
	row.Due.SubSum(row.StoredVal)

	if s.watch[row.Payer] {
		k := dueKey{row.Cycle, row.Payer, row.Currency}
		due := s.due[k]
		if due == nil {
			// The map keeps its own copies: the caller's row and its
			// strings are its to reuse.
			due = &billing.Sum{}
			s.due[dueKey{row.Cycle, strings.Clone(row.Payer), strings.Clone(row.Currency)}] = due
		}
		due.AddSum(row.Due)
		if row.AccountID != row.Payer && (s.last.cycle != row.Cycle || s.last.payer != row.Payer || s.last.account != row.AccountID) {
			s.members[memberKey{row.Cycle, strings.Clone(row.Payer)}]++
			s.last.cycle, s.last.payer, s.last.account = row.Cycle, strings.Clone(row.Payer), strings.Clone(row.AccountID)
		}
	}
	return nil
}

// addCredit adds an application (or a return, negative) to its kind's
// column of a statement row.
func addCredit(row *writers.SummaryRow, a *rules.Application) {
	switch a.Kind {
	case billing.Coupon:
		row.Coupon.Add(a.Amount)
	case billing.Voucher:
		row.Voucher.Add(a.Amount)
	default:
		row.StoredVal.Add(a.Amount)
	}
}

// Due implements rules.Consolidated.
func (s *settlement) Due(cycle billing.Cycle, payer, currency string) billing.Sum {
	if d := s.due[dueKey{cycle, payer, currency}]; d != nil {
		return *d
	}
	return billing.Sum{}
}

// Members implements rules.Consolidated.
func (s *settlement) Members(cycle billing.Cycle, payer string) int64 {
	return s.members[memberKey{cycle, payer}]
}
