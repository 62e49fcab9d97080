package rules

import (
	"cmp"
	"slices"
	"time"

	"github.com/billcons/billcons/billing"
)

// StatementRow is one row of the summary, the grain credits pay: one
// member's lines of one product in one currency, paid by one payer in one
// billing cycle, with what the lines come to after their discounts.
type StatementRow struct {
	Cycle     billing.Cycle
	Payer     string
	Member    string
	Product   string
	Currency  string
	Effective billing.Sum
}

// Application is one credit applied to a statement row.
type Application struct {
	CreditID string
	Owner    string
	Kind     billing.CreditKind
	Amount   billing.Amount // > 0
}

// CreditBalance is an accepted credit after settlement.
type CreditBalance struct {
	billing.Credit
	Applied billing.Amount
}

// Remaining is what is left of the credit.
func (c *CreditBalance) Remaining() billing.Amount { return c.Amount - c.Applied }

// Credits settles statement rows with the accepted credits ([CreditOrder]).
// Rows must be settled in (billing_cycle, payer, member, product,
// currency) order; each credit's balance carries from row to row. Not safe
// for concurrent use.
type Credits struct {
	loc     *time.Location
	all     []*CreditBalance            // by credit_id
	byOwner map[string][]*CreditBalance // in taking order within an owner
	cand    []*CreditBalance
}

// NewCredits indexes the accepted credits (from [ValidateCredits]) for a
// run whose billing cycles are cut in loc.
func NewCredits(accepted []billing.Credit, loc *time.Location) *Credits {
	c := &Credits{loc: loc, byOwner: map[string][]*CreditBalance{}}
	for _, x := range accepted {
		b := &CreditBalance{Credit: x}
		c.all = append(c.all, b)
		c.byOwner[x.Owner] = append(c.byOwner[x.Owner], b)
	}
	slices.SortFunc(c.all, func(a, b *CreditBalance) int { return cmp.Compare(a.CreditID, b.CreditID) })
	for _, bs := range c.byOwner {
		slices.SortFunc(bs, takingOrder)
	}
	return c
}

// takingOrder is the order a row takes the credits that may pay it: coupon,
// voucher, stored-value card; within a kind the earliest valid_to first
// (none last), then credit_id.
func takingOrder(a, b *CreditBalance) int {
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ValidTo, b.ValidTo); c != 0 {
		return c
	}
	return cmp.Compare(a.CreditID, b.CreditID)
}

// MayPay reports whether credit x may pay row ([OwnCredits],
// [SharedCredits], [MemberCouponsAliTelecom], [MemberCreditsFrozen]),
// given the row's billing period [start, end).
func MayPay(x *billing.Credit, row *StatementRow, start, end billing.Time) bool {
	if x.Currency != row.Currency || (x.ProductCode != "" && x.ProductCode != row.Product) {
		return false
	}
	if !(x.ValidFrom < end && x.ValidTo > start) {
		return false
	}
	if row.Payer == row.Member {
		return x.Owner == row.Member // OwnCredits
	}
	comm := IsCommunications(row.Product)
	switch x.Owner {
	case row.Payer: // SharedCredits
		if x.Kind == billing.Coupon && comm {
			return false
		}
		return x.SharedWith == nil || slices.Contains(x.SharedWith, row.Member)
	case row.Member: // MemberCouponsAliTelecom, else MemberCreditsFrozen
		return x.Kind == billing.Coupon && comm
	}
	return false
}

// Settle applies credits to row and returns the applications in taking
// order. A row whose effective amount is not
// positive takes nothing; a credit with nothing left is skipped.
func (c *Credits) Settle(row *StatementRow) []Application {
	var out []Application
	if row.Effective.Sign() <= 0 || len(c.all) == 0 {
		return nil
	}
	start := billing.Time(row.Cycle.Start(c.loc).UnixMicro())
	end := billing.Time((row.Cycle + 1).Start(c.loc).UnixMicro())
	cand := c.cand[:0]
	for _, owner := range []string{row.Payer, row.Member} {
		for _, b := range c.byOwner[owner] {
			if b.Remaining() > 0 && MayPay(&b.Credit, row, start, end) {
				cand = append(cand, b)
			}
		}
		if row.Payer == row.Member {
			break
		}
	}
	slices.SortStableFunc(cand, takingOrder)
	c.cand = cand
	owed := row.Effective
	for _, b := range cand {
		if owed.Sign() <= 0 {
			break
		}
		take := b.Remaining()
		if billing.SumOf(take).Cmp(owed) > 0 {
			take = owed.Amount() // below the credit's remaining balance, so it fits
		}
		b.Applied += take
		owed.Sub(take)
		out = append(out, Application{CreditID: b.CreditID, Owner: b.Owner, Kind: b.Kind, Amount: take})
	}
	return out
}

// Balances returns every accepted credit with what was applied, by
// credit_id.
func (c *Credits) Balances() []*CreditBalance { return c.all }

// Take records that amount of credit id was applied outside Settle: by a
// closed cycle, whose applications stay as they were (amount > 0), or
// given back by a correction that reverses a row the credit paid (amount
// < 0), which the credit may then pay again (CONTRACT.md, Corrections). It
// reports whether the credit is known.
func (c *Credits) Take(id string, amount billing.Amount) bool {
	i, ok := slices.BinarySearchFunc(c.all, id, func(b *CreditBalance, id string) int { return cmp.Compare(b.CreditID, id) })
	if !ok {
		return false
	}
	c.all[i].Applied += amount
	return true
}
