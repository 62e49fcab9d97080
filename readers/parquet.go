package readers

import (
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/shopspring/decimal"
)

// ColumnKind is what a Parquet column holds, as the decoders see it.
type ColumnKind uint8

const (
	KindText      ColumnKind = iota // BYTE_ARRAY: text as it is
	KindTimestamp                   // TIMESTAMP adjusted to UTC, rendered as RFC 3339
	KindDecimal                     // DECIMAL, rendered as exact decimal text
	KindOther                       // numbers, booleans, dates: rendered as text
)

// parquetTable reads a flat Parquet file row group by row group.
type parquetTable struct {
	name   string
	f      *os.File
	pf     *parquet.File
	header []string
	kinds  []ColumnKind
	render []func(parquet.Value) (string, error)
	groups []parquet.RowGroup
	rows   parquet.Rows
	buf    []parquet.Row
	n      int64
}

func openParquet(path string) (t Table, err error) {
	// parquet-go trusts the file's metadata and can panic on a corrupt one;
	// a broken file must stop the run with an error, not a crash.
	defer func() {
		if p := recover(); p != nil {
			t, err = nil, fmt.Errorf("%s: not a readable Parquet file: %v", path, p)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
	}
	if n := len(pf.Schema().Fields()); n > MaxColumns {
		f.Close()
		return nil, fmt.Errorf("%s: schema has %d columns; billcons reads at most %d", path, n, MaxColumns)
	}
	pt := &parquetTable{name: path, f: f, pf: pf, groups: pf.RowGroups()}
	for _, field := range pf.Schema().Fields() {
		if !field.Leaf() || field.Repeated() {
			f.Close()
			return nil, fmt.Errorf("%s: column %s is nested or repeated; billcons reads flat tables only", path, field.Name())
		}
		kind, render, err := parquetRenderer(field.Type())
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: column %s: %w", path, field.Name(), err)
		}
		pt.header = append(pt.header, field.Name())
		pt.kinds = append(pt.kinds, kind)
		pt.render = append(pt.render, render)
	}
	return pt, nil
}

// Kinds reports what each header column holds.
func (t *parquetTable) Kinds() []ColumnKind { return t.kinds }

func (t *parquetTable) Name() string     { return t.name }
func (t *parquetTable) Header() []string { return t.header }

func (t *parquetTable) Read(dst []Row) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("%s: after row %d: not a readable Parquet file: %v", t.name, t.n, p)
		}
	}()
	return t.read(dst)
}

func (t *parquetTable) read(dst []Row) (int, error) {
	if len(t.buf) < len(dst) {
		t.buf = make([]parquet.Row, len(dst))
	}
	filled := 0
	for filled < len(dst) {
		if t.rows == nil {
			if len(t.groups) == 0 {
				return filled, io.EOF
			}
			t.rows = t.groups[0].Rows()
			t.groups = t.groups[1:]
		}
		n, err := t.rows.ReadRows(t.buf[:len(dst)-filled])
		for _, prow := range t.buf[:n] {
			t.n++
			row := &dst[filled]
			filled++
			*row = Row{N: t.n, Fields: make([]string, len(t.header))}
			size := 0
			for _, v := range prow {
				c := v.Column()
				if c < 0 || c >= len(t.header) {
					continue
				}
				if v.IsNull() {
					if row.Null == nil {
						row.Null = make([]bool, len(t.header))
					}
					row.Null[c] = true
					continue
				}
				s, rerr := t.render[c](v)
				if rerr != nil && row.Err == nil {
					row.Err = &FormatError{Code: "invalid_value", Msg: fmt.Sprintf("column %s: %v", t.header[c], rerr)}
				}
				if t.kinds[c] == KindText && !utf8.ValidString(s) && row.Err == nil {
					row.Err = &FormatError{Code: "invalid_utf8", Msg: fmt.Sprintf("column %s is not valid UTF-8", t.header[c])}
				}
				size += len(s)
				row.Fields[c] = s
			}
			if size > MaxRowBytes {
				// Unlike CSV, a Parquet row's end is known: reject it alone,
				// keeping at most a prefix of each value in its record.
				for c := range row.Fields {
					if len(row.Fields[c]) > 1024 {
						row.Fields[c] = strings.ToValidUTF8(row.Fields[c][:1024], "") + "…"
					}
				}
				row.Err = &FormatError{Code: "row_too_long", Msg: fmt.Sprintf("row holds %d bytes; billcons takes at most %d MiB per row (values in the record are cut to 1 KiB)", size, MaxRowBytes>>20)}
			}
		}
		if err == io.EOF {
			t.rows.Close()
			t.rows = nil
			continue
		}
		if err != nil {
			return filled, fmt.Errorf("%s: row %d: %w", t.name, t.n+1, err)
		}
	}
	return filled, nil
}

func (t *parquetTable) Close() error {
	if t.rows != nil {
		t.rows.Close()
	}
	return t.f.Close()
}

// parquetRenderer returns how to render values of typ as text.
func parquetRenderer(typ parquet.Type) (ColumnKind, func(parquet.Value) (string, error), error) {
	var logical format.LogicalTypeValue
	if lt := typ.LogicalType(); lt != nil {
		logical = lt.Value
	}
	switch lt := logical.(type) {
	case *format.TimestampType:
		if !lt.IsAdjustedToUTC {
			return 0, nil, fmt.Errorf("timestamp without time zone (isAdjustedToUTC=false): timestamps must carry an offset")
		}
		if lt.Unit.Value == nil {
			return 0, nil, fmt.Errorf("timestamp without a unit")
		}
		unit := lt.Unit.Value.Duration()
		return KindTimestamp, func(v parquet.Value) (string, error) {
			x := v.Int64()
			var t time.Time
			switch unit {
			case time.Millisecond:
				t = time.UnixMilli(x)
			case time.Microsecond:
				t = time.UnixMicro(x)
			default:
				t = time.Unix(0, x)
			}
			return formatUTC(t), nil
		}, nil
	case *format.DecimalType:
		scale := lt.Scale
		kind := typ.Kind()
		return KindDecimal, func(v parquet.Value) (string, error) {
			var unscaled *big.Int
			switch kind {
			case parquet.Int32:
				return formatDecimal(int64(v.Int32()), scale), nil
			case parquet.Int64:
				return formatDecimal(v.Int64(), scale), nil
			default:
				unscaled = bigFromTwos(v.ByteArray())
			}
			return decimal.NewFromBigInt(unscaled, -scale).String(), nil
		}, nil
	}
	switch typ.Kind() {
	case parquet.ByteArray:
		return KindText, func(v parquet.Value) (string, error) { return string(v.ByteArray()), nil }, nil
	case parquet.Int32:
		if _, ok := logical.(*format.DateType); ok {
			return KindOther, func(v parquet.Value) (string, error) {
				return time.Unix(int64(v.Int32())*86400, 0).UTC().Format("2006-01-02"), nil
			}, nil
		}
		return KindOther, func(v parquet.Value) (string, error) { return strconv.FormatInt(int64(v.Int32()), 10), nil }, nil
	case parquet.Int64:
		if it, ok := logical.(*format.IntType); ok && !it.IsSigned {
			return KindOther, func(v parquet.Value) (string, error) { return strconv.FormatUint(v.Uint64(), 10), nil }, nil
		}
		return KindOther, func(v parquet.Value) (string, error) { return strconv.FormatInt(v.Int64(), 10), nil }, nil
	case parquet.Boolean:
		return KindOther, func(v parquet.Value) (string, error) { return strconv.FormatBool(v.Boolean()), nil }, nil
	case parquet.Float:
		return KindOther, func(v parquet.Value) (string, error) {
			return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32), nil
		}, nil
	case parquet.Double:
		return KindOther, func(v parquet.Value) (string, error) { return strconv.FormatFloat(v.Double(), 'g', -1, 64), nil }, nil
	case parquet.FixedLenByteArray:
		return KindOther, func(v parquet.Value) (string, error) { return fmt.Sprintf("%x", v.ByteArray()), nil }, nil
	}
	return 0, nil, fmt.Errorf("unsupported Parquet type %s", typ)
}

// formatUTC renders t in UTC as RFC 3339 with the fraction's trailing zeros
// dropped: what t.UTC().Format("2006-01-02T15:04:05.999999999Z07:00") gives,
// several times faster (a Parquet timestamp is rendered for every value).
func formatUTC(t time.Time) string {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	if y < 0 || y > 9999 {
		return t.Format("2006-01-02T15:04:05.999999999Z07:00")
	}
	var b [30]byte
	p := b[:0]
	two := func(n int) { p = append(p, byte('0'+n/10), byte('0'+n%10)) }
	two(y / 100)
	two(y % 100)
	p = append(p, '-')
	two(int(mo))
	p = append(p, '-')
	two(d)
	p = append(p, 'T')
	two(h)
	p = append(p, ':')
	two(mi)
	p = append(p, ':')
	two(sec)
	if ns := t.Nanosecond(); ns != 0 {
		p = append(p, '.')
		for div := 100_000_000; div > 0 && ns > 0; div /= 10 {
			p = append(p, byte('0'+ns/div))
			ns %= div
		}
	}
	p = append(p, 'Z')
	return string(p)
}

// formatDecimal renders unscaled×10^-scale as shopspring/decimal's String
// does (trailing fractional zeros dropped), without big numbers.
func formatDecimal(u int64, scale int32) string {
	if scale <= 0 || scale > 18 || u == math.MinInt64 {
		return decimal.NewFromBigInt(big.NewInt(u), -scale).String()
	}
	neg := u < 0
	if neg {
		u = -u
	}
	digits := strconv.AppendInt(make([]byte, 0, 24), u, 10)
	for len(digits) <= int(scale) {
		digits = append([]byte{'0'}, digits...)
	}
	intPart, frac := digits[:len(digits)-int(scale)], digits[len(digits)-int(scale):]
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	out := make([]byte, 0, len(digits)+2)
	if neg {
		out = append(out, '-')
	}
	out = append(out, intPart...)
	if len(frac) > 0 {
		out = append(out, '.')
		out = append(out, frac...)
	}
	return string(out)
}

// bigFromTwos reads a big-endian two's-complement integer.
func bigFromTwos(b []byte) *big.Int {
	x := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return x
}
