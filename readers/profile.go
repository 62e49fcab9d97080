package readers

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/billcons/billcons/billing"
)

// The input profiles of --profile (CONTRACT.md, Input profiles).
const (
	ProfileBillcons = "billcons" // the contract's own column names (the default)
	ProfileAlibaba  = "alibaba"  // Alibaba Cloud bill-detail exports
)

// Profile is how one provider's usage files name and write their columns:
// everything billcons asks of a profile, so that adding one is a value in
// Profiles and its decoder, in a file of its own.
type Profile struct {
	Name string
	Doc  string // for --profile's help
	// RepeatedIDs: a line_id repeated in the input is the next line of one
	// record (id.2, id.3… in input order), not a duplicate.
	RepeatedIDs bool
	// TakesCurrency: --currency gives the currency of an export without
	// a currency column.
	TakesCurrency bool
	// RecordAmount and RecordCurrency name a reject record's amount and
	// currency fields.
	RecordAmount, RecordCurrency string
	// newDecoder maps a usage table's header onto the contract's columns.
	newDecoder func(t Table, extras *ExtraColumns, opts UsageOptions) (*UsageDecoder, error)
}

// Profiles are the input profiles, the default first.
var Profiles = []*Profile{
	{Name: ProfileBillcons, Doc: "the contract's names", RecordAmount: "list_amount", RecordCurrency: "currency",
		newDecoder: newContractDecoder},
	{Name: ProfileAlibaba, Doc: "Alibaba Cloud bill-detail exports: RecordID, OwnerID, PretaxGrossAmount, ...; timestamps without an offset read in --tz",
		RepeatedIDs: true, TakesCurrency: true, RecordAmount: "PretaxGrossAmount", RecordCurrency: "Currency",
		newDecoder: newAlibabaDecoder},
}

// LookupProfile returns the profile named name ("" is the default), or
// nil.
func LookupProfile(name string) *Profile {
	if name == "" {
		return Profiles[0]
	}
	for _, p := range Profiles {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// ProfileNames are the profiles' names, as --profile takes them.
func ProfileNames() []string {
	var names []string
	for _, p := range Profiles {
		names = append(names, p.Name)
	}
	return names
}

// UsageOptions are how a usage table is read.
type UsageOptions struct {
	Profile  string         // ProfileBillcons ("" too) or ProfileAlibaba
	Zone     *time.Location // alibaba: the zone of timestamps without an offset (--tz)
	Currency string         // alibaba: the currency of an export without a Currency column (--currency)
}

// ErrNeedCurrency is wrapped by the error for an Alibaba export without a
// Currency column when no --currency was given: a usage error.
var ErrNeedCurrency = errors.New("the export has no Currency column: give its currency with --currency")

// alibabaColumns maps the contract's usage columns to the fields of an
// Alibaba Cloud bill-detail export (QueryBill, DescribeInstanceBill, the
// console and OSS bill subscription exports), the first present wins.
// account_id falls back, row by row, from OwnerID to AccountID.
var alibabaColumns = [billing.NumUsageColumns][]string{
	billing.ColLineID:           {"PrimaryKey", "Primary Key", "RecordID"},
	billing.ColAccountID:        {"OwnerID", "AccountID"},
	billing.ColProductCode:      {"ProductCode"},
	billing.ColBillingCycle:     {"BillingCycle"},
	billing.ColSubscriptionType: {"SubscriptionType"},
	billing.ColUsageStart:       {"UsageStartTime"},
	billing.ColUsageEnd:         {"UsageEndTime"},
	billing.ColListAmount:       {"PretaxGrossAmount"},
	billing.ColCurrency:         {"Currency"},
	billing.ColPaymentStatus:    {"Status"},
	billing.ColIssuedAt:         {"PaymentTime"},
	billing.ColSettledAt:        nil, // exports do not say when a bill was settled
	billing.ColChargeType:       {"Item"},
	billing.ColResourceID:       {"InstanceID"},
}

// looksAlibaba reports whether a header is likely an Alibaba Cloud export's,
// to suggest --profile alibaba in the error for a header that fits the
// billcons profile no better.
func looksAlibaba(idx map[string]int) bool {
	n := 0
	for _, name := range []string{"RecordID", "PrimaryKey", "OwnerID", "PretaxGrossAmount", "UsageStartTime", "BillingCycle", "InstanceID", "SubscriptionType"} {
		if _, ok := idx[name]; ok {
			n++
		}
	}
	return n >= 2
}

func newAlibabaDecoder(t Table, extras *ExtraColumns, opts UsageOptions) (*UsageDecoder, error) {
	idx, err := headerIndex(t)
	if err != nil {
		return nil, err
	}
	if err := checkReserved(t, idx); err != nil {
		return nil, err
	}
	d := &UsageDecoder{file: t.Name(), header: t.Header(), col: make([]int, billing.NumUsageColumns),
		extra: make([]int, len(t.Header())), nExtra: extras, zone: opts.Zone, altOwner: -1, currency: opts.Currency}
	d.translates = true
	if d.zone == nil {
		d.zone = time.FixedZone("+08:00", 8*3600)
	}
	d.clock.Loc = d.zone
	kinds := kindsOf(t)
	used := map[int]bool{}
	var missing []string
	for c, names := range alibabaColumns {
		d.col[c] = -1
		for _, n := range names {
			if j, ok := idx[n]; ok {
				if d.col[c] < 0 {
					d.col[c] = j
				} else if c == billing.ColAccountID {
					d.altOwner = j
				}
				used[j] = true
			}
		}
		if d.col[c] < 0 && len(names) > 0 && !billing.OptionalUsageColumn(c) {
			if c == billing.ColCurrency && opts.Currency != "" {
				continue
			}
			missing = append(missing, strings.Join(names, " or "))
		}
		if j := d.col[c]; j >= 0 && kinds != nil {
			want := textOnly
			switch c {
			case billing.ColUsageStart, billing.ColUsageEnd, billing.ColIssuedAt:
				want = naiveKind
			case billing.ColListAmount:
				want = decimalKind
			}
			if err := checkKind(t, t.Header()[j], kinds[j], want); err != nil {
				return nil, err
			}
		}
	}
	if len(missing) > 0 {
		if len(missing) == 1 && missing[0] == "Currency" {
			return nil, fmt.Errorf("%s: %w", t.Name(), ErrNeedCurrency)
		}
		return nil, fmt.Errorf("%s: %w for --profile alibaba: %s", t.Name(), ErrMissingColumn, strings.Join(missing, ", "))
	}
	for i, h := range t.Header() {
		d.extra[i] = -1
		if used[i] {
			continue
		}
		if name, ok := alibabaOptional[h]; ok {
			if _, clash := idx[name]; !clash {
				h = name // carried under the contract's name
			}
		}
		d.extra[i] = extras.add(h)
		d.noteOptional(i, h)
	}
	return d, nil
}

// alibabaOptional maps the fields of an Alibaba Cloud export to the optional
// usage columns they are carried as (when the export has no column of that
// name already).
var alibabaOptional = map[string]string{
	"Usage":     billing.ColNameUsageQuantity,
	"UsageUnit": billing.ColNameUsageUnit,
	"Region":    billing.ColNameRegion,
	"NickName":  billing.ColNameResourceName,
	"Tag":       billing.ColNameTags,
}

// translate turns an Alibaba export's vocabularies into the contract's: the
// Status of a bill (PayFinish and NoSettle are settled; PayUnclear and
// PayUnsettle unsettled) and the Item of a line (PayAsYouGoBill: usage,
// SubscriptionOrder: purchase, Refund: refund, Adjustment: adjustment),
// matched case-insensitively.
func (d *UsageDecoder) translate(vals *[billing.NumUsageColumns]string, row *Row) *billing.RowError {
	st := vals[billing.ColPaymentStatus]
	switch {
	case strings.EqualFold(st, "PayFinish"), strings.EqualFold(st, "NoSettle"):
		vals[billing.ColPaymentStatus] = "settled"
	case strings.EqualFold(st, "PayUnclear"), strings.EqualFold(st, "PayUnsettle"):
		vals[billing.ColPaymentStatus] = "unsettled"
	default:
		return d.bad(row, billing.ColPaymentStatus, "invalid_payment_status",
			fmt.Errorf("%w: %q is not PayFinish, NoSettle, PayUnclear or PayUnsettle", billing.ErrEnum, st))
	}
	it := vals[billing.ColChargeType]
	switch {
	case it == "", strings.EqualFold(it, "PayAsYouGoBill"):
		vals[billing.ColChargeType] = "usage"
	case strings.EqualFold(it, "SubscriptionOrder"):
		vals[billing.ColChargeType] = "purchase"
	case strings.EqualFold(it, "Refund"):
		vals[billing.ColChargeType] = "refund"
	case strings.EqualFold(it, "Adjustment"):
		vals[billing.ColChargeType] = "adjustment"
	default:
		return d.bad(row, billing.ColChargeType, "invalid_charge_type",
			fmt.Errorf("%w: %q is not PayAsYouGoBill, SubscriptionOrder, Refund or Adjustment", billing.ErrEnum, it))
	}
	return nil
}

// AmountColumns returns the header positions of the list amount and the
// currency (-1 when absent), and the currency of a file without one
// (--currency), so that a rejected row's amount can be counted.
func (d *UsageDecoder) AmountColumns() (amount, currency int, fixed string) {
	return d.col[billing.ColListAmount], d.col[billing.ColCurrency], d.currency
}

// RecordAmountFields returns, for a profile, the names of a reject
// record's amount and currency fields.
func RecordAmountFields(profile string) (amount, currency string) {
	p := LookupProfile(profile)
	if p == nil {
		p = Profiles[0]
	}
	return p.RecordAmount, p.RecordCurrency
}

// LineIDColumn returns the column the line_id is read from, or -1: a
// rejected row's id, for a run to see which invoiced line it withdraws.
func (d *UsageDecoder) LineIDColumn() int { return d.col[billing.ColLineID] }

// CycleColumn returns the column the billing_cycle is read from, or -1.
func (d *UsageDecoder) CycleColumn() int { return d.col[billing.ColBillingCycle] }
