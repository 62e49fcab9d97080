package readers

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/billcons/billcons/billing"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// typedVariant is one way a tool may type a usage file: the timestamps'
// unit, the amount's physical type and scale, which columns are
// dictionary-encoded, and the rows per page and row group.
type typedVariant struct {
	unit        parquet.TimeUnit
	unitNanos   int64
	amount      parquet.Type // INT32, INT64 or BYTE_ARRAY
	scale       int
	dictionary  bool // text and timestamps dictionary-encoded
	pageBytes   int
	groupRows   int64
	requiredIDs bool // line_id and account_id required, not optional
	pageV1      bool // data pages of format version 1
	codec       compress.Codec
	delta       bool // line_id and the timestamps in delta encodings: read by parquet-go's pages
}

var typedVariants = []typedVariant{
	{unit: parquet.Microsecond, unitNanos: 1e3, amount: parquet.Int64Type, scale: 9, dictionary: true, pageBytes: 1 << 10, groupRows: 700},
	{unit: parquet.Millisecond, unitNanos: 1e6, amount: parquet.Int32Type, scale: 2, pageBytes: 1 << 12, groupRows: 5000, requiredIDs: true},
	{unit: parquet.Nanosecond, unitNanos: 1, amount: parquet.Int64Type, scale: 12, dictionary: true, pageBytes: 1 << 20, groupRows: 333},
	{unit: parquet.Microsecond, unitNanos: 1e3, amount: parquet.Int64Type, scale: 0, pageBytes: 512, groupRows: 1 << 20},
	{unit: parquet.Microsecond, unitNanos: 1e3, amount: parquet.ByteArrayType, scale: 4, dictionary: true, pageBytes: 1 << 11, groupRows: 1000},
	{unit: parquet.Microsecond, unitNanos: 1e3, amount: parquet.Int64Type, scale: 9, dictionary: true, pageBytes: 1 << 12, groupRows: 900, pageV1: true, codec: &parquet.Snappy},
	{unit: parquet.Millisecond, unitNanos: 1e6, amount: parquet.Int32Type, scale: 3, pageBytes: 1 << 10, groupRows: 2000, pageV1: true, codec: &parquet.Gzip, requiredIDs: true},
	{unit: parquet.Microsecond, unitNanos: 1e3, amount: parquet.Int64Type, scale: 6, dictionary: true, pageBytes: 1 << 20, groupRows: 1 << 20, codec: &parquet.Uncompressed},
	{unit: parquet.Microsecond, unitNanos: 1e3, amount: parquet.Int64Type, scale: 9, pageBytes: 1 << 12, groupRows: 1200, pageV1: true, codec: &parquet.Uncompressed, delta: true},
}

// writeTypedUsage writes rows of random usage lines, good and bad, typed as
// v says, with extra columns of the other physical types.
func writeTypedUsage(t testing.TB, path string, v typedVariant, rows int, rng *rand.Rand) {
	t.Helper()
	opt := func(n parquet.Node) parquet.Node { return parquet.Optional(n) }
	// Text not in a dictionary is PLAIN, as DuckDB and Spark write it by
	// default; parquet-go's own default, DELTA_LENGTH_BYTE_ARRAY, is the
	// delta variant's.
	text := func() parquet.Node {
		switch {
		case v.dictionary:
			return parquet.Encoded(parquet.String(), &parquet.RLEDictionary)
		case v.delta:
			return parquet.Encoded(parquet.String(), &parquet.DeltaLengthByteArray)
		}
		return parquet.Encoded(parquet.String(), &parquet.Plain)
	}
	ts := func() parquet.Node {
		n := parquet.TimestampAdjusted(v.unit, true)
		if v.dictionary {
			n = parquet.Encoded(n, &parquet.RLEDictionary)
		}
		if v.delta {
			n = parquet.Encoded(n, &parquet.DeltaBinaryPacked)
		}
		return opt(n)
	}
	lineID := text()
	ids := opt
	if v.requiredIDs {
		ids = func(n parquet.Node) parquet.Node { return parquet.Required(n) }
	}
	precision := 18
	if v.amount.Kind() == parquet.Int32 {
		precision = 9
	}
	schema := parquet.NewSchema("usage", parquet.Group{
		"line_id": ids(lineID), "account_id": ids(text()), "product_code": opt(text()),
		"billing_cycle": opt(text()), "subscription_type": opt(text()),
		"usage_start": ts(), "usage_end": ts(), "issued_at": ts(), "settled_at": ts(),
		"list_amount": opt(parquet.Decimal(v.scale, precision, v.amount)),
		"currency":    opt(text()), "payment_status": opt(text()),
		"x_flag":         opt(parquet.Leaf(parquet.BooleanType)),
		"x_ratio":        opt(parquet.Leaf(parquet.DoubleType)),
		"x_day":          opt(parquet.Date()),
		"x_count":        opt(parquet.Uint(64)),
		"x_hash":         opt(parquet.Leaf(parquet.FixedLenByteArrayType(4))),
		"x_small_amount": opt(parquet.Decimal(3, 9, parquet.Int32Type)),
	})
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts := []parquet.WriterOption{schema, parquet.PageBufferSize(v.pageBytes), parquet.MaxRowsPerRowGroup(v.groupRows)}
	if v.pageV1 {
		opts = append(opts, parquet.DataPageVersion(1))
	}
	if v.codec != nil {
		opts = append(opts, parquet.Compression(v.codec))
	}
	w := parquet.NewWriter(f, opts...)
	fields := schema.Fields()
	base := int64(1704067200) // 2024-01-01
	tsValue := func() parquet.Value {
		var micros, subMicro int64
		switch rng.IntN(20) {
		case 0:
			return parquet.NullValue()
		case 1: // years 0 and before, 10000 and after
			micros = []int64{minTypedTime - 1, -62167219200e6, maxTypedTime + 1, math.MaxInt64 / 2, math.MinInt64 / 2}[rng.IntN(5)]
		case 2: // the edges of the years billcons reads
			micros = []int64{minTypedTime, maxTypedTime}[rng.IntN(2)]
		case 3: // below a microsecond
			micros, subMicro = (base+rng.Int64N(1e6))*1e6, 1+rng.Int64N(999)
		default:
			micros = (base + rng.Int64N(1e6)) * 1e6
			if rng.IntN(3) == 0 {
				micros += rng.Int64N(1e6)
			}
		}
		switch v.unitNanos {
		case 1e6:
			return parquet.Int64Value(micros / 1000)
		case 1:
			if micros > math.MaxInt64/1000 || micros < math.MinInt64/1000 {
				return parquet.Int64Value(micros) // far from now in nanoseconds
			}
			return parquet.Int64Value(micros*1000 + subMicro)
		}
		return parquet.Int64Value(micros)
	}
	amount := func() parquet.Value {
		var u int64
		switch rng.IntN(12) {
		case 0:
			return parquet.NullValue()
		case 1: // large, at and past 10^9
			u = []int64{999_999_999, 1_000_000_000, -1_000_000_000, math.MaxInt32, math.MinInt32}[rng.IntN(5)]
			for range min(v.scale, 9) {
				if u > math.MaxInt64/10 || u < math.MinInt64/10 {
					break
				}
				u *= 10
			}
		default:
			u = rng.Int64N(2e9) - 1e9
		}
		switch v.amount.Kind() {
		case parquet.Int32:
			return parquet.Int32Value(int32(u))
		case parquet.Int64:
			return parquet.Int64Value(u)
		}
		b := []byte{byte(u >> 56), byte(u >> 48), byte(u >> 40), byte(u >> 32), byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)}
		return parquet.ByteArrayValue(b)
	}
	str := func(s string) parquet.Value {
		switch rng.IntN(60) {
		case 0:
			return parquet.NullValue()
		case 1:
			return parquet.ByteArrayValue(nil)
		case 2:
			return parquet.ByteArrayValue([]byte{'a', 0xff, 'b'})
		}
		return parquet.ByteArrayValue([]byte(s))
	}
	var batch []parquet.Row
	for i := range rows {
		vals := map[string]parquet.Value{
			"line_id":           parquet.ByteArrayValue(fmt.Appendf(nil, "L%07d", i)),
			"account_id":        parquet.ByteArrayValue(fmt.Appendf(nil, "10000%d", rng.IntN(50))),
			"product_code":      str([]string{"ecs", "oss", "rds"}[rng.IntN(3)]),
			"billing_cycle":     str("2024-01"),
			"subscription_type": str([]string{"payasyougo", "subscription"}[rng.IntN(2)]),
			"usage_start":       tsValue(), "usage_end": tsValue(), "issued_at": tsValue(), "settled_at": tsValue(),
			"list_amount":    amount(),
			"currency":       str("CNY"),
			"payment_status": str([]string{"settled", "unsettled"}[rng.IntN(2)]),
			"x_flag":         parquet.BooleanValue(rng.IntN(2) == 0),
			"x_ratio":        parquet.DoubleValue(rng.Float64()),
			"x_day":          parquet.Int32Value(int32(19000 + rng.IntN(400))),
			"x_count":        parquet.Int64Value(int64(rng.Uint64())),
			"x_hash":         parquet.FixedLenByteArrayValue([]byte{byte(i), 1, 2, 3}),
			"x_small_amount": parquet.Int32Value(int32(rng.IntN(2e6) - 1e6)),
		}
		if rng.IntN(9) == 0 {
			vals["x_ratio"] = parquet.NullValue()
		}
		if v.requiredIDs {
			for _, c := range []string{"line_id", "account_id"} {
				if vals[c].IsNull() {
					vals[c] = parquet.ByteArrayValue(nil)
				}
			}
		}
		row := make(parquet.Row, len(fields))
		for j, f := range fields {
			x := vals[f.Name()]
			if x.IsNull() {
				row[j] = parquet.NullValue().Level(0, 0, j)
			} else if f.Optional() {
				row[j] = x.Level(0, 1, j)
			} else {
				row[j] = x.Level(0, 0, j)
			}
		}
		batch = append(batch, row)
	}
	if _, err := w.WriteRows(batch); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// referenceRows reads path as billcons did before the column reader:
// parquet-go's rows, each value rendered by its column's renderFunc, the
// first bad value in header order giving the row's error.
func referenceRows(t *testing.T, path string) []Row {
	t.Helper()
	tab, err := openParquet(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	pt := tab.(*parquetTable)
	w := len(pt.header)
	var out []Row
	buf := make([]parquet.Row, 100)
	for _, g := range pt.groups {
		rows := g.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, prow := range buf[:n] {
				row := Row{N: int64(len(out) + 1), Fields: make([]string, w)}
				for _, v := range prow {
					c := v.Column()
					if v.IsNull() {
						if row.Null == nil {
							row.Null = make([]bool, w)
						}
						row.Null[c] = true
						continue
					}
					b, rerr := pt.render[c](nil, v)
					s := string(b)
					if rerr != nil && row.Err == nil {
						row.Err = &FormatError{Code: "invalid_value", Msg: fmt.Sprintf("column %s: %v", pt.header[c], rerr)}
					}
					if pt.kinds[c] == KindText && !utf8.ValidString(s) && row.Err == nil {
						row.Err = &FormatError{Code: "invalid_utf8", Msg: fmt.Sprintf("column %s is not valid UTF-8", pt.header[c])}
					}
					row.Fields[c] = s
				}
				out = append(out, row)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		rows.Close()
	}
	return out
}

// readAll reads path with the column reader, typed or not, cloning rows,
// and says which columns billcons streamed itself (pages.go).
func readAll(t *testing.T, path string, typed bool) (*UsageDecoder, []Row, map[string]bool) {
	t.Helper()
	tab, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	var extras ExtraColumns
	dec, err := NewUsageDecoder(tab, &extras)
	if err != nil {
		t.Fatal(err)
	}
	if typed {
		DeliverTyped(tab, dec.TypedColumns())
	}
	var rows []Row
	streamed := map[string]bool{}
	if err := Each(context.Background(), tab, func(r *Row) error {
		rows = append(rows, r.Clone())
		for c, col := range tab.(*parquetTable).cols {
			if col.streaming {
				streamed[tab.Header()[c]] = true
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return dec, rows, streamed
}

// TestColumnReaderSameRows checks the column reader, with and without typed
// columns, against parquet-go's row reader (the path it replaced) on files
// of every variant: the same fields, nulls and errors, the same records,
// and the same decoded lines or rejects (a typed path must still
// reproduce the record of a rejected row).
func TestColumnReaderSameRows(t *testing.T) {
	for vi, v := range typedVariants {
		t.Run(fmt.Sprint(vi), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(vi), 13))
			path := filepath.Join(t.TempDir(), "usage.parquet")
			writeTypedUsage(t, path, v, 3000, rng)
			want := referenceRows(t, path)
			dec, text, streamed := readAll(t, path, false)
			_, typed, _ := readAll(t, path, true)
			// The text, timestamp and amount columns stream; booleans,
			// doubles and fixed-length bytes, and delta encodings, are
			// read by parquet-go's pages.
			for _, c := range []string{"account_id", "list_amount", "usage_end", "line_id", "x_flag", "x_ratio", "x_hash"} {
				if c == "list_amount" && (v.delta || v.amount.Kind() == parquet.ByteArray) { // parquet-go writes these DELTA_LENGTH_BYTE_ARRAY
					continue
				}
				want := !strings.HasPrefix(c, "x_") && !(v.delta && (c == "line_id" || c == "account_id" || c == "usage_end"))
				if streamed[c] != want {
					t.Errorf("column %s streamed: %v, want %v", c, streamed[c], want)
				}
			}
			if len(text) != len(want) || len(typed) != len(want) {
				t.Fatalf("rows: column reader %d, typed %d, reference %d", len(text), len(typed), len(want))
			}
			header := dec.Header()
			decoded, rejected, typedSeen := 0, 0, 0
			for i := range want {
				w, x, y := &want[i], &text[i], &typed[i]
				if x.N != w.N || !reflect.DeepEqual(x.Fields, w.Fields) || !reflect.DeepEqual(x.Null, w.Null) || fmt.Sprint(x.Err) != fmt.Sprint(w.Err) {
					t.Fatalf("row %d: column reader\n%q %v %v\nreference\n%q %v %v", w.N, x.Fields, x.Null, x.Err, w.Fields, w.Null, w.Err)
				}
				if got, want := Record(header, y), Record(header, w); !reflect.DeepEqual(got, want) {
					t.Fatalf("row %d: typed record\n%v\nwant\n%v", w.N, fieldsText(got), fieldsText(want))
				}
				for c := range header {
					if y.Typed(c) {
						typedSeen++
					}
				}
				var lw, ly billing.UsageLine
				ew, ey := dec.Decode(w, &lw), dec.Decode(y, &ly)
				if (ew == nil) != (ey == nil) || (ew != nil && (ew.Pos != ey.Pos || ew.Code != ey.Code || ew.Field != ey.Field || ew.Err.Error() != ey.Err.Error())) {
					t.Fatalf("row %d: typed decode %v, reference %v", w.N, ey, ew)
				}
				if ew != nil {
					rejected++
					continue
				}
				decoded++
				if !reflect.DeepEqual(lw, ly) {
					t.Fatalf("row %d: typed line\n%+v\nreference\n%+v", w.N, ly, lw)
				}
			}
			if decoded == 0 || rejected == 0 || typedSeen == 0 {
				t.Fatalf("decoded %d, rejected %d, typed fields %d: the file tests too little", decoded, rejected, typedSeen)
			}
			t.Logf("%d decoded, %d rejected, %d typed fields", decoded, rejected, typedSeen)
		})
	}
}

func fieldsText(fs []Field) []string {
	var out []string
	for _, f := range fs {
		if f.Value == nil {
			out = append(out, f.Name+"=null")
		} else {
			out = append(out, f.Name+"="+*f.Value)
		}
	}
	return out
}

// TestTypedValuesAsText checks Row.Time and Row.Amount against rendering
// the integer and parsing its text, the path they skip, on random and edge
// values of every unit and scale: when they say ok, the value is the one
// text gives. Row.Text must render as the Parquet renderer does.
func TestTypedValuesAsText(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ints := func() int64 {
		switch rng.IntN(4) {
		case 0:
			return int64(rng.Uint64())
		case 1:
			return rng.Int64N(1e12) - 5e11
		case 2:
			return []int64{0, -1, 1, math.MaxInt64, math.MinInt64, 999_999_999, 1_000_000_000, minTypedTime, maxTypedTime, minTypedTime - 1, maxTypedTime + 1}[rng.IntN(11)]
		}
		return rng.Int64N(1e18)
	}
	ok := 0
	for _, unit := range []parquet.TimeUnit{parquet.Millisecond, parquet.Microsecond, parquet.Nanosecond} {
		_, render, err := parquetRenderer(parquet.TimestampAdjusted(unit, true).Type(), nil)
		if err != nil {
			t.Fatal(err)
		}
		tc := []typedColumn{{on: true, unit: int64(unit.Duration())}}
		for range 20000 {
			row := Row{Fields: []string{""}, Num: []int64{ints()}, typed: tc}
			if text, _ := render(nil, parquet.Int64Value(row.Num[0])); string(text) != row.Text(0) {
				t.Fatalf("%s %d: typed text %q, the renderer's %q", unit.Duration(), row.Num[0], row.Text(0), text)
			}
			got, gok := row.Time(0)
			want, err := billing.ParseTime(row.Text(0))
			if gok && (err != nil || got != want) {
				t.Fatalf("%s %d: typed %d, text %q gives %d, %v", unit.Duration(), row.Num[0], got, row.Text(0), want, err)
			}
			if gok {
				ok++
			}
		}
	}
	for scale := 0; scale <= 12; scale++ {
		for _, typ := range []parquet.Type{parquet.Int32Type, parquet.Int64Type} {
			precision := 18
			if typ == parquet.Int32Type {
				precision = 9
			}
			if scale > precision {
				continue
			}
			_, render, err := parquetRenderer(parquet.Decimal(scale, precision, typ).Type(), nil)
			if err != nil {
				t.Fatal(err)
			}
			tc := []typedColumn{{on: true, int32: typ == parquet.Int32Type, scale: int32(scale)}}
			for range 5000 {
				x := ints()
				if tc[0].int32 {
					x = int64(int32(x))
				}
				row := Row{Fields: []string{""}, Num: []int64{x}, typed: tc}
				v := parquet.Int64Value(x)
				if tc[0].int32 {
					v = parquet.Int32Value(int32(x))
				}
				if text, _ := render(nil, v); string(text) != row.Text(0) {
					t.Fatalf("scale %d %d: typed text %q, the renderer's %q", scale, x, row.Text(0), text)
				}
				got, gok := row.Amount(0)
				want, err := billing.ParseAmount(row.Text(0))
				if gok && (err != nil || got != want) {
					t.Fatalf("scale %d %d: typed %d, text %q gives %d, %v", scale, x, got, row.Text(0), want, err)
				}
				if gok {
					ok++
				}
				if !gok && err == nil && scale <= 9 {
					t.Fatalf("scale %d %d: typed refused %q, which text reads", scale, x, row.Text(0))
				}
			}
		}
	}
	if ok < 10000 {
		t.Fatalf("only %d values were read typed", ok)
	}
}

// TestCorruptPageSizeNotAllocated reads a file FuzzParquet found, whose
// page header claims 554 MB: parquet-go allocated it before reading the
// page. The header is now checked against the chunk's bytes first.
func TestCorruptPageSizeNotAllocated(t *testing.T) {
	raw, err := os.ReadFile("testdata/fuzz/FuzzParquet/page-claims-554MB")
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(raw), "\n")
	body = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(body), "[]byte("), ")")
	data, err := strconv.Unquote(body)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "u.parquet")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	checkTable(t, path)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Fatalf("reading a %d-byte file allocated %d MB", len(data), n>>20)
	}
	// And the run stops with one error naming the file, row and column.
	tab, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	err = Each(context.Background(), tab, func(*Row) error { return nil })
	if err == nil || !strings.HasPrefix(err.Error(), path+": row 1: column ") || !strings.Contains(err.Error(), "not a readable Parquet file: page header states") {
		t.Fatalf("reading it: %v", err)
	}
}

// TestReadOnly reads every variant's file with a few columns chosen
// (ReadOnly, as verify reads the bills): the chosen fields are those of a
// full read, nulls included, and the others are left empty, across pages
// and row groups of every size.
func TestReadOnly(t *testing.T) {
	for vi, v := range typedVariants {
		t.Run(fmt.Sprint(vi), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "usage.parquet")
			writeTypedUsage(t, path, v, 3000, rand.New(rand.NewPCG(uint64(vi), 14)))
			want := referenceRows(t, path)
			tab, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer tab.Close()
			var only []int
			for _, name := range []string{"line_id", "list_amount", "x_flag"} {
				only = append(only, slices.Index(tab.Header(), name))
			}
			ReadOnly(tab, only)
			n := 0
			if err := Each(context.Background(), tab, func(r *Row) error {
				w := &want[n]
				n++
				for c := range w.Fields {
					wantField, wantNull := w.Fields[c], w.Null != nil && w.Null[c]
					if !slices.Contains(only, c) {
						wantField, wantNull = "", false
					}
					if c >= len(r.Fields) || r.Fields[c] != wantField || (r.Null != nil && r.Null[c]) != wantNull {
						return fmt.Errorf("row %d column %s: %q (null %v), want %q (null %v)", r.N, tab.Header()[c], r.Fields[c], r.Null != nil && r.Null[c], wantField, wantNull)
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n != len(want) {
				t.Fatalf("%d rows, want %d", n, len(want))
			}
		})
	}
}

// TestIsASCII holds isASCII to its byte-at-a-time meaning, at every length
// and position of a high byte, so that a page it passes needs no check of
// its values' UTF-8.
func TestIsASCII(t *testing.T) {
	for n := range 40 {
		b := []byte(strings.Repeat("a", n))
		if !isASCII(b) {
			t.Fatalf("%d ASCII bytes: not ASCII", n)
		}
		for i := range n {
			for _, x := range []byte{0x80, 0xc3, 0xff} {
				c := slices.Clone(b)
				c[i] = x
				if isASCII(c) {
					t.Fatalf("byte %#x at %d of %d: ASCII", x, i, n)
				}
			}
		}
	}
}
