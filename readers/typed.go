package readers

import (
	"math"

	"github.com/billcons/billcons/billing"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// typedColumn is how a column a Parquet table delivers typed reads: the raw
// integer in Row.Num, which is a timestamp in its unit or a decimal's
// unscaled value.
type typedColumn struct {
	on     bool
	render renderFunc
	int32  bool  // the physical type is INT32 (a decimal); else INT64
	unit   int64 // a timestamp's unit in nanoseconds (1e6, 1e3 or 1); 0 for a decimal
	scale  int32 // a decimal's scale
}

// DeliverTyped asks t, when it is a Parquet table, to deliver the columns
// at header positions cols as raw integers in Row.Num instead of text, when
// they are timestamps, or decimals stored as INT32 or INT64: what a decoder
// reads with [Row.Time] and [Row.Amount] without rendering and parsing
// text. Other tables, and other columns, stay text. It must be called
// before the first Read.
func DeliverTyped(t Table, cols []int) {
	for {
		switch x := t.(type) {
		case *renamed:
			t = x.Table
			continue
		case *renamedKinds:
			t = x.Table
			continue
		case *parquetTable:
			x.deliverTyped(cols)
		}
		return
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
		tc := typedColumn{on: true, render: t.render[c]}
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
	tc := &r.typed[c]
	v := parquet.Int64Value(r.Num[c])
	if tc.int32 {
		v = parquet.Int32Value(int32(r.Num[c]))
	}
	out, err := tc.render(dst, v)
	if err != nil {
		return dst // typed columns render without errors
	}
	return out
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
