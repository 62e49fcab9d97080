package billing

import (
	"fmt"
	"strconv"
)

// Pos is where a record was read: the input file as the user named it, the
// 1-based data row (the header is row 0) and, when known, the 1-based column.
type Pos struct {
	File string
	Row  int64
	Col  int
}

// String returns "file:row:col", or "file:row" when the column is unknown,
// the format [go/token.Position] uses.
func (p Pos) String() string {
	s := p.File + ":" + strconv.FormatInt(p.Row, 10)
	if p.Col > 0 {
		s += ":" + strconv.Itoa(p.Col)
	}
	return s
}

// RowError is a bad value in one input row. Err carries the cause, so
// errors.Is and errors.As see through it, like [encoding/csv.ParseError].
type RowError struct {
	Pos   Pos
	Field string // the column, or "" for the row as a whole
	Code  string // a stable reason_code, e.g. "invalid_amount"
	Err   error
}

func (e *RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %v", e.Pos, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Pos, e.Field, e.Err)
}

func (e *RowError) Unwrap() error { return e.Err }

// SubscriptionType is how a line is billed: prepaid or pay-as-you-go.
type SubscriptionType uint8

const (
	Subscription SubscriptionType = iota + 1
	PayAsYouGo
)

func (s SubscriptionType) String() string {
	switch s {
	case Subscription:
		return "subscription"
	case PayAsYouGo:
		return "payasyougo"
	}
	return ""
}

// PaymentStatus is a line's status as of the data export.
type PaymentStatus uint8

const (
	Settled PaymentStatus = iota + 1
	Unsettled
)

func (s PaymentStatus) String() string {
	switch s {
	case Settled:
		return "settled"
	case Unsettled:
		return "unsettled"
	}
	return ""
}

// Policy is what a trusteeship change sets.
type Policy uint8

const (
	// PolicyTrusteeship makes ManagementAccountID pay for the member.
	PolicyTrusteeship Policy = iota + 1
	// PolicyNone ends a trusteeship: the member pays for itself again.
	PolicyNone
)

func (p Policy) String() string {
	switch p {
	case PolicyTrusteeship:
		return "trusteeship"
	case PolicyNone:
		return "none"
	}
	return ""
}

// UsageLine is one accepted bill line with its values parsed. The string
// fields hold the canonical value (enumerations lower-case and spelled out);
// Extra holds the carried-through columns in the order of the run's schema.
type UsageLine struct {
	Seq              uint64 // the line's read order over all usage inputs, from 0
	LineID           string
	AccountID        string
	ProductCode      string
	Cycle            Cycle
	SubscriptionType SubscriptionType
	UsageStart       Time
	UsageEnd         Time
	ListAmount       Amount
	Currency         string
	PaymentStatus    PaymentStatus
	IssuedAt         Time
	SettledAt        Time // valid when HasSettledAt
	HasSettledAt     bool
	ChargeType       ChargeType // Usage when the input has none
	ResourceID       string     // "" when the input has none
	Extra            []NullString
}

// UnsettledUntil reports the instant the line stops being unsettled: never
// (MaxTime) when its status is unsettled, settled_at when that is known, and
// MinTime for a settled line with no settled_at (it counts as settled at
// every instant).
func (l *UsageLine) UnsettledUntil() Time {
	switch {
	case l.PaymentStatus == Unsettled:
		return MaxTime
	case l.HasSettledAt:
		return l.SettledAt
	}
	return MinTime
}

// NullString is a text value that may be null (Parquet input can carry nulls;
// CSV cannot, so CSV values are never null).
type NullString struct {
	S     string
	Valid bool
}

// Change is one well-formed trusteeship change.
type Change struct {
	Pos                 Pos
	Seq                 int // read order over all change inputs, from 0
	ChangeID            string
	AccountID           string // the member whose payer changes
	Policy              Policy
	ManagementAccountID string // "" for PolicyNone
	ChangedAt           Time
}

// Payer is the account that pays the member's lines after the change.
func (c *Change) Payer() string {
	if c.Policy == PolicyTrusteeship {
		return c.ManagementAccountID
	}
	return c.AccountID
}

// Account is one row of the optional accounts file.
type Account struct {
	Pos          Pos
	Seq          int // read order over all account inputs, from 0
	AccountID    string
	EnterpriseID string
	Name         string // account_name, optional: "" when not given
}

// The usage columns of CONTRACT.md, in contract order. UsageColumns[i] is
// the name of column i.
const (
	ColLineID = iota
	ColAccountID
	ColProductCode
	ColBillingCycle
	ColSubscriptionType
	ColUsageStart
	ColUsageEnd
	ColListAmount
	ColCurrency
	ColPaymentStatus
	ColIssuedAt
	ColSettledAt
	ColChargeType
	ColResourceID
	NumUsageColumns
)

// UsageColumns names the usage columns, indexed by the Col constants.
var UsageColumns = [NumUsageColumns]string{
	"line_id", "account_id", "product_code", "billing_cycle", "subscription_type",
	"usage_start", "usage_end", "list_amount", "currency", "payment_status",
	"issued_at", "settled_at", "charge_type", "resource_id",
}

// OptionalUsageColumn reports whether usage column c may be absent or empty.
func OptionalUsageColumn(c int) bool {
	return c == ColSettledAt || c == ColChargeType || c == ColResourceID
}

// ChangeColumns names the trusteeship change columns, in contract order.
var ChangeColumns = []string{"change_id", "account_id", "policy", "management_account_id", "changed_at"}

// AccountColumns names the account columns, in contract order.
var AccountColumns = []string{"account_id", "enterprise_id"}

// MaxAccountName is the longest account_name, in characters.
const MaxAccountName = 256

// OutputColumns are the columns billcons adds to every bill; an input column
// with one of these names would be ambiguous and stops the run.
var OutputColumns = []string{"payer_account_id", "decided_by", "held_by",
	"discount_owner", "discount_rule", "discount_id", "discount_amount", "effective_amount",
	"invoice_id", "charge_class", "correction_reason", "corrects_cycle", "correction_sign"}
