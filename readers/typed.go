package readers

import (
	"fmt"
	"math"
	"slices"

	"github.com/billcons/billcons/billing"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// typedColumn is how a column a Parquet table delivers typed reads: the raw
// integer in Row.Num, which is a timestamp in its unit or a decimal's
// unscaled value.
type typedColumn struct {
	on    bool
	int32 bool  // the physical type is INT32 (a decimal); else INT64
	unit  int64 // a timestamp's unit in nanoseconds (1e6, 1e3 or 1); 0 for a decimal
	scale int32 // a decimal's scale
}

// appendText appends x as the column's text: what parquetRenderer gives for
// the same value, through the same appendTimestamp and appendDecimal.
func (tc *typedColumn) appendText(dst []byte, x int64) []byte {
	if tc.unit == 0 {
		if tc.int32 {
			x = int64(int32(x))
		}
		return appendDecimal(dst, x, tc.scale)
	}
	return appendTimestamp(dst, x, tc.unit)
}

// TypedColumn is a column a table delivers typed, as a sharded run's split
// step records it for the shards that read its rows ([TypedColumnsOf],
// [NewTypedSet]).
type TypedColumn struct {
	Col   int   `json:"col"`
	Int32 bool  `json:"int32,omitempty"`
	Unit  int64 `json:"unit,omitempty"` // a timestamp's unit in nanoseconds; 0 for a decimal
	Scale int32 `json:"scale,omitempty"`
}

// TypedColumnsOf returns the columns t delivers typed (see
// [DeliverTyped]); nil when none.
func TypedColumnsOf(t Table) []TypedColumn {
	pt := unwrapParquet(t)
	if pt == nil {
		return nil
	}
	var out []TypedColumn
	for c, tc := range pt.typed {
		if tc.on {
			out = append(out, TypedColumn{Col: c, Int32: tc.int32, Unit: tc.unit, Scale: tc.scale})
		}
	}
	return out
}

// TypedSet is the typed columns of a table of width columns, for rows
// read back from elsewhere ([Row.SetTyped]).
type TypedSet struct{ cols []typedColumn }

// NewTypedSet checks cols against a table of width columns.
func NewTypedSet(width int, cols []TypedColumn) (*TypedSet, error) {
	if len(cols) == 0 {
		return nil, nil
	}
	s := &TypedSet{cols: make([]typedColumn, width)}
	for _, c := range cols {
		if c.Col < 0 || c.Col >= width || s.cols[c.Col].on {
			return nil, fmt.Errorf("typed column %d of %d", c.Col, width)
		}
		switch c.Unit {
		case 0, 1, 1e3, 1e6:
		default:
			return nil, fmt.Errorf("typed column %d: unit %d", c.Col, c.Unit)
		}
		if c.Unit != 0 && (c.Int32 || c.Scale != 0) {
			return nil, fmt.Errorf("typed column %d: a timestamp with a scale", c.Col)
		}
		s.cols[c.Col] = typedColumn{on: true, int32: c.Int32, unit: c.Unit, scale: c.Scale}
	}
	return s, nil
}

// Is reports whether column c is typed.
func (s *TypedSet) Is(c int) bool { return s != nil && c >= 0 && c < len(s.cols) && s.cols[c].on }

// SetTyped makes the row's typed fields those of s, with their integers in
// num (one per field; only typed, non-null fields are read).
func (r *Row) SetTyped(s *TypedSet, num []int64) {
	if s == nil {
		r.Num, r.typed = nil, nil
		return
	}
	r.Num, r.typed = num, s.cols
}

// DeliverTyped asks t, when it is a Parquet table, to deliver the columns
// at header positions cols as raw integers in Row.Num instead of text, when
// they are timestamps, or decimals stored as INT32 or INT64: what a decoder
// reads with [Row.Time] and [Row.Amount] without rendering and parsing
// text. Other tables, and other columns, stay text. It must be called
// before the first Read.
func DeliverTyped(t Table, cols []int) {
	if pt := unwrapParquet(t); pt != nil {
		pt.deliverTyped(cols)
	}
}

// ReadOnly asks t, when it is a Parquet table, to read only the columns at
// header positions cols: the others' pages are not read and their fields
// are empty. Other tables read every column. It must be called before the
// first Read. For a reader of a few columns of wide files, such as
// verify's of the bills.
func ReadOnly(t Table, cols []int) {
	pt := unwrapParquet(t)
	if pt == nil {
		return
	}
	pt.skip = make([]bool, len(pt.header))
	for c := range pt.skip {
		pt.skip[c] = !slices.Contains(cols, c)
	}
}

// unwrapParquet returns the Parquet table t is, or renames; else nil.
func unwrapParquet(t Table) *parquetTable {
	for {
		switch x := t.(type) {
		case *renamed:
			t = x.Table
		case *renamedKinds:
			t = x.Table
		case *parquetTable:
			return x
		default:
			return nil
		}
	}
}

func (t *parquetTable) deliverTyped(cols []int) {
	fields := t.pf.Schema().Fields()
	for _, c := range cols {
		if c < 0 || c >= len(fields) {
			continue
		}
		typ := fields[c].Type()
		var logical format.LogicalTypeValue
		if lt := typ.LogicalType(); lt != nil {
			logical = lt.Value
		}
		tc := typedColumn{on: true}
		switch lt := logical.(type) {
		case *format.TimestampType:
			if typ.Kind() != parquet.Int64 || t.kinds[c] != KindTimestamp {
				continue
			}
			tc.unit = int64(lt.Unit.Value.Duration())
		case *format.DecimalType:
			switch typ.Kind() {
			case parquet.Int32:
				tc.int32 = true
			case parquet.Int64:
			default:
				continue // bytes: rendered as text
			}
			tc.scale = lt.Scale
		default:
			continue
		}
		if t.typed == nil {
			t.typed = make([]typedColumn, len(t.header))
		}
		t.typed[c] = tc
	}
}

// Typed reports whether field c is delivered typed (and is not null): its
// value is in Num[c] and its Fields[c] is empty; [Row.Text] renders it.
func (r *Row) Typed(c int) bool {
	return r.typed != nil && c >= 0 && c < len(r.typed) && r.typed[c].on && !(r.Null != nil && r.Null[c])
}

// Text returns field c as text, rendering a typed value; "" for a null or
// absent field.
func (r *Row) Text(c int) string {
	if r.Typed(c) {
		return string(r.appendTyped(nil, c))
	}
	if c < 0 || c >= len(r.Fields) {
		return ""
	}
	return r.Fields[c]
}

func (r *Row) appendTyped(dst []byte, c int) []byte {
	return r.typed[c].appendText(dst, r.Num[c])
}

// typedSize is the bytes the row's typed fields take as text.
func (r *Row) typedSize() int {
	n := 0
	var buf [64]byte
	for c := range r.typed {
		if r.Typed(c) {
			n += len(r.appendTyped(buf[:0], c))
		}
	}
	return n
}

// Time returns typed field c as a billing time, when it is one exactly: a
// timestamp in years 1 to 9999 whose nanoseconds, if any, are whole
// microseconds. Otherwise ok is false and the field must be read from its
// [Row.Text], which gives the same value or the error that text gives.
func (r *Row) Time(c int) (t billing.Time, ok bool) {
	if !r.Typed(c) || r.typed[c].unit == 0 {
		return 0, false
	}
	x := r.Num[c]
	switch r.typed[c].unit {
	case 1e6: // milliseconds
		if x > math.MaxInt64/1000 || x < math.MinInt64/1000 {
			return 0, false
		}
		x *= 1000
	case 1e3:
	case 1:
		if x%1000 != 0 {
			return 0, false
		}
		x /= 1000
	default:
		return 0, false
	}
	if x < minTypedTime || x > maxTypedTime {
		return 0, false
	}
	return billing.Time(x), true
}

// The microseconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z.
const (
	minTypedTime = -62135596800 * 1_000_000
	maxTypedTime = 253402300799*1_000_000 + 999_999
)

// Amount returns typed field c as a billing amount, when it is one
// exactly: a decimal of scale 0 to 9 below 10^9 in absolute value.
// Otherwise ok is false and the field must be read from its [Row.Text],
// which gives the same value or the error that text gives.
func (r *Row) Amount(c int) (a billing.Amount, ok bool) {
	if !r.Typed(c) || r.typed[c].unit != 0 {
		return 0, false
	}
	s := r.typed[c].scale
	if s < 0 || s > billing.Scale {
		return 0, false
	}
	u := r.Num[c]
	limit := pow10[billing.Scale+s] // |u| < 10^(9+s): |value| < 10^9
	if u >= limit || u <= -limit {
		return 0, false
	}
	return billing.Amount(u * pow10[billing.Scale-s]), true
}

var pow10 = func() (p [19]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return
}()
