package rules

import (
	"math/bits"
	"strings"
	"time"

	"github.com/billcons/billcons/billing"
)

// DefaultUpgradedAt is when an enterprise not listed in --enterprises (or a
// member not in --accounts) moved to the new Enterprise Finance: seed 000,
// "released in batches starting at 12:00 on August 1, 2022 (UTC+8)".
var DefaultUpgradedAt = billing.Time(time.Date(2022, 8, 1, 12, 0, 0, 0, time.FixedZone("+08:00", 8*3600)).UnixMicro())

// IsCommunications reports whether a product is a communications product
// (AliTelecom, Alibaba Cloud Communications), whose lines always get the
// member's own discount ([CommunicationsDiscount]) and which a managed
// member's own coupons may pay ([MemberCouponsAliTelecom]). The code is
// alicom, in any case.
func IsCommunications(product string) bool { return strings.EqualFold(product, "alicom") }

// Discounts decides whose discount a line gets and how much it takes off
// (CONTRACT.md, "Whose discount a line gets"). It only reads its tables, so
// it may be used from several goroutines at once.
type Discounts struct {
	// members are the listed members' enterprises (--accounts joined with
	// the accepted --enterprises rows): one lookup a line, and none when no
	// enterprise is listed.
	members   map[string]billing.Enterprise
	byAccount map[string][]billing.Discount // accepted discounts per owner
}

// NewDiscounts indexes the accepted discounts and enterprises (from
// [ValidateDiscounts] and [ValidateEnterprises]) and the accounts file.
func NewDiscounts(accounts Accounts, enterprises []billing.Enterprise, discounts []billing.Discount) *Discounts {
	d := &Discounts{members: map[string]billing.Enterprise{}, byAccount: map[string][]billing.Discount{}}
	if len(enterprises) > 0 {
		byID := map[string]billing.Enterprise{}
		for _, e := range enterprises {
			byID[e.EnterpriseID] = e
		}
		for member, ent := range accounts {
			if e, ok := byID[ent]; ok {
				d.members[member] = e
			}
		}
	}
	for _, x := range discounts {
		d.byAccount[x.AccountID] = append(d.byAccount[x.AccountID], x)
	}
	return d
}

// enterpriseOf returns the upgrade time and the entity-level discounts time
// of the member's enterprise: the defaults when the member or its
// enterprise is not listed.
func (d *Discounts) enterpriseOf(member string) (upgraded, entityFrom billing.Time) {
	if len(d.members) > 0 {
		if e, ok := d.members[member]; ok {
			return e.UpgradedAt, e.EntityDiscountsFrom
		}
	}
	return DefaultUpgradedAt, billing.MaxTime
}

// Owner returns the discount owner of an accepted line whose payer was
// decided by dec, and the rule that names it: the first of
// [SelfPayDiscount], [CommunicationsDiscount], [LegacyInheritance],
// [EntityDiscounts] and [NewMemberOwnDiscount] that applies.
func (d *Discounts) Owner(line *billing.UsageLine, dec Decision) (string, *Rule) {
	m, p := line.AccountID, dec.Payer
	if p == m {
		return m, SelfPayDiscount
	}
	if IsCommunications(line.ProductCode) {
		return m, CommunicationsDiscount
	}
	upgraded, entityFrom := d.enterpriseOf(m)
	if dec.DecidedBy != "" && dec.Since < upgraded {
		return p, LegacyInheritance
	}
	if entityFrom <= line.UsageStart {
		return p, EntityDiscounts
	}
	return m, NewMemberOwnDiscount
}

// OwnerRules are the rules that name a discount owner, in the order they
// are tried; a rule's index here is how a run stores it compactly.
var OwnerRules = []*Rule{SelfPayDiscount, CommunicationsDiscount, LegacyInheritance, EntityDiscounts, NewMemberOwnDiscount}

// LineDiscount is the discount a line gets.
type LineDiscount struct {
	Owner      string
	Rule       *Rule  // the rule that named the owner
	DiscountID string // "" when no discount applies
	Rate       billing.Rate
	Amount     billing.Amount // list_amount x rate, rounded
}

// Apply returns the discount of an accepted line whose payer was decided by
// dec ([DiscountApplied]): the owner's discount valid at usage_start for
// the line's product, else for "*", else none.
func (d *Discounts) Apply(line *billing.UsageLine, dec Decision) LineDiscount {
	owner, rule := d.Owner(line, dec)
	ld := LineDiscount{Owner: owner, Rule: rule}
	var hit *billing.Discount // the product's discount, else the "*" one
	ds := d.byAccount[owner]
	for i := range ds {
		x := &ds[i]
		if x.ValidFrom > line.UsageStart || line.UsageStart >= x.ValidTo {
			continue
		}
		if x.ProductCode == line.ProductCode {
			hit = x
			break
		}
		if x.ProductCode == "*" {
			hit = x
		}
	}
	if hit != nil {
		ld.DiscountID, ld.Rate = hit.DiscountID, hit.Rate
		ld.Amount = DiscountAmount(line.ListAmount, hit.Rate)
	}
	return ld
}

// DiscountAmount is list x rate rounded to 9 fractional digits, halves away
// from zero ([DiscountApplied]). A refund (negative list) gets a negative
// discount of the same size as a charge of its absolute value.
func DiscountAmount(list billing.Amount, rate billing.Rate) billing.Amount {
	neg := list < 0
	a := uint64(list)
	if neg {
		a = uint64(-list)
	}
	hi, lo := bits.Mul64(a, uint64(rate)) // units of 10^-18
	lo, carry := bits.Add64(lo, 500_000_000, 0)
	hi += carry
	q, _ := bits.Div64(hi, lo, 1_000_000_000) // |list| < 10^18, rate <= 10^9: q < 10^18
	if neg {
		return -billing.Amount(q)
	}
	return billing.Amount(q)
}
