package readers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/billcons/billcons/billing"
)

// SettlementDecoder decodes the rows of one settlement input table:
// discounts, enterprises, credits or balances (CONTRACT.md, Settlement). It
// maps the header by name like the other decoders; Decode turns a row into
// the input's record or a *billing.RowError naming the column.
type SettlementDecoder struct {
	file   string
	header []string
	names  []string
	col    []int // contract column -> header position, -1 if absent
	opt    map[string]bool
}

// Header returns the decoder's header.
func (d *SettlementDecoder) Header() []string { return d.header }

// settlementInput describes one settlement input: its columns, which are
// optional, and which Parquet kinds each may have.
type settlementInput struct {
	names    []string
	optional map[string]bool
	times    map[string]bool
	amounts  map[string]bool
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

var (
	discountInput = settlementInput{billing.DiscountColumns, set("valid_to"),
		set("valid_from", "valid_to"), set("rate")}
	enterpriseInput = settlementInput{billing.EnterpriseColumns, set("upgraded_at", "entity_discounts_from"),
		set("upgraded_at", "entity_discounts_from"), nil}
	creditInput = settlementInput{billing.CreditColumns, set("valid_to", "product_code", "shared_with"),
		set("valid_from", "valid_to"), set("amount")}
	balanceInput = settlementInput{billing.BalanceColumns, set("spending_alert"),
		nil, set("available_credit", "spending_alert")}
)

func newSettlementDecoder(t Table, in settlementInput) (*SettlementDecoder, error) {
	idx, err := headerIndex(t)
	if err != nil {
		return nil, err
	}
	col, err := lookup(t, idx, in.names, func(n string) bool { return in.optional[n] },
		func(n string) []ColumnKind {
			switch {
			case in.times[n]:
				return timestampKind
			case in.amounts[n]:
				return decimalKind
			}
			return textOnly
		})
	if err != nil {
		return nil, err
	}
	return &SettlementDecoder{file: t.Name(), header: t.Header(), names: in.names, col: col, opt: in.optional}, nil
}

// NewDiscountDecoder maps t's header onto the discount columns.
func NewDiscountDecoder(t Table) (*SettlementDecoder, error) {
	return newSettlementDecoder(t, discountInput)
}

// NewEnterpriseDecoder maps t's header onto the enterprise columns.
func NewEnterpriseDecoder(t Table) (*SettlementDecoder, error) {
	return newSettlementDecoder(t, enterpriseInput)
}

// NewCreditDecoder maps t's header onto the credit columns.
func NewCreditDecoder(t Table) (*SettlementDecoder, error) {
	return newSettlementDecoder(t, creditInput)
}

// NewBalanceDecoder maps t's header onto the balance columns.
func NewBalanceDecoder(t Table) (*SettlementDecoder, error) {
	return newSettlementDecoder(t, balanceInput)
}

// fields reads one row's values for a settlement decoder and reports the
// first bad value.
type fields struct {
	d   *SettlementDecoder
	row *Row
	err *billing.RowError
}

func (d *SettlementDecoder) start(row *Row) (*fields, *billing.RowError) {
	if row.Err != nil {
		code := "malformed_row"
		var fe *FormatError
		if errors.As(row.Err, &fe) {
			code = fe.Code
		}
		return nil, &billing.RowError{Pos: billing.Pos{File: d.file, Row: row.N}, Code: code, Err: row.Err}
	}
	return &fields{d: d, row: row}, nil
}

// val returns column i's value, "" when absent, null or empty.
func (f *fields) val(i int) string {
	j := f.d.col[i]
	if j < 0 || (f.row.Null != nil && f.row.Null[j]) {
		return ""
	}
	return f.row.Fields[j]
}

func (f *fields) fail(i int, code string, err error) {
	if f.err == nil {
		f.err = &billing.RowError{Pos: billing.Pos{File: f.d.file, Row: f.row.N, Col: f.d.col[i] + 1},
			Field: f.d.names[i], Code: code, Err: err}
	}
}

var errEmpty = errors.New("required value is empty")

// required returns column i's value, failing on an empty one.
func (f *fields) required(i int) string {
	v := f.val(i)
	if v == "" {
		f.fail(i, "missing_value", errEmpty)
	}
	return v
}

func (f *fields) id(i int) string {
	v := f.required(i)
	if f.err != nil {
		return ""
	}
	id, err := billing.ParseID(v)
	if err != nil {
		f.fail(i, "invalid_id", err)
	}
	return id
}

func (f *fields) time(i int, empty billing.Time) billing.Time {
	v := f.val(i)
	if v == "" {
		if !f.d.optional(i) {
			f.fail(i, "missing_value", errEmpty)
		}
		return empty
	}
	t, err := billing.ParseTime(v)
	if err != nil {
		f.fail(i, "invalid_timestamp", err)
	}
	return t
}

func (f *fields) amount(i int) (billing.Amount, bool) {
	v := f.val(i)
	if v == "" {
		if !f.d.optional(i) {
			f.fail(i, "missing_value", errEmpty)
		}
		return 0, false
	}
	a, err := billing.ParseAmount(v)
	if err != nil {
		f.fail(i, "invalid_amount", err)
	}
	return a, true
}

func (f *fields) currency(i int) string {
	v := f.required(i)
	if f.err != nil {
		return ""
	}
	c, err := billing.ParseCurrency(v)
	if err != nil {
		f.fail(i, "invalid_currency", err)
	}
	return c
}

func (d *SettlementDecoder) optional(i int) bool { return d.opt[d.names[i]] }

// validity checks valid_to is after valid_from.
func (f *fields) validity(from, to billing.Time, toCol int) {
	if f.err == nil && to <= from {
		f.fail(toCol, "invalid_validity", fmt.Errorf("valid_to %s is not after valid_from %s", f.val(toCol), f.val(toCol-1)))
	}
}

// DecodeDiscount parses row into x (whose Seq the caller sets).
func (d *SettlementDecoder) DecodeDiscount(row *Row, x *billing.Discount) *billing.RowError {
	f, e := d.start(row)
	if e != nil {
		return e
	}
	x.Pos = billing.Pos{File: d.file, Row: row.N}
	x.DiscountID = f.id(0)
	x.AccountID = f.id(1)
	x.ProductCode = f.required(2)
	if f.err == nil && x.ProductCode != "*" {
		if _, err := billing.ParseID(x.ProductCode); err != nil {
			f.fail(2, "invalid_product_code", err)
		}
	}
	if v := f.required(3); f.err == nil {
		r, err := billing.ParseRate(v)
		if err != nil {
			f.fail(3, "invalid_rate", err)
		}
		x.Rate = r
	}
	x.ValidFrom = f.time(4, 0)
	x.ValidTo = f.time(5, billing.MaxTime)
	f.validity(x.ValidFrom, x.ValidTo, 5)
	return f.err
}

// DecodeEnterprise parses row into x; an empty upgraded_at is defaultUpgrade.
func (d *SettlementDecoder) DecodeEnterprise(row *Row, x *billing.Enterprise, defaultUpgrade billing.Time) *billing.RowError {
	f, e := d.start(row)
	if e != nil {
		return e
	}
	x.Pos = billing.Pos{File: d.file, Row: row.N}
	x.EnterpriseID = f.id(0)
	x.UpgradedAt = f.time(1, defaultUpgrade)
	x.EntityDiscountsFrom = f.time(2, billing.MaxTime)
	return f.err
}

// DecodeCredit parses row into x.
func (d *SettlementDecoder) DecodeCredit(row *Row, x *billing.Credit) *billing.RowError {
	f, e := d.start(row)
	if e != nil {
		return e
	}
	x.Pos = billing.Pos{File: d.file, Row: row.N}
	x.CreditID = f.id(0)
	x.Owner = f.id(1)
	if v := f.required(2); f.err == nil {
		k, err := billing.ParseCreditKind(v)
		if err != nil {
			f.fail(2, "invalid_kind", err)
		}
		x.Kind = k
	}
	x.Currency = f.currency(3)
	x.Amount, _ = f.amount(4)
	if f.err == nil && x.Amount <= 0 {
		f.fail(4, "invalid_amount", fmt.Errorf("a credit's amount must be above zero, not %s", f.val(4)))
	}
	x.ValidFrom = f.time(5, 0)
	x.ValidTo = f.time(6, billing.MaxTime)
	f.validity(x.ValidFrom, x.ValidTo, 6)
	x.ProductCode = f.val(7)
	if x.ProductCode == "*" {
		x.ProductCode = ""
	}
	if f.err == nil && x.ProductCode != "" {
		if _, err := billing.ParseID(x.ProductCode); err != nil {
			f.fail(7, "invalid_product_code", err)
		}
	}
	x.SharedWith = nil
	if v := f.val(8); v != "" && f.err == nil {
		for _, s := range strings.Split(v, ";") {
			id, err := billing.ParseID(s)
			if err != nil {
				f.fail(8, "invalid_id", err)
				break
			}
			x.SharedWith = append(x.SharedWith, id)
		}
	}
	return f.err
}

// DecodeBalance parses row into x.
func (d *SettlementDecoder) DecodeBalance(row *Row, x *billing.Balance) *billing.RowError {
	f, e := d.start(row)
	if e != nil {
		return e
	}
	x.Pos = billing.Pos{File: d.file, Row: row.N}
	x.AccountID = f.id(0)
	x.Currency = f.currency(1)
	x.AvailableCredit, _ = f.amount(2)
	x.SpendingAlert, x.HasSpendingAlert = f.amount(3)
	if f.err == nil && x.HasSpendingAlert && x.SpendingAlert < 0 {
		f.fail(3, "invalid_amount", fmt.Errorf("spending_alert must not be negative, not %s", f.val(3)))
	}
	return f.err
}
