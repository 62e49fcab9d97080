package readers

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/billcons/billcons/billing"
)

// ErrMissingColumn is wrapped by the error a decoder returns for a header
// that lacks a required column.
var ErrMissingColumn = errors.New("required column missing")

// ExtraColumns is the run-wide list of carried-through usage columns: the
// union over all usage files of the columns the contract does not name, in
// the order they are first seen. It is not safe for concurrent use.
type ExtraColumns struct {
	names []string
	index map[string]int
}

// Names returns the extra column names in schema order. The caller must not
// modify the slice.
func (x *ExtraColumns) Names() []string { return x.names }

// ExtraColumnsOf returns the extra columns named, in that order, as a run
// that read them would have numbered them.
func ExtraColumnsOf(names []string) ExtraColumns {
	var x ExtraColumns
	for _, n := range names {
		x.add(n)
	}
	return x
}

func (x *ExtraColumns) add(name string) int {
	if i, ok := x.index[name]; ok {
		return i
	}
	if x.index == nil {
		x.index = map[string]int{}
	}
	x.index[name] = len(x.names)
	x.names = append(x.names, name)
	return len(x.names) - 1
}

// header maps column names to positions and checks the header is usable.
func headerIndex(t Table) (map[string]int, error) {
	idx := make(map[string]int, len(t.Header()))
	for i, h := range t.Header() {
		if h == "" {
			return nil, fmt.Errorf("%s: header column %d has no name", t.Name(), i+1)
		}
		if _, dup := idx[h]; dup {
			return nil, fmt.Errorf("%s: header names column %s twice", t.Name(), h)
		}
		idx[h] = i
	}
	return idx, nil
}

func kindsOf(t Table) []ColumnKind {
	if k, ok := t.(interface{ Kinds() []ColumnKind }); ok {
		return k.Kinds()
	}
	return nil // CSV: everything is text
}

// lookup finds the required columns, and checks each Parquet column's type
// is one the contract allows for it.
func lookup(t Table, idx map[string]int, names []string, optional func(string) bool, allowed func(string) []ColumnKind) ([]int, error) {
	kinds := kindsOf(t)
	pos := make([]int, len(names))
	var missing []string
	for i, name := range names {
		j, ok := idx[name]
		if !ok {
			pos[i] = -1
			if optional == nil || !optional(name) {
				missing = append(missing, name)
			}
			continue
		}
		pos[i] = j
		if kinds != nil {
			if err := checkKind(t, name, kinds[j], allowed(name)); err != nil {
				return nil, err
			}
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: %w: %v", t.Name(), ErrMissingColumn, joinNames(missing))
	}
	return pos, nil
}

// checkKind checks that the Parquet column name, of kind k, holds what
// the contract allows for it (want), with the reason when it does not.
func checkKind(t Table, name string, k ColumnKind, want []ColumnKind) error {
	if slices.Contains(want, k) {
		return nil
	}
	switch {
	case k == KindNaive && slices.Contains(want, KindTimestamp):
		return fmt.Errorf("%s: column %s is a timestamp without time zone (not adjusted to UTC): timestamps must carry an offset (--profile alibaba reads them in --tz)", t.Name(), name)
	case k == KindFloat && slices.Contains(want, KindDecimal):
		return fmt.Errorf("%s: column %s is floating-point: no float touches an amount; write it as DECIMAL, an integer or text", t.Name(), name)
	}
	return fmt.Errorf("%s: column %s has Parquet type %s; want %s", t.Name(), name, kindName(k), kindNames(want))
}

func kindName(k ColumnKind) string {
	switch k {
	case KindText:
		return "text"
	case KindTimestamp:
		return "timestamp"
	case KindDecimal:
		return "decimal"
	case KindInteger:
		return "integer"
	case KindFloat:
		return "floating-point"
	case KindNaive:
		return "timestamp without time zone"
	case KindNested:
		return "nested (group, list or map)"
	case KindBinary:
		return "binary"
	}
	return "boolean, date, time or binary"
}

func kindNames(ks []ColumnKind) string {
	s := ""
	for i, k := range ks {
		if i > 0 {
			s += " or "
		}
		s += kindName(k)
	}
	return s
}

func joinNames(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

var (
	textOnly      = []ColumnKind{KindText, KindBinary, KindInteger} // integer ids are read as their decimal text
	timestampKind = []ColumnKind{KindText, KindBinary, KindTimestamp}
	naiveKind     = []ColumnKind{KindText, KindBinary, KindTimestamp, KindNaive} // --profile alibaba: read in --tz
	decimalKind   = []ColumnKind{KindText, KindBinary, KindDecimal, KindInteger}
)

// UsageDecoder decodes the rows of one usage table.
type UsageDecoder struct {
	file   string
	header []string
	col    []int // contract column -> header position, -1 if absent
	extra  []int // header position -> extra column index, -1 for contract columns
	nExtra *ExtraColumns

	// A profile whose exports write values in their own words (see
	// profile.go): translate turns them into the contract's, and
	// timestamps without an offset are read in zone. False for the
	// contract's own columns.
	translates bool
	zone       *time.Location     // of timestamps without an offset
	clock      billing.LocalClock // reads them in zone
	altOwner   int                // AccountID's position, for rows with no OwnerID; -1 if none
	currency   string             // for an export without a Currency column

	// The optional usage columns (billing.ColNameUsageQuantity...) the
	// header has, in header order; see checkOptional.
	optional []optionalColumn
	// tags remembers up to tagsRemembered tags values read and what they
	// became: a resource's lines repeat its tags.
	tags map[string]string
}

// tagsRemembered is how many distinct tags values a decoder remembers.
const tagsRemembered = 1024

// ForReader returns a decoder for one more goroutine reading the same
// file (parts of a large Parquet file are read at once): it shares d's
// columns and has its own clock, which remembers the zone's offset, and its
// own memory of tags.
func (d *UsageDecoder) ForReader() *UsageDecoder {
	c := *d
	c.tags = nil
	return &c
}

// parseTags is billing.ParseTags, remembered.
func (d *UsageDecoder) parseTags(s string) (string, error) {
	if j, ok := d.tags[s]; ok {
		return j, nil
	}
	j, err := billing.ParseTags(s)
	if err == nil && len(d.tags) < tagsRemembered {
		if d.tags == nil {
			d.tags = make(map[string]string)
		}
		// s may be a view of the reader's buffer; j is ParseTags' own.
		d.tags[strings.Clone(s)] = j
	}
	return j, err
}

// NewUsageDecoder maps t's header onto the usage columns. Columns the contract
// does not name are added to extras. It fails, naming the file, when a
// required column is missing, a column name repeats or is reserved for the
// output, or a Parquet column has a type the contract does not allow.
func NewUsageDecoder(t Table, extras *ExtraColumns) (*UsageDecoder, error) {
	return NewUsageDecoderWith(t, extras, UsageOptions{})
}

// NewUsageDecoderWith is [NewUsageDecoder] for a profile: with
// opts.Profile "alibaba" the header is an Alibaba Cloud bill-detail
// export's (see [UsageOptions]).
func NewUsageDecoderWith(t Table, extras *ExtraColumns, opts UsageOptions) (*UsageDecoder, error) {
	p := LookupProfile(opts.Profile)
	if p == nil {
		return nil, fmt.Errorf("unknown profile %q: want %s", opts.Profile, strings.Join(ProfileNames(), " or "))
	}
	return p.newDecoder(t, extras, opts)
}

// newContractDecoder maps a header of the contract's own column names.
func newContractDecoder(t Table, extras *ExtraColumns, opts UsageOptions) (*UsageDecoder, error) {
	idx, err := headerIndex(t)
	if err != nil {
		return nil, err
	}
	if err := checkReserved(t, idx); err != nil {
		return nil, err
	}
	col, err := lookup(t, idx, billing.UsageColumns[:],
		func(n string) bool { return n == "settled_at" || n == "charge_type" || n == "resource_id" },
		func(n string) []ColumnKind {
			switch n {
			case "usage_start", "usage_end", "issued_at", "settled_at":
				return timestampKind
			case "list_amount":
				return decimalKind
			}
			return textOnly
		})
	if err != nil {
		if errors.Is(err, ErrMissingColumn) && looksAlibaba(idx) {
			err = fmt.Errorf("%w; the header looks like an Alibaba Cloud bill export: run with --profile alibaba", err)
		}
		return nil, err
	}
	d := &UsageDecoder{file: t.Name(), header: t.Header(), col: col, extra: make([]int, len(t.Header())), nExtra: extras, altOwner: -1}
	for i := range d.extra {
		d.extra[i] = -1
	}
	for i, h := range t.Header() {
		if !slices.Contains(billing.UsageColumns[:], h) {
			d.extra[i] = extras.add(h)
			d.noteOptional(i, h)
		}
	}
	return d, nil
}

// optionalColumns are the optional usage columns, carried through to the
// bills under their names, that Decode checks; empty values are null.
var optionalColumns = []string{billing.ColNameUsageQuantity, billing.ColNameUsageUnit,
	billing.ColNameRegion, billing.ColNameResourceName, billing.ColNameTags}

// noteOptional records that header position i holds the optional usage
// column name, if it is one.
func (d *UsageDecoder) noteOptional(i int, name string) {
	if !slices.Contains(optionalColumns, name) {
		return
	}
	d.optional = append(d.optional, optionalColumn{i, name})
}

// optionalColumn is an optional usage column at a header position.
type optionalColumn struct {
	pos  int
	name string
}

// checkOptional checks the optional usage columns of a decoded line: an
// empty value becomes null, a usage_quantity must be an exact decimal and
// tags are written as a JSON object (billing.ParseTags).
func (d *UsageDecoder) checkOptional(row *Row, line *billing.UsageLine) *billing.RowError {
	for _, oc := range d.optional {
		j, name := oc.pos, oc.name
		x := d.extra[j]
		v := &line.Extra[x]
		if !v.Valid {
			continue
		}
		if blank(v.S) {
			*v = billing.NullString{}
			continue
		}
		var err error
		code := ""
		switch name {
		case billing.ColNameUsageQuantity:
			v.S, err = billing.ParseQuantity(v.S)
			code = "invalid_usage_quantity"
		case billing.ColNameTags:
			v.S, err = d.parseTags(v.S)
			code = "invalid_tags"
		} // usage_unit, region, resource_name: any text (the readers refuse text that is not UTF-8)
		if err != nil {
			return &billing.RowError{Pos: billing.Pos{File: d.file, Row: row.N, Col: j + 1}, Field: d.header[j], Code: code, Err: err}
		}
	}
	return nil
}

// blank reports whether s is empty or all white space, as
// strings.TrimSpace(s) == "" does: most values start with a letter or digit.
func blank(s string) bool {
	if s != "" && s[0] < utf8.RuneSelf && !asciiSpace[s[0]] {
		return false
	}
	return strings.TrimSpace(s) == ""
}

var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// Account returns the raw account_id of row as Decode reads it (for an
// Alibaba export, OwnerID, else AccountID), or "" when it has none: what a
// sharded run splits members by, with no parsing.
func (d *UsageDecoder) Account(row *Row) string {
	for _, j := range []int{d.col[billing.ColAccountID], d.altOwner} {
		if j >= 0 && j < len(row.Fields) && (row.Null == nil || !row.Null[j]) && row.Fields[j] != "" {
			return row.Fields[j]
		}
	}
	return ""
}

// bad is row's error in column c.
func (d *UsageDecoder) bad(row *Row, c int, code string, err error) *billing.RowError {
	field := billing.UsageColumns[c]
	if j := d.col[c]; j >= 0 {
		field = d.header[j] // the column as the input names it (an export's own name)
	}
	return &billing.RowError{Pos: billing.Pos{File: d.file, Row: row.N, Col: d.col[c] + 1}, Field: field, Code: code, Err: err}
}

// Decode parses row into line. On a bad row it returns a *billing.RowError
// whose Field names the first bad column and whose Code is the reason_code;
// line is then partly filled and must not be used. Line.Extra is sized to
// the extra columns known so far; columns this file lacks are null.
func (d *UsageDecoder) Decode(row *Row, line *billing.UsageLine) *billing.RowError {
	pos := billing.Pos{File: d.file, Row: row.N}
	if row.Err != nil {
		code := "malformed_row"
		var fe *FormatError
		if errors.As(row.Err, &fe) {
			code = fe.Code
		}
		return &billing.RowError{Pos: pos, Code: code, Err: row.Err}
	}
	get := func(c int) (string, *billing.RowError) {
		j := d.col[c]
		if j < 0 || (row.Null != nil && row.Null[j]) || row.Fields[j] == "" {
			switch {
			case c == billing.ColAccountID && d.altOwner >= 0 && !(row.Null != nil && row.Null[d.altOwner]) && row.Fields[d.altOwner] != "":
				return row.Fields[d.altOwner], nil // an export's AccountID, when OwnerID is empty
			case c == billing.ColCurrency && j < 0 && d.currency != "":
				return d.currency, nil // --currency, for an export without the column
			case billing.OptionalUsageColumn(c):
				return "", nil
			}
			return "", &billing.RowError{Pos: billing.Pos{File: d.file, Row: row.N, Col: j + 1}, Field: billing.UsageColumns[c], Code: "missing_value", Err: errors.New("required value is empty")}
		}
		return row.Fields[j], nil
	}
	bad := func(c int, code string, err error) *billing.RowError { return d.bad(row, c, code, err) }
	var vals [billing.NumUsageColumns]string
	var typed [billing.NumUsageColumns]bool // delivered as integers (DeliverTyped)
	for c := range vals {
		if j := d.col[c]; j >= 0 && row.Typed(j) {
			typed[c] = true
			continue
		}
		v, rerr := get(c)
		if rerr != nil {
			return rerr
		}
		vals[c] = v
	}
	parseTime := billing.ParseTime
	// text is column c's value as text: a typed value is rendered only
	// when its integer is not exactly a billing value, or for a message.
	text := func(c int) string {
		if typed[c] {
			return row.Text(d.col[c])
		}
		return vals[c]
	}
	timeAt := func(c int) (billing.Time, error) {
		if typed[c] {
			if t, ok := row.Time(d.col[c]); ok {
				return t, nil
			}
		}
		return parseTime(text(c))
	}
	amountAt := func(c int) (billing.Amount, error) {
		if typed[c] {
			if a, ok := row.Amount(d.col[c]); ok {
				return a, nil
			}
		}
		return billing.ParseAmount(text(c))
	}
	if d.translates {
		parseTime = d.clock.Parse
		if rerr := d.translate(&vals, row); rerr != nil {
			return rerr
		}
	}
	var err error
	if line.LineID, err = billing.ParseID(vals[billing.ColLineID]); err != nil {
		return bad(billing.ColLineID, "invalid_id", err)
	}
	if line.AccountID, err = billing.ParseID(vals[billing.ColAccountID]); err != nil {
		return bad(billing.ColAccountID, "invalid_id", err)
	}
	if line.ProductCode, err = billing.ParseID(vals[billing.ColProductCode]); err != nil {
		return bad(billing.ColProductCode, "invalid_product_code", err)
	}
	if line.Cycle, err = billing.ParseCycle(vals[billing.ColBillingCycle]); err != nil {
		return bad(billing.ColBillingCycle, "invalid_billing_cycle", err)
	}
	if line.SubscriptionType, err = billing.ParseSubscriptionType(vals[billing.ColSubscriptionType]); err != nil {
		return bad(billing.ColSubscriptionType, "invalid_subscription_type", err)
	}
	if line.UsageStart, err = timeAt(billing.ColUsageStart); err != nil {
		return bad(billing.ColUsageStart, "invalid_timestamp", err)
	}
	if line.UsageEnd, err = timeAt(billing.ColUsageEnd); err != nil {
		return bad(billing.ColUsageEnd, "invalid_timestamp", err)
	}
	if line.ListAmount, err = amountAt(billing.ColListAmount); err != nil {
		return bad(billing.ColListAmount, "invalid_amount", err)
	}
	if line.Currency, err = billing.ParseCurrency(vals[billing.ColCurrency]); err != nil {
		return bad(billing.ColCurrency, "invalid_currency", err)
	}
	if line.PaymentStatus, err = billing.ParsePaymentStatus(vals[billing.ColPaymentStatus]); err != nil {
		return bad(billing.ColPaymentStatus, "invalid_payment_status", err)
	}
	if line.IssuedAt, err = timeAt(billing.ColIssuedAt); err != nil {
		return bad(billing.ColIssuedAt, "invalid_timestamp", err)
	}
	line.HasSettledAt = typed[billing.ColSettledAt] || vals[billing.ColSettledAt] != ""
	line.SettledAt = 0
	if line.HasSettledAt {
		if line.SettledAt, err = timeAt(billing.ColSettledAt); err != nil {
			return bad(billing.ColSettledAt, "invalid_timestamp", err)
		}
	}
	if line.ChargeType, err = billing.ParseChargeType(vals[billing.ColChargeType]); err != nil {
		return bad(billing.ColChargeType, "invalid_charge_type", err)
	}
	if line.ResourceID, err = billing.ParseResourceID(vals[billing.ColResourceID]); err != nil {
		return bad(billing.ColResourceID, "invalid_resource_id", err)
	}
	if line.UsageEnd < line.UsageStart {
		return bad(billing.ColUsageEnd, "usage_end_before_start",
			fmt.Errorf("usage_end %s is before usage_start %s", text(billing.ColUsageEnd), text(billing.ColUsageStart)))
	}
	if e := plausible(line, text, bad); e != nil {
		return e
	}
	n := len(d.nExtra.names)
	if cap(line.Extra) >= n {
		line.Extra = line.Extra[:n]
		clear(line.Extra)
	} else {
		line.Extra = make([]billing.NullString, n)
	}
	for j, x := range d.extra {
		if x >= 0 && !(row.Null != nil && row.Null[j]) {
			line.Extra[x] = billing.NullString{S: row.Fields[j], Valid: true}
		}
	}
	if d.optional != nil {
		return d.checkOptional(row, line)
	}
	return nil
}

// Record returns the row's raw values keyed by header name, for a reject's
// record column. Null values (and columns a short row lacks) are nil; values
// past the header's end are kept under their position, "column_N", so that
// nothing read is dropped.
func Record(header []string, row *Row) []Field {
	out := make([]Field, 0, max(len(header), len(row.Fields)))
	for i := 0; i < len(header) || i < len(row.Fields); i++ {
		f := Field{Name: fmt.Sprintf("column_%d", i+1)}
		if i < len(header) {
			f.Name = header[i]
		}
		if i < len(row.Fields) && !(row.Null != nil && row.Null[i]) {
			v := row.Text(i)
			f.Value = &v
		}
		out = append(out, f)
	}
	return out
}

// Field is one named raw value of a rejected row; a nil Value is null (or
// absent from a short row).
type Field struct {
	Name  string
	Value *string
}

// Header returns the decoder's header.
func (d *UsageDecoder) Header() []string { return d.header }

// TypedColumns returns the header positions of the columns Decode can read
// as integers (see [DeliverTyped]): the timestamps and list_amount. An
// Alibaba export's are read as text, as its profile translates them.
func (d *UsageDecoder) TypedColumns() []int {
	if d.translates {
		return nil
	}
	var cols []int
	for _, c := range []int{billing.ColUsageStart, billing.ColUsageEnd, billing.ColIssuedAt, billing.ColSettledAt, billing.ColListAmount} {
		if j := d.col[c]; j >= 0 {
			cols = append(cols, j)
		}
	}
	return cols
}

// ChangeDecoder decodes the rows of one trusteeship-changes table.
type ChangeDecoder struct {
	file   string
	header []string
	col    []int
}

// NewChangeDecoder maps t's header onto the change columns.
func NewChangeDecoder(t Table) (*ChangeDecoder, error) {
	idx, err := headerIndex(t)
	if err != nil {
		return nil, err
	}
	col, err := lookup(t, idx, billing.ChangeColumns,
		func(n string) bool { return n == "management_account_id" },
		func(n string) []ColumnKind {
			if n == "changed_at" {
				return timestampKind
			}
			return textOnly
		})
	if err != nil {
		return nil, err
	}
	return &ChangeDecoder{file: t.Name(), header: t.Header(), col: col}, nil
}

// Header returns the decoder's header.
func (d *ChangeDecoder) Header() []string { return d.header }

// Decode parses row into c (whose Seq the caller sets).
func (d *ChangeDecoder) Decode(row *Row, c *billing.Change) *billing.RowError {
	c.Pos = billing.Pos{File: d.file, Row: row.N}
	if row.Err != nil {
		code := "malformed_row"
		var fe *FormatError
		if errors.As(row.Err, &fe) {
			code = fe.Code
		}
		return &billing.RowError{Pos: c.Pos, Code: code, Err: row.Err}
	}
	val := func(i int) string {
		j := d.col[i]
		if j < 0 || (row.Null != nil && row.Null[j]) {
			return ""
		}
		return row.Fields[j]
	}
	bad := func(i int, code string, err error) *billing.RowError {
		return &billing.RowError{Pos: billing.Pos{File: d.file, Row: row.N, Col: d.col[i] + 1}, Field: billing.ChangeColumns[i], Code: code, Err: err}
	}
	missing := errors.New("required value is empty")
	for i := range billing.ChangeColumns {
		if i != 3 && val(i) == "" {
			return bad(i, "missing_value", missing)
		}
	}
	var err error
	if c.ChangeID, err = billing.ParseID(val(0)); err != nil {
		return bad(0, "invalid_id", err)
	}
	if c.AccountID, err = billing.ParseID(val(1)); err != nil {
		return bad(1, "invalid_id", err)
	}
	if c.Policy, err = billing.ParsePolicy(val(2)); err != nil {
		return bad(2, "invalid_policy", err)
	}
	c.ManagementAccountID = ""
	if c.Policy == billing.PolicyTrusteeship {
		if val(3) == "" {
			return bad(3, "missing_management_account", errors.New("policy trusteeship needs a management account"))
		}
		if c.ManagementAccountID, err = billing.ParseID(val(3)); err != nil {
			return bad(3, "invalid_id", err)
		}
	}
	if c.ChangedAt, err = billing.ParseTime(val(4)); err != nil {
		return bad(4, "invalid_timestamp", err)
	}
	return nil
}

// AccountDecoder decodes the rows of one accounts table.
type AccountDecoder struct {
	file   string
	header []string
	col    []int
	name   int // account_name's position, -1 if absent
}

// NewAccountDecoder maps t's header onto the account columns.
func NewAccountDecoder(t Table) (*AccountDecoder, error) {
	idx, err := headerIndex(t)
	if err != nil {
		return nil, err
	}
	col, err := lookup(t, idx, billing.AccountColumns, nil, func(string) []ColumnKind { return textOnly })
	if err != nil {
		return nil, err
	}
	d := &AccountDecoder{file: t.Name(), header: t.Header(), col: col, name: -1}
	if j, ok := idx["account_name"]; ok {
		d.name = j
	}
	return d, nil
}

// Header returns the decoder's header.
func (d *AccountDecoder) Header() []string { return d.header }

// Decode parses row into a.
func (d *AccountDecoder) Decode(row *Row, a *billing.Account) *billing.RowError {
	a.Pos = billing.Pos{File: d.file, Row: row.N}
	if row.Err != nil {
		code := "malformed_row"
		var fe *FormatError
		if errors.As(row.Err, &fe) {
			code = fe.Code
		}
		return &billing.RowError{Pos: a.Pos, Code: code, Err: row.Err}
	}
	for i, name := range billing.AccountColumns {
		j := d.col[i]
		v := row.Fields[j]
		if row.Null != nil && row.Null[j] {
			v = ""
		}
		if v == "" {
			return &billing.RowError{Pos: billing.Pos{File: d.file, Row: row.N, Col: j + 1}, Field: name, Code: "missing_value", Err: errors.New("required value is empty")}
		}
		if _, err := billing.ParseID(v); err != nil {
			return &billing.RowError{Pos: billing.Pos{File: d.file, Row: row.N, Col: j + 1}, Field: name, Code: "invalid_id", Err: err}
		}
		if i == 0 {
			a.AccountID = v
		} else {
			a.EnterpriseID = v
		}
	}
	a.Name = ""
	if j := d.name; j >= 0 && j < len(row.Fields) && !(row.Null != nil && row.Null[j]) {
		v := strings.TrimSpace(row.Fields[j])
		if !utf8.ValidString(v) || utf8.RuneCountInString(v) > billing.MaxAccountName {
			return &billing.RowError{Pos: billing.Pos{File: d.file, Row: row.N, Col: j + 1}, Field: "account_name", Code: "invalid_account_name",
				Err: fmt.Errorf("account_name must be UTF-8 text of at most %d characters", billing.MaxAccountName)}
		}
		a.Name = v
	}
	return nil
}

// checkReserved refuses a usage header naming a column billcons writes.
func checkReserved(t Table, idx map[string]int) error {
	for _, out := range billing.OutputColumns {
		if _, ok := idx[out]; ok {
			return fmt.Errorf("%s: column %s is one billcons writes itself; rename it in the input", t.Name(), out)
		}
	}
	return nil
}

// The plausible bill: its cycle and times between 2000-01 and 2099-12, and
// its cycle at most PlausibleCycleMonths from its usage period. A cloud
// bills a line in the month its usage falls in, or a later one when the
// line arrives late (a prepaid purchase in the month it is bought, however
// long it runs; a refund or adjustment after the fact); a cycle years away
// from the usage, or a year 0001 or 9999, is a broken export, not a bill.
const (
	firstPlausibleCycle  = billing.Cycle(2000 * 12)    // 2000-01
	lastPlausibleCycle   = billing.Cycle(2099*12 + 11) // 2099-12
	PlausibleCycleMonths = 12
)

// The instants before and after which no bill's time lies: a month's
// slack either side of 2000-01 to 2099-12, so that a zone's offset never
// matters.
var (
	firstPlausibleTime = (firstPlausibleCycle - 1).StartUTC()
	endPlausibleTime   = (lastPlausibleCycle + 2).StartUTC()
)

// plausible rejects a line whose cycle or times no bill has. It runs on
// every line: it compares the times as integers, with the cycle's bounds
// worked out by integer arithmetic, not through time.Time.
func plausible(line *billing.UsageLine, text func(int) string, bad func(int, string, error) *billing.RowError) *billing.RowError {
	if line.Cycle < firstPlausibleCycle || line.Cycle > lastPlausibleCycle {
		return bad(billing.ColBillingCycle, "implausible_billing_cycle",
			fmt.Errorf("%s is outside 2000-01 to 2099-12: no cloud bill has it", line.Cycle))
	}
	for _, x := range [...]struct {
		col int
		t   billing.Time
		ok  bool
	}{{billing.ColUsageStart, line.UsageStart, true}, {billing.ColUsageEnd, line.UsageEnd, true},
		{billing.ColIssuedAt, line.IssuedAt, true}, {billing.ColSettledAt, line.SettledAt, line.HasSettledAt}} {
		if x.ok && (x.t < firstPlausibleTime || x.t >= endPlausibleTime) {
			return bad(x.col, "implausible_timestamp",
				fmt.Errorf("%s is outside the years 2000 to 2099: no cloud bill has it", text(x.col)))
		}
	}
	// The cycle is at most PlausibleCycleMonths before the month the usage
	// starts in, and after the month it ends in (UTC).
	if line.UsageStart >= (line.Cycle+PlausibleCycleMonths+1).StartUTC() || line.UsageEnd < (line.Cycle-PlausibleCycleMonths).StartUTC() {
		return bad(billing.ColBillingCycle, "billing_cycle_far_from_usage",
			fmt.Errorf("%s is more than %d months from the usage period (%s to %s): a line is billed near its usage", line.Cycle, PlausibleCycleMonths, text(billing.ColUsageStart), text(billing.ColUsageEnd)))
	}
	return nil
}
