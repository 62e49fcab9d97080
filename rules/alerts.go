package rules

import (
	"cmp"
	"slices"

	"github.com/billcons/billcons/billing"
)

// Alert is a spending or low-credit alert to a paying account.
type Alert struct {
	Rule      *Rule // SpendingAlert or LowCreditAlert; Rule.Code is the kind
	Cycle     billing.Cycle
	Payer     string
	Currency  string
	AmountDue billing.Sum
	Limit     billing.Amount
	Members   int64 // accounts other than the payer it pays for in the cycle
}

// Consolidated is what the alerts read from the settled summary.
type Consolidated interface {
	// Due is the sum of due_amount of payer's rows in cycle and currency.
	Due(cycle billing.Cycle, payer, currency string) billing.Sum
	// Members is how many accounts other than payer it pays for in cycle.
	Members(cycle billing.Cycle, payer string) int64
}

// Alerts computes the alerts of a run ([SpendingAlert], [LowCreditAlert])
// from the accepted balances, the billing cycles of the bills (ascending)
// and the consolidated amounts. Alerts go to the paying account on its
// consolidated amounts; an account in trusteeship after the last accepted
// change gets no low-credit alert. They are ordered by billing_cycle,
// payer, currency, then kind.
func Alerts(balances []billing.Balance, cycles []billing.Cycle, sum Consolidated, inTrusteeship func(account string) bool) []Alert {
	var out []Alert
	for _, b := range balances {
		if b.HasSpendingAlert {
			for _, c := range cycles {
				if due := sum.Due(c, b.AccountID, b.Currency); due.Cmp(billing.SumOf(b.SpendingAlert)) > 0 {
					out = append(out, Alert{Rule: SpendingAlert, Cycle: c, Payer: b.AccountID, Currency: b.Currency,
						AmountDue: due, Limit: b.SpendingAlert, Members: sum.Members(c, b.AccountID)})
				}
			}
		}
		if len(cycles) > 0 && !inTrusteeship(b.AccountID) {
			c := cycles[len(cycles)-1]
			if due := sum.Due(c, b.AccountID, b.Currency); due.Cmp(billing.SumOf(b.AvailableCredit)) > 0 {
				out = append(out, Alert{Rule: LowCreditAlert, Cycle: c, Payer: b.AccountID, Currency: b.Currency,
					AmountDue: due, Limit: b.AvailableCredit, Members: sum.Members(c, b.AccountID)})
			}
		}
	}
	slices.SortFunc(out, func(a, b Alert) int {
		return cmp.Or(cmp.Compare(a.Cycle, b.Cycle), cmp.Compare(a.Payer, b.Payer), cmp.Compare(a.Currency, b.Currency), cmp.Compare(a.Rule.Code, b.Rule.Code))
	})
	return out
}
