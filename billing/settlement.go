package billing

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ChargeType is what a usage line charges for (CONTRACT.md, Charge types and
// prepaid resources).
type ChargeType uint8

const (
	ChargeUsage      ChargeType = iota + 1 // usage: the default, also when empty
	ChargePurchase                         // a prepaid order or renewal
	ChargeRefund                           // money returned on a prepaid resource
	ChargeAdjustment                       // a price adjustment
)

func (c ChargeType) String() string {
	switch c {
	case ChargeUsage:
		return "usage"
	case ChargePurchase:
		return "purchase"
	case ChargeRefund:
		return "refund"
	case ChargeAdjustment:
		return "adjustment"
	}
	return ""
}

// ParseChargeType reads charge_type, case-insensitively; empty is usage.
func ParseChargeType(s string) (ChargeType, error) {
	switch lower(s) {
	case "", "usage":
		return ChargeUsage, nil
	case "purchase":
		return ChargePurchase, nil
	case "refund":
		return ChargeRefund, nil
	case "adjustment":
		return ChargeAdjustment, nil
	}
	return 0, fmt.Errorf("%w: %s is not usage, purchase, refund or adjustment", ErrEnum, quoteShort(s))
}

// MaxResourceID is the longest resource_id, in characters.
const MaxResourceID = 256

// ParseResourceID checks a resource_id: any text of at most 256 characters.
// It never becomes a path.
func ParseResourceID(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("resource_id is not valid UTF-8: %s", quoteShort(s))
	}
	if n := utf8.RuneCountInString(s); n > MaxResourceID {
		return "", fmt.Errorf("resource_id has %d characters; at most %d are allowed", n, MaxResourceID)
	}
	return s, nil
}

// Rate is a discount rate in units of 10^-9: 0 (nothing off) to 10^9 (all
// of it), exactly as the input wrote it.
type Rate int64

// RateOne is a rate of 1: the whole list amount is taken off.
const RateOne Rate = 1_000_000_000

// ParseRate reads a rate: an exact decimal from 0 to 1 with up to 9
// fractional digits.
func ParseRate(s string) (Rate, error) {
	a, err := ParseAmount(s)
	if err != nil {
		return 0, err
	}
	if a < 0 || Rate(a) > RateOne {
		return 0, fmt.Errorf("rate %s is not between 0 and 1", quoteShort(s))
	}
	return Rate(a), nil
}

// Discount is one well-formed contract discount (--discounts).
type Discount struct {
	Pos         Pos
	Seq         int // read order over all discount inputs, from 0
	DiscountID  string
	AccountID   string
	ProductCode string // a product code, or "*" for every product
	Rate        Rate
	ValidFrom   Time
	ValidTo     Time // exclusive; MaxTime when open-ended
}

// Enterprise is one well-formed enterprises row (--enterprises).
type Enterprise struct {
	Pos                 Pos
	Seq                 int
	EnterpriseID        string
	UpgradedAt          Time // DefaultUpgradedAt when the input left it empty
	EntityDiscountsFrom Time // MaxTime when never
}

// CreditKind is the kind of a credit.
type CreditKind uint8

// The kinds, in the order a statement row takes them (CONTRACT.md, Order).
const (
	Coupon CreditKind = iota + 1
	Voucher
	StoredValueCard
)

func (k CreditKind) String() string {
	switch k {
	case Coupon:
		return "coupon"
	case Voucher:
		return "voucher"
	case StoredValueCard:
		return "stored_value_card"
	}
	return ""
}

// ParseCreditKind reads kind, case-insensitively.
func ParseCreditKind(s string) (CreditKind, error) {
	switch strings.ToLower(s) {
	case "coupon":
		return Coupon, nil
	case "voucher":
		return Voucher, nil
	case "stored_value_card":
		return StoredValueCard, nil
	}
	return 0, fmt.Errorf("%w: %s is not coupon, voucher or stored_value_card", ErrEnum, quoteShort(s))
}

// Credit is one well-formed coupon, voucher or stored-value card (--credits).
type Credit struct {
	Pos         Pos
	Seq         int
	CreditID    string
	Owner       string
	Kind        CreditKind
	Currency    string
	Amount      Amount // > 0
	ValidFrom   Time
	ValidTo     Time     // exclusive; MaxTime when it does not expire
	ProductCode string   // "" when it may pay any product (empty or "*")
	SharedWith  []string // nil: every member the owner pays for
}

// Balance is one well-formed balances row (--balances).
type Balance struct {
	Pos              Pos
	Seq              int
	AccountID        string
	Currency         string
	AvailableCredit  Amount
	SpendingAlert    Amount // valid when HasSpendingAlert
	HasSpendingAlert bool
}

// The settlement input columns, in contract order.
var (
	DiscountColumns   = []string{"discount_id", "account_id", "product_code", "rate", "valid_from", "valid_to"}
	EnterpriseColumns = []string{"enterprise_id", "upgraded_at", "entity_discounts_from"}
	CreditColumns     = []string{"credit_id", "owner_account_id", "kind", "currency", "amount", "valid_from", "valid_to", "product_code", "shared_with"}
	BalanceColumns    = []string{"account_id", "currency", "available_credit", "spending_alert"}
)
