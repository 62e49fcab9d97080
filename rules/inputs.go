package rules

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/billcons/billcons/billing"
)

// InputReject is a well-formed settlement input row that a rule rejected.
type InputReject struct {
	Pos    billing.Pos
	Seq    int
	Rule   *Rule
	Reason string
}

// judgeRows sets aside exact copies (dup), then rejects every distinct row
// in a group of more than one under the same key (amb), and, with overlap,
// every distinct row that overlaps another; it returns the indexes of the
// rows that stand, in read order.
func judgeRows[T any](xs []T, pos func(*T) billing.Pos, seq func(*T) int, key func(*T) string, same func(a, b *T) bool,
	dup, amb *Rule, what string, overlap func(xs []T, distinct []int) map[int]string) (stand []int, rejected []InputReject) {
	byKey := map[string][]int{}
	var distinct []int
	for i := range xs {
		x := &xs[i]
		k := key(x)
		copyOf := -1
		for _, j := range byKey[k] {
			if same(&xs[j], x) {
				copyOf = j
				break
			}
		}
		if copyOf >= 0 {
			rejected = append(rejected, InputReject{Pos: pos(x), Seq: seq(x), Rule: dup,
				Reason: fmt.Sprintf("%s %s is a copy of the row at %s; the first stands", what, k, pos(&xs[copyOf]))})
			continue
		}
		byKey[k] = append(byKey[k], i)
		distinct = append(distinct, i)
	}
	var over map[int]string
	if overlap != nil {
		over = overlap(xs, distinct)
	}
	for _, i := range distinct {
		x := &xs[i]
		k := key(x)
		switch {
		case len(byKey[k]) > 1:
			rejected = append(rejected, InputReject{Pos: pos(x), Seq: seq(x), Rule: amb,
				Reason: fmt.Sprintf("%s %s names %d different rows; all of them are rejected", what, k, len(byKey[k]))})
		case over[i] != "":
			rejected = append(rejected, InputReject{Pos: pos(x), Seq: seq(x), Rule: amb, Reason: over[i]})
		default:
			stand = append(stand, i)
		}
	}
	slices.SortStableFunc(rejected, func(a, b InputReject) int { return cmp.Compare(a.Seq, b.Seq) })
	return stand, rejected
}

func pick[T any](xs []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = xs[j]
	}
	return out
}

// ValidateAccounts judges well-formed accounts rows (in read order, Seq
// set): [DuplicateAccount], then [AmbiguousAccount].
func ValidateAccounts(as []billing.Account) ([]billing.Account, []InputReject) {
	stand, rej := judgeRows(as, func(a *billing.Account) billing.Pos { return a.Pos }, func(a *billing.Account) int { return a.Seq },
		func(a *billing.Account) string { return a.AccountID },
		func(a, b *billing.Account) bool { return a.EnterpriseID == b.EnterpriseID },
		DuplicateAccount, AmbiguousAccount, "account_id", nil)
	return pick(as, stand), rej
}

// ValidateDiscounts judges well-formed discounts (in read order, Seq set):
// [DuplicateDiscount], then [AmbiguousDiscount]. It returns the accepted
// ones in read order and the rejected ones.
func ValidateDiscounts(ds []billing.Discount) ([]billing.Discount, []InputReject) {
	stand, rej := judgeRows(ds, func(d *billing.Discount) billing.Pos { return d.Pos }, func(d *billing.Discount) int { return d.Seq },
		func(d *billing.Discount) string { return d.DiscountID },
		func(a, b *billing.Discount) bool {
			return a.AccountID == b.AccountID && a.ProductCode == b.ProductCode && a.Rate == b.Rate &&
				a.ValidFrom == b.ValidFrom && a.ValidTo == b.ValidTo
		}, DuplicateDiscount, AmbiguousDiscount, "discount_id",
		func(xs []billing.Discount, distinct []int) map[int]string {
			type ap struct{ account, product string }
			groups := map[ap][]int{}
			for _, i := range distinct {
				groups[ap{xs[i].AccountID, xs[i].ProductCode}] = append(groups[ap{xs[i].AccountID, xs[i].ProductCode}], i)
			}
			over := map[int]string{}
			for g, is := range groups {
				for a := range is {
					for b := range is {
						x, y := &xs[is[a]], &xs[is[b]]
						if a != b && x.ValidFrom < y.ValidTo && y.ValidFrom < x.ValidTo && over[is[a]] == "" {
							over[is[a]] = fmt.Sprintf("discount %s of account %s for product %s overlaps discount %s (%s); all of them are rejected",
								x.DiscountID, g.account, g.product, y.DiscountID, y.Pos)
						}
					}
				}
			}
			return over
		})
	return pick(ds, stand), rej
}

// ValidateEnterprises judges well-formed enterprises rows:
// [DuplicateEnterprise], then [AmbiguousEnterprise].
func ValidateEnterprises(es []billing.Enterprise) ([]billing.Enterprise, []InputReject) {
	stand, rej := judgeRows(es, func(e *billing.Enterprise) billing.Pos { return e.Pos }, func(e *billing.Enterprise) int { return e.Seq },
		func(e *billing.Enterprise) string { return e.EnterpriseID },
		func(a, b *billing.Enterprise) bool {
			return a.UpgradedAt == b.UpgradedAt && a.EntityDiscountsFrom == b.EntityDiscountsFrom
		}, DuplicateEnterprise, AmbiguousEnterprise, "enterprise_id", nil)
	return pick(es, stand), rej
}

// ValidateCredits judges well-formed credits: [DuplicateCredit], then
// [AmbiguousCredit].
func ValidateCredits(cs []billing.Credit) ([]billing.Credit, []InputReject) {
	stand, rej := judgeRows(cs, func(c *billing.Credit) billing.Pos { return c.Pos }, func(c *billing.Credit) int { return c.Seq },
		func(c *billing.Credit) string { return c.CreditID },
		func(a, b *billing.Credit) bool {
			return a.Owner == b.Owner && a.Kind == b.Kind && a.Currency == b.Currency && a.Amount == b.Amount &&
				a.ValidFrom == b.ValidFrom && a.ValidTo == b.ValidTo && a.ProductCode == b.ProductCode &&
				sameSet(a.SharedWith, b.SharedWith)
		}, DuplicateCredit, AmbiguousCredit, "credit_id", nil)
	return pick(cs, stand), rej
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// ValidateBalances judges well-formed balances rows: [DuplicateBalance],
// then [AmbiguousBalance] for one account and currency on different rows.
func ValidateBalances(bs []billing.Balance) ([]billing.Balance, []InputReject) {
	stand, rej := judgeRows(bs, func(b *billing.Balance) billing.Pos { return b.Pos }, func(b *billing.Balance) int { return b.Seq },
		func(b *billing.Balance) string { return b.AccountID + " " + b.Currency },
		func(a, b *billing.Balance) bool {
			return a.AvailableCredit == b.AvailableCredit && a.HasSpendingAlert == b.HasSpendingAlert && a.SpendingAlert == b.SpendingAlert
		}, DuplicateBalance, AmbiguousBalance, "account and currency", nil)
	return pick(bs, stand), rej
}
