package readers

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
	"github.com/shopspring/decimal"
)

// ColumnKind is what a Parquet column holds, as the decoders see it.
type ColumnKind uint8

const (
	KindText      ColumnKind = iota // BYTE_ARRAY: text as it is (binary that is not UTF-8: base64)
	KindTimestamp                   // TIMESTAMP adjusted to UTC, or INT96: rendered as RFC 3339
	KindDecimal                     // DECIMAL, rendered as exact decimal text
	KindOther                       // booleans, dates, times, binary, UUIDs: rendered as text
	KindInteger                     // integers, signed or not, in decimal
	KindFloat                       // FLOAT, DOUBLE, FLOAT16: shortest round-trip text
	KindNaive                       // TIMESTAMP not adjusted to UTC: RFC 3339 without an offset
	KindNested                      // a group, list or map: JSON
	KindBinary                      // BYTE_ARRAY without an annotation: text when UTF-8, else base64
)

// parquetTable reads a flat Parquet file row group by row group, column by
// column (see columns.go).
type parquetTable struct {
	name     string
	f        *os.File
	pf       *parquet.File
	header   []string
	kinds    []ColumnKind
	render   []renderFunc
	typed    []typedColumn // by header position; set by DeliverTyped
	skip     []bool        // by header position: not read; set by ReadOnly
	groups   []parquet.RowGroup
	group    int    // the file's index of the row group after the one read
	optional []bool // by header position: the column may hold nulls
	cols     []column
	left     int64 // rows left in the row group the columns read
	n        int64
	text     int // bytes of text the last Read rendered, to size the next
	fields   []string
	nulls    []bool
	nums     []int64
	size     []int
}

// renderFunc appends a value's text to dst.
type renderFunc func(dst []byte, v parquet.Value) ([]byte, error)

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
	if err := checkFooter(f, st.Size()); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", path, err)
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
			t, err := openNested(path, f, pf) // nested columns: read row by row
			if err != nil {
				f.Close()
			}
			return t, err
		}
		kind, render, err := parquetRenderer(field.Type(), declaredLogical(pf, field.Name()))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: column %s: %w", path, field.Name(), err)
		}
		pt.header = append(pt.header, field.Name())
		pt.optional = append(pt.optional, field.Optional())
		pt.kinds = append(pt.kinds, kind)
		pt.render = append(pt.render, render)
	}
	return pt, nil
}

// declaredLogical returns the logical type the file's schema declares for
// the top-level column name, or nil.
func declaredLogical(pf *parquet.File, name string) format.LogicalTypeValue {
	schema := pf.Metadata().Schema
	for i := 1; i < len(schema); i++ {
		if schema[i].Name == name {
			return schema[i].LogicalType.Value
		}
	}
	return nil
}

// checkFooter checks a Parquet file's trailer: the footer length it states
// must fit in the file. parquet-go allocates whatever length a file states
// (up to 4 GiB) before it looks further: a corrupt file of a few bytes
// made it zero gigabytes.
func checkFooter(f *os.File, size int64) error {
	if size < 12 {
		return fmt.Errorf("%d bytes is too short", size)
	}
	var tail [8]byte
	if _, err := f.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	if string(tail[4:]) != "PAR1" {
		return fmt.Errorf("no PAR1 at its end")
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n > size-12 {
		return fmt.Errorf("its footer claims %d bytes, more than the file holds", n)
	}
	return nil
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

// read fills the rows column by column from one row group (see
// columns.go). Text goes into one buffer per call and the rows' fields,
// nulls and numbers into slices reused from call to call: the strings are
// views of that buffer, which is never written again once viewed (a grown
// buffer leaves the old one to the strings that view it). Allocating per
// value, then per call, was a fifth of the time it took to read a Parquet
// file.
func (t *parquetTable) read(dst []Row) (int, error) {
	w := len(t.header)
	if limit := max(1, maxFieldsPerRead/max(w, 1)); len(dst) > limit {
		dst = dst[:limit] // a wide table: fewer rows per call
	}
	for t.left == 0 {
		if len(t.groups) == 0 {
			return 0, io.EOF
		}
		g := t.groups[0]
		t.groups = t.groups[1:]
		t.group++
		t.left = g.NumRows()
		md := t.pf.Metadata().RowGroups[t.group-1].Columns
		if t.cols == nil {
			t.cols = make([]column, w)
		}
		chunks := g.ColumnChunks()
		if len(chunks) != w || len(md) != w {
			return 0, fmt.Errorf("%s: a row group has %d columns, the schema %d", t.name, len(chunks), w)
		}
		for c := range t.cols {
			if t.skip != nil && t.skip[c] {
				continue
			}
			col := &t.cols[c]
			col.pos, col.kind, col.render = c, t.kinds[c], t.render[c]
			col.typed = t.typed != nil && t.typed[c].on
			if err := col.open(chunks[c], &md[c], t.f, t.pf.Size(), t.left, t.optional[c]); err != nil {
				return 0, fmt.Errorf("%s: row %d: column %s: not a readable Parquet file: %w", t.name, t.n+1, t.header[c], err)
			}
		}
	}
	if int64(len(dst)) > t.left {
		dst = dst[:t.left]
	}
	n := len(dst)
	if len(t.fields) < n*w {
		t.fields = make([]string, n*w)
		t.nulls = make([]bool, n*w)
		if t.typed != nil {
			t.nums = make([]int64, n*w)
		}
	}
	t.size = resize(t.size, n)
	clear(t.size)
	for i := range dst {
		t.n++
		dst[i] = Row{N: t.n, Fields: t.fields[i*w : (i+1)*w : (i+1)*w]}
		clear(dst[i].Fields) // a null leaves its field empty
		if t.typed != nil {
			dst[i].Num = t.nums[i*w : (i+1)*w : (i+1)*w]
			dst[i].typed = t.typed
		}
	}
	b := batch{t: t, rows: dst, text: make([]byte, 0, max(t.text+t.text/8, 1<<12)), size: t.size, nulls: t.nulls}
	for c := range t.cols {
		if t.skip != nil && t.skip[c] {
			continue
		}
		if err := t.cols[c].fill(&b); err != nil {
			return 0, fmt.Errorf("%s: row %d: column %s: not a readable Parquet file: %w", t.name, t.n-int64(n)+1, t.header[c], err)
		}
	}
	t.left -= int64(n)
	t.text = len(b.text)
	for i := range dst {
		row := &dst[i]
		size := t.size[i]
		if t.typed != nil && size > MaxRowBytes-64*len(t.header) {
			size += row.typedSize()
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
	if t.left == 0 {
		for c := range t.cols {
			t.cols[c].close()
		}
	}
	return n, nil
}

// maxFieldsPerRead bounds the fields one Read returns: 1,024 rows of up to
// 64 columns.
const maxFieldsPerRead = 1 << 16

// viewString views b as a string without copying; b must never change.
func viewString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (t *parquetTable) Close() error {
	for c := range t.cols {
		t.cols[c].close()
	}
	return t.f.Close()
}

// parquetRenderer returns how to render values of typ, a leaf, as text
// (CONTRACT.md, Values; docs/inputs.md, Parquet).
//
// declared is the logical type the file's schema element declares, for
// types parquet-go's own type drops (FLOAT16); nil if none.
func parquetRenderer(typ parquet.Type, declared format.LogicalTypeValue) (ColumnKind, renderFunc, error) {
	var logical format.LogicalTypeValue
	if lt := typ.LogicalType(); lt != nil {
		logical = lt.Value
	}
	if logical == nil {
		logical = declared
	}
	kind := typ.Kind()
	switch lt := logical.(type) {
	case *format.TimestampType:
		if lt.Unit.Value == nil {
			return 0, nil, fmt.Errorf("timestamp without a unit")
		}
		unit := int64(lt.Unit.Value.Duration())
		if !lt.IsAdjustedToUTC {
			return KindNaive, func(dst []byte, v parquet.Value) ([]byte, error) {
				b := appendTimestamp(dst, v.Int64(), unit)
				return b[:len(b)-1], nil // the wall clock: no Z
			}, nil
		}
		return KindTimestamp, func(dst []byte, v parquet.Value) ([]byte, error) {
			return appendTimestamp(dst, v.Int64(), unit), nil
		}, nil
	case *format.DecimalType:
		scale := lt.Scale
		return KindDecimal, func(dst []byte, v parquet.Value) ([]byte, error) {
			switch kind {
			case parquet.Int32:
				return appendDecimal(dst, int64(v.Int32()), scale), nil
			case parquet.Int64:
				return appendDecimal(dst, v.Int64(), scale), nil
			}
			return append(dst, decimalText(bigFromTwos(v.ByteArray()), scale)...), nil
		}, nil
	case *format.TimeType:
		unit := int64(time.Millisecond)
		if lt.Unit.Value != nil {
			unit = int64(lt.Unit.Value.Duration())
		}
		return KindOther, func(dst []byte, v parquet.Value) ([]byte, error) {
			x := v.Int64()
			if kind == parquet.Int32 {
				x = int64(v.Int32())
			}
			t := time.Unix(0, x*unit).UTC()
			return t.AppendFormat(dst, "15:04:05.999999999"), nil
		}, nil
	case *format.DateType:
		return KindOther, func(dst []byte, v parquet.Value) ([]byte, error) {
			return time.Unix(int64(v.Int32())*86400, 0).UTC().AppendFormat(dst, "2006-01-02"), nil
		}, nil
	case *format.UUIDType:
		return KindOther, func(dst []byte, v parquet.Value) ([]byte, error) {
			b := v.ByteArray()
			if len(b) != 16 {
				return base64.StdEncoding.AppendEncode(dst, b), nil
			}
			h := hex.EncodeToString(b)
			return append(dst, h[0:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:]...), nil
		}, nil
	case *format.Float16Type:
		return KindFloat, func(dst []byte, v parquet.Value) ([]byte, error) {
			b := v.ByteArray()
			if len(b) != 2 {
				return base64.StdEncoding.AppendEncode(dst, b), nil
			}
			return strconv.AppendFloat(dst, float64(halfFloat(binary.LittleEndian.Uint16(b))), 'g', -1, 32), nil
		}, nil
	case *format.IntType:
		if !lt.IsSigned {
			return KindInteger, func(dst []byte, v parquet.Value) ([]byte, error) {
				if kind == parquet.Int32 {
					return strconv.AppendUint(dst, uint64(uint32(v.Int32())), 10), nil
				}
				return strconv.AppendUint(dst, v.Uint64(), 10), nil
			}, nil
		}
	case *format.BsonType:
		return KindOther, func(dst []byte, v parquet.Value) ([]byte, error) {
			return base64.StdEncoding.AppendEncode(dst, v.ByteArray()), nil
		}, nil
	}
	switch kind {
	case parquet.ByteArray:
		if logical == nil { // binary: text when it is UTF-8, as most writers mean it
			return KindBinary, func(dst []byte, v parquet.Value) ([]byte, error) {
				b := v.ByteArray()
				if utf8.Valid(b) {
					return append(dst, b...), nil
				}
				return base64.StdEncoding.AppendEncode(dst, b), nil
			}, nil
		}
		return KindText, func(dst []byte, v parquet.Value) ([]byte, error) { return append(dst, v.ByteArray()...), nil }, nil
	case parquet.Int32:
		return KindInteger, func(dst []byte, v parquet.Value) ([]byte, error) {
			return strconv.AppendInt(dst, int64(v.Int32()), 10), nil
		}, nil
	case parquet.Int64:
		return KindInteger, func(dst []byte, v parquet.Value) ([]byte, error) { return strconv.AppendInt(dst, v.Int64(), 10), nil }, nil
	case parquet.Int96:
		// Spark's timestamps: nanoseconds of the day, then the Julian day.
		return KindTimestamp, func(dst []byte, v parquet.Value) ([]byte, error) {
			return appendUTC(dst, int96Time(v.Int96())), nil
		}, nil
	case parquet.Boolean:
		return KindOther, func(dst []byte, v parquet.Value) ([]byte, error) { return strconv.AppendBool(dst, v.Boolean()), nil }, nil
	case parquet.Float:
		return KindFloat, func(dst []byte, v parquet.Value) ([]byte, error) {
			return strconv.AppendFloat(dst, float64(v.Float()), 'g', -1, 32), nil
		}, nil
	case parquet.Double:
		return KindFloat, func(dst []byte, v parquet.Value) ([]byte, error) {
			return strconv.AppendFloat(dst, v.Double(), 'g', -1, 64), nil
		}, nil
	case parquet.FixedLenByteArray:
		return KindOther, func(dst []byte, v parquet.Value) ([]byte, error) {
			return base64.StdEncoding.AppendEncode(dst, v.ByteArray()), nil
		}, nil
	}
	return 0, nil, fmt.Errorf("unsupported Parquet type %s", typ)
}

// int96Time reads an INT96 timestamp as Spark and Impala write it: the
// nanoseconds of the day in the first 8 bytes, the Julian day in the last 4.
func int96Time(x deprecated.Int96) time.Time {
	nanos := int64(uint64(x[1])<<32 | uint64(x[0]))
	return time.Unix((int64(x[2])-2440588)*86400, nanos)
}

// halfFloat converts an IEEE 754 half-precision value.
func halfFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int32(h>>10) & 0x1f
	frac := uint32(h & 0x3ff)
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		return float32(math.Copysign(float64(frac)*math.Pow(2, -24), float64(1-2*int(h>>15))))
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | frac<<13)
}

// appendTimestamp appends x, a timestamp in units of unit nanoseconds
// (1e6, 1e3, else 1), as appendUTC does: a Parquet value, or a typed one
// ([Row.Text]), renders through here.
func appendTimestamp(dst []byte, x, unit int64) []byte {
	switch unit {
	case 1e6:
		return appendUTC(dst, time.UnixMilli(x))
	case 1e3:
		return appendUTC(dst, time.UnixMicro(x))
	}
	return appendUTC(dst, time.Unix(0, x))
}

// appendUTC appends t in UTC as RFC 3339 with the fraction's trailing zeros
// dropped: what t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.999999999Z07:00")
// gives, several times faster (a Parquet timestamp is rendered for every
// value).
func appendUTC(p []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, sec := t.Clock()
	if y < 0 || y > 9999 {
		return t.AppendFormat(p, "2006-01-02T15:04:05.999999999Z07:00")
	}
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
	return append(p, 'Z')
}

// appendDecimal appends unscaled×10^-scale exactly with its scale, as
// decimalText does, without big numbers.
func appendDecimal(out []byte, u int64, scale int32) []byte {
	if scale <= 0 || scale > 18 || u == math.MinInt64 {
		return append(out, decimalText(big.NewInt(u), scale)...)
	}
	neg := u < 0
	if neg {
		u = -u
	}
	var buf, padded [40]byte
	digits := strconv.AppendInt(buf[:0], u, 10)
	if n := len(digits); n <= int(scale) { // 0.000123: zeros before the digits
		z := padded[:int(scale)+1-n]
		for i := range z {
			z[i] = '0'
		}
		digits = append(z, digits...)
	}
	intPart, frac := digits[:len(digits)-int(scale)], digits[len(digits)-int(scale):]
	if neg {
		out = append(out, '-')
	}
	out = append(out, intPart...)
	if len(frac) > 0 {
		out = append(out, '.')
		out = append(out, frac...)
	}
	return out
}

// decimalText renders unscaled×10^-scale exactly with its scale: 1.50 for
// DECIMAL(3,2) 150 (CONTRACT.md, Values).
func decimalText(unscaled *big.Int, scale int32) string {
	d := decimal.NewFromBigInt(unscaled, -scale)
	if scale > 0 {
		return d.StringFixed(scale)
	}
	return d.String()
}

// bigFromTwos reads a big-endian two's-complement integer.
func bigFromTwos(b []byte) *big.Int {
	x := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return x
}

// Part is a run of a Parquet file's row groups that one reader can take on
// its own: row groups First to Last-1, whose first row is the file's row
// Offset+1 (see [Parts]).
type Part struct {
	First, Last int
	Offset      int64
	Rows        int64
}

// Parts cuts t, when it is a Parquet file just opened, into parts of whole
// row groups of at least minRows rows each (the last may be smaller), so
// that one large file, as DuckDB or Spark write one, is read by several
// readers at once. Any other table, or a file of one part, gives nil.
func Parts(t Table, minRows int64) []Part {
	pt := unwrapParquet(t) // a renamed table is cut as its file
	if pt == nil {
		return nil
	}
	var parts []Part
	var cur Part
	for i, g := range pt.groups {
		cur.Last = i + 1
		cur.Rows += g.NumRows()
		if cur.Rows >= minRows {
			parts = append(parts, cur)
			cur = Part{First: i + 1, Last: i + 1, Offset: cur.Offset + cur.Rows}
		}
	}
	if cur.Last > cur.First {
		parts = append(parts, cur)
	}
	if len(parts) < 2 {
		return nil
	}
	return parts
}

// OpenPart opens one part of a Parquet file (see [Parts]): its rows are
// numbered as in the whole file.
func OpenPart(path string, p Part) (Table, error) {
	t, err := openParquet(path)
	if err != nil {
		return nil, err
	}
	pt := t.(*parquetTable)
	if p.Last > len(pt.groups) || p.First > p.Last {
		pt.Close()
		return nil, fmt.Errorf("%s: changed during the run (row groups %d to %d of %d)", path, p.First, p.Last, len(pt.groups))
	}
	pt.groups = pt.groups[p.First:p.Last]
	pt.group = p.First
	pt.n = p.Offset
	return pt, nil
}
