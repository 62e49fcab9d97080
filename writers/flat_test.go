package writers

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/billcons/billcons/parquetio"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// flatCase is a bills part written for TestFlatFileRead: its rows and the
// partition they go to.
type flatCase struct {
	name  string
	rows  int
	nulls float64 // the share of null optional values
	long  bool    // some extra values longer than parquetio.StatsMax
}

// flatLines makes n lines of a part: text of varied lengths (empty,
// multi-byte, repeated runs), integers at the extremes, and nulls at the
// given share.
func flatLines(c flatCase, part int) ([]billing.UsageLine, []Decided) {
	r := rand.New(rand.NewPCG(uint64(part), 7))
	base := billing.Time(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	ls := make([]billing.UsageLine, c.rows)
	ds := make([]Decided, c.rows)
	text := func(i int) string {
		switch r.IntN(6) {
		case 0:
			return ""
		case 1:
			return "成员-" + fmt.Sprint(i%7)
		case 2:
			return fmt.Sprintf("v%d", r.IntN(1000))
		default:
			return fmt.Sprintf("run-%d", i/100)
		}
	}
	null := func() bool { return r.Float64() < c.nulls }
	for i := range ls {
		l := billing.UsageLine{LineID: fmt.Sprintf("L%d-%07d", part, i), AccountID: fmt.Sprintf("1%05d", i/50), ProductCode: text(i),
			SubscriptionType: billing.PayAsYouGo, UsageStart: base + billing.Time(r.Int64N(1e12)), UsageEnd: base + billing.Time(i)*3600e6,
			ListAmount: billing.Amount(r.Int64N(2e18) - 1e18), Currency: "CNY", PaymentStatus: billing.Settled, IssuedAt: base,
			Cycle: billing.Cycle(2024*12 + 1 + part), ResourceID: text(i)} // a cycle per case: a file each
		switch i % 97 {
		case 3:
			l.ListAmount = billing.Amount(math.MaxInt64)
		case 4:
			l.ListAmount = billing.Amount(math.MinInt64 + 1)
		}
		if !null() {
			l.SettledAt, l.HasSettledAt = base+billing.Time(r.Int64N(1e9)), true
		}
		if null() {
			l.ResourceID = ""
		}
		x := billing.NullString{S: text(i), Valid: !null()}
		if c.long && i%1000 == 999 {
			x = billing.NullString{S: strings.Repeat("z", parquetio.StatsMax+1), Valid: true}
		}
		l.Extra = []billing.NullString{x}
		d := Decided{Payer: fmt.Sprintf("P%d", part), DiscountOwner: text(i), DiscountRule: "member", DiscountAmount: billing.Amount(r.Int64N(1e9))}
		if !null() {
			d.DecidedBy = text(i) + "k"
		}
		if !null() {
			d.HeldBy = "h"
		}
		if !null() {
			d.DiscountID = text(i) + "d"
		}
		ls[i], ds[i] = l, d
	}
	return ls, ds
}

// TestFlatFileRead: the bills files billcons writes itself (package
// parquetio) read back through parquet-go, an independent reader of the format,
// with the schema, values, nulls and row-group statistics the lines give.
// Parts of one row, of a few, of all nulls, past a row group (32,768 rows),
// and with text values too long for statistics.
func TestFlatFileRead(t *testing.T) {
	cases := []flatCase{
		{name: "one", rows: 1},
		{name: "few", rows: 17, nulls: 0.3},
		{name: "all-null", rows: 40, nulls: 1},
		{name: "no-null", rows: 5000},
		{name: "groups", rows: 70000, nulls: 0.5, long: true},
	}
	dir := t.TempDir()
	w, err := NewBills(dir, []string{"region"})
	if err != nil {
		panic(err)
	}
	lines := map[string][]billing.UsageLine{}
	decided := map[string][]Decided{}
	for p, c := range cases {
		ls, ds := flatLines(c, p)
		for i := range ls {
			if err := w.Write(&ls[i], &ds[i]); err != nil {
				t.Fatal(err)
			}
		}
		lines[ds[0].Payer], decided[ds[0].Payer] = ls, ds
	}
	outs, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	outs = billsOnly(outs)
	if len(outs) != len(cases) {
		t.Fatalf("%d files written, want %d", len(outs), len(cases))
	}
	want := parquetBillsSchema([]string{"region"})
	for p, o := range outs {
		c := cases[p]
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, o.Path)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(data)) != o.Bytes || o.Rows != int64(c.rows) {
				t.Errorf("output says %d bytes, %d rows; the file has %d bytes, the part %d rows", o.Bytes, o.Rows, len(data), c.rows)
			}
			pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if got := pf.Schema().String(); got != want.String() {
				t.Errorf("schema:\n%s\nwant\n%s", got, want)
			}
			payer := fmt.Sprintf("P%d", p)
			ls, ds := lines[payer], decided[payer]
			got := readRendered(t, path)
			if len(got) != c.rows {
				t.Fatalf("read %d rows, want %d", len(got), c.rows)
			}
			for i := range ls {
				if w := billRow(&ls[i], &ds[i]); strings.Join(got[i], "|") != strings.Join(w, "|") {
					t.Fatalf("row %d:\n got %q\nwant %q", i, got[i], w)
				}
			}
			checkFlatStats(t, pf, got)
		})
	}
}

// billRow renders what a line and its decision should be stored as.
func billRow(l *billing.UsageLine, d *Decided) []string {
	opt := func(s string, ok bool) string {
		if !ok {
			return "null"
		}
		return "s:" + s
	}
	i := func(v int64) string { return fmt.Sprint("i:", v) }
	row := []string{"s:" + d.Payer, "s:" + l.LineID, "s:" + l.AccountID, "s:" + l.ProductCode, "s:" + l.SubscriptionType.String(),
		i(int64(l.UsageStart)), i(int64(l.UsageEnd)), i(int64(l.ListAmount)), "s:" + l.Currency, "s:" + l.PaymentStatus.String(),
		i(int64(l.IssuedAt)), "null", opt(d.DecidedBy, d.DecidedBy != ""), opt(d.HeldBy, d.HeldBy != ""),
		"s:" + l.ChargeType.String(), opt(l.ResourceID, l.ResourceID != ""), "s:" + d.DiscountOwner, "s:" + d.DiscountRule,
		opt(d.DiscountID, d.DiscountID != ""), i(int64(d.DiscountAmount)), i(int64(l.ListAmount - d.DiscountAmount)),
		opt(d.InvoiceID, d.InvoiceID != ""), opt(d.ChargeClass, d.ChargeClass != ""),
		opt(d.CorrectionReason, d.CorrectionReason != ""), opt(d.CorrectsCycle, d.CorrectsCycle != "")}
	if d.CorrectionSign != 0 {
		row = append(row, i(int64(d.CorrectionSign)))
	} else {
		row = append(row, "null")
	}
	if l.HasSettledAt {
		row[11] = i(int64(l.SettledAt))
	}
	for _, x := range l.Extra {
		row = append(row, opt(x.S, x.Valid))
	}
	return row
}

// readRendered reads a Parquet file's rows with parquet-go, each value
// rendered by renderValue.
func readRendered(t *testing.T, path string) [][]string {
	t.Helper()
	var got [][]string
	err := ReadParquet(path, func(cols []string, v map[string]parquet.Value) error {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = renderValue(v[c])
		}
		got = append(got, row)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func renderValue(v parquet.Value) string {
	switch {
	case v.IsNull():
		return "null"
	case v.Kind() == parquet.ByteArray:
		return "s:" + string(v.ByteArray())
	case v.Kind() == parquet.FixedLenByteArray:
		return "b:" + string(v.ByteArray())
	default:
		return fmt.Sprint("i:", v.Int64())
	}
}

// checkFlatStats checks each column chunk's null count, minimum and
// maximum against the rows read back (rendered by renderValue).
func checkFlatStats(t *testing.T, pf *parquet.File, rows [][]string) {
	t.Helper()
	first := 0
	for g, rg := range pf.Metadata().RowGroups {
		n := int(rg.NumRows)
		for c, cc := range rg.Columns {
			md := cc.MetaData
			var nulls int64
			var lo, hi []byte
			for _, row := range rows[first : first+n] {
				v := row[c]
				if v == "null" {
					nulls++
					continue
				}
				var b []byte
				if strings.HasPrefix(v, "s:") || strings.HasPrefix(v, "b:") {
					b = []byte(v[2:])
				} else {
					var x int64
					fmt.Sscan(v[2:], &x)
					b = binary.LittleEndian.AppendUint64(nil, uint64(x))
				}
				if lo == nil || less(md.Type, b, lo) {
					lo = b
				}
				if hi == nil || less(md.Type, hi, b) {
					hi = b
				}
			}
			st := md.Statistics
			if st.NullCount != nulls {
				t.Errorf("row group %d, %s: null count %d, want %d", g, md.PathInSchema[0], st.NullCount, nulls)
			}
			if len(lo) > parquetio.StatsMax || len(hi) > parquetio.StatsMax {
				lo, hi = nil, nil
			}
			if !bytes.Equal(st.MinValue, lo) || !bytes.Equal(st.MaxValue, hi) {
				t.Errorf("row group %d, %s: min %q max %q, want %q %q", g, md.PathInSchema[0], st.MinValue, st.MaxValue, lo, hi)
			}
		}
		first += n
	}
	if first != len(rows) {
		t.Errorf("row groups hold %d rows, want %d", first, len(rows))
	}
}

func less(typ format.Type, a, b []byte) bool {
	switch typ {
	case format.Int64:
		return int64(binary.LittleEndian.Uint64(a)) < int64(binary.LittleEndian.Uint64(b))
	case format.FixedLenByteArray:
		// big-endian two's complement: the sign byte signed, the rest not
		if a[0] != b[0] {
			return int8(a[0]) < int8(b[0])
		}
	}
	return bytes.Compare(a, b) < 0
}

// TestFlatSchemas: a column of every kind billcons writes, required and
// optional, is read back by parquet-go with the type parquet-go itself
// gave it when it wrote billcons' outputs (schema_test.go), with its
// values, nulls and statistics: decimals of 16 bytes ordered as signed
// numbers, JSON text, counts; row groups written behind the rows.
func TestFlatSchemas(t *testing.T) {
	nodes := map[parquetio.Kind]parquet.Node{parquetio.Text: textNode, parquetio.JSON: parquet.JSON(), parquetio.Timestamp: tsNode,
		parquetio.Amount: amountNode, parquetio.Count: countNode, parquetio.Sum: sumNode}
	var cols []parquetio.Column
	var ref []column
	for k := parquetio.Text; k <= parquetio.Sum; k++ {
		for _, opt := range []bool{false, true} {
			name := fmt.Sprintf("k%d_%v", k, opt)
			cols = append(cols, parquetio.Column{Name: name, Kind: k, Optional: opt})
			n := nodes[k]
			if opt {
				n = parquet.Optional(n)
			}
			ref = append(ref, column{name, n})
		}
	}
	dir := t.TempDir()
	w, err := createFlat(dir, "x/all.parquet", "all", cols)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	var want [][]string
	for i := 0; i < 70000; i++ { // past two row groups: written behind the rows
		var row []string
		for _, c := range cols {
			if c.Optional && r.IntN(3) == 0 {
				row = append(row, "null")
				w.Next().Present(false)
				continue
			}
			switch c.Kind {
			case parquetio.Text, parquetio.JSON:
				s := fmt.Sprintf(`{"n":%d}`, r.IntN(500))
				row = append(row, "s:"+s)
				if c.Optional {
					w.OptText(s, true)
				} else {
					w.Text(s)
				}
			case parquetio.Sum:
				var sum billing.Sum
				sum.Add(billing.Amount(r.Int64N(1<<62) - 1<<61))
				if r.IntN(2) == 0 {
					sum.Add(billing.Amount(math.MaxInt64))
					sum.Add(billing.Amount(math.MaxInt64))
				}
				row = append(row, "b:"+string(sum.Bytes16()))
				ch := w.Next()
				if c.Optional {
					ch.Present(true)
				}
				ch.Sum(sum)
			default:
				v := r.Int64() - math.MaxInt64/2
				row = append(row, fmt.Sprint("i:", v))
				if c.Optional {
					w.OptInt64(v, true)
				} else {
					w.Int64(v)
				}
			}
		}
		if err := w.EndRow(); err != nil {
			t.Fatal(err)
		}
		want = append(want, row)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x/all.parquet")
	pf := openParquet(t, path)
	if got, want := pf.Schema().String(), newSchema("all", ref).String(); got != want {
		t.Errorf("schema:\n%s\nwant\n%s", got, want)
	}
	got := readRendered(t, path)
	for i := range want {
		if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
			t.Fatalf("row %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
	checkFlatStats(t, pf, got)
}

// parquetBillsSchema is the schema parquet-go wrote the bills with before
// billcons wrote them itself: the same columns, types and annotations.
func parquetBillsSchema(extras []string) *parquet.Schema {
	cols := []column{
		{"payer_account_id", textNode}, {"line_id", textNode}, {"account_id", textNode}, {"product_code", textNode},
		{"subscription_type", textNode}, {"usage_start", tsNode}, {"usage_end", tsNode},
		{"list_amount", amountNode}, {"currency", textNode}, {"payment_status", textNode},
		{"issued_at", tsNode}, {"settled_at", optTS}, {"decided_by", optText}, {"held_by", optText},
		{"charge_type", textNode}, {"resource_id", optText}, {"discount_owner", textNode}, {"discount_rule", textNode}, {"discount_id", optText},
		{"discount_amount", amountNode}, {"effective_amount", amountNode},
		{"invoice_id", optText}, {"charge_class", optText}, {"correction_reason", optText}, {"corrects_cycle", optText},
		{"correction_sign", optCount},
	}
	for _, x := range extras {
		cols = append(cols, column{x, optText})
	}
	return newSchema("bill", cols)
}

// openParquet opens a Parquet file with parquet-go.
func openParquet(t *testing.T, path string) *parquet.File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pf
}
