package writers

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pqa "github.com/apache/arrow-go/v18/parquet"
	pqcompress "github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/billcons/billcons/billing"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// libLines are the lines of BenchmarkBillsWriters: one cycle's worth of
// 500,000 lines of 2,000 payers in the cycle-only layout's order, as one
// bills file of 16 row groups.
const libLines = 500_000

func libLine(ls []billing.UsageLine, i int) (billing.UsageLine, Decided) {
	l := ls[i%len(ls)]
	l.LineID = fmt.Sprintf("L%09d", i)
	l.Cycle = billing.Cycle(2024*12 + 1)
	payer := fmt.Sprintf("2%015d", i*2000/libLines)
	return l, Decided{Payer: payer, DecidedBy: "k1", DiscountOwner: payer, DiscountRule: "legacy_inheritance", DiscountID: "d1", DiscountAmount: l.ListAmount / 10}
}

// BenchmarkBillsWriters writes the same bills file three ways: billcons'
// own writer, parquet-go's (a Row per line, the same schema, dictionaries
// on the same low-cardinality columns, zstd fastest, 32,768-row groups,
// statistics) and arrow-go's pqarrow (the same, from an arrow record per
// row group). Each reports rows/s and the file's bytes; the ratios are
// docs/performance.md's measure of what a library writer would cost.
func BenchmarkBillsWriters(b *testing.B) {
	ls := benchLines(time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("+08:00", 8*3600)), 300)
	extras := []string{"region", "instance_name"}
	report := func(b *testing.B, path string) {
		st, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(libLines)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(st.Size())/1e6, "MB")
	}
	b.Run("billcons", func(b *testing.B) {
		var path string
		for b.Loop() {
			dir := b.TempDir()
			w, err := NewBills(dir, extras)
			if err != nil {
				b.Fatal(err)
			}
			for i := range libLines {
				l, d := libLine(ls, i)
				if err := w.Write(&l, &d); err != nil {
					b.Fatal(err)
				}
			}
			outs, err := w.Close()
			if err != nil {
				b.Fatal(err)
			}
			path = filepath.Join(dir, outs[0].Path)
		}
		report(b, path)
	})
	b.Run("parquet-go", func(b *testing.B) {
		dict := func(n parquet.Node) parquet.Node { return parquet.Encoded(n, &parquet.RLEDictionary) }
		cols := []column{
			{"payer_account_id", dict(textNode)}, {"line_id", textNode}, {"account_id", dict(textNode)}, {"product_code", dict(textNode)},
			{"subscription_type", dict(textNode)}, {"usage_start", tsNode}, {"usage_end", tsNode},
			{"list_amount", amountNode}, {"currency", dict(textNode)}, {"payment_status", dict(textNode)},
			{"issued_at", tsNode}, {"settled_at", optTS}, {"decided_by", parquet.Optional(dict(textNode))}, {"held_by", parquet.Optional(dict(textNode))},
			{"charge_type", dict(textNode)}, {"resource_id", optText}, {"discount_owner", dict(textNode)}, {"discount_rule", dict(textNode)},
			{"discount_id", parquet.Optional(dict(textNode))}, {"discount_amount", amountNode}, {"effective_amount", amountNode},
			{"region", parquet.Optional(dict(textNode))}, {"instance_name", parquet.Optional(dict(textNode))},
		}
		schema := newSchema("bill", cols)
		var path string
		for b.Loop() {
			path = filepath.Join(b.TempDir(), "bills.parquet")
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			w := parquet.NewWriter(f, schema, parquet.Compression(&zstd.Codec{Level: zstd.SpeedFastest}), parquet.MaxRowsPerRowGroup(32768))
			row := make(parquet.Row, 0, len(cols))
			for i := range libLines {
				l, d := libLine(ls, i)
				row = row[:0]
				text := func(s string) { row = append(row, parquet.ByteArrayValue([]byte(s)).Level(0, 0, len(row))) }
				opt := func(s string, ok bool) {
					if ok {
						row = append(row, parquet.ByteArrayValue([]byte(s)).Level(0, 1, len(row)))
					} else {
						row = append(row, parquet.NullValue().Level(0, 0, len(row)))
					}
				}
				i64 := func(v int64) { row = append(row, parquet.Int64Value(v).Level(0, 0, len(row))) }
				text(d.Payer)
				text(l.LineID)
				text(l.AccountID)
				text(l.ProductCode)
				text(l.SubscriptionType.String())
				i64(int64(l.UsageStart))
				i64(int64(l.UsageEnd))
				i64(int64(l.ListAmount))
				text(l.Currency)
				text(l.PaymentStatus.String())
				i64(int64(l.IssuedAt))
				if l.HasSettledAt {
					row = append(row, parquet.Int64Value(int64(l.SettledAt)).Level(0, 1, len(row)))
				} else {
					row = append(row, parquet.NullValue().Level(0, 0, len(row)))
				}
				opt(d.DecidedBy, d.DecidedBy != "")
				opt(d.HeldBy, d.HeldBy != "")
				text(l.ChargeType.String())
				opt(l.ResourceID, l.ResourceID != "")
				text(d.DiscountOwner)
				text(d.DiscountRule)
				opt(d.DiscountID, d.DiscountID != "")
				i64(int64(d.DiscountAmount))
				i64(int64(l.ListAmount - d.DiscountAmount))
				for _, x := range l.Extra {
					opt(x.S, x.Valid)
				}
				if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		report(b, path)
	})
	b.Run("arrow-go", func(b *testing.B) {
		ts := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
		dec := &arrow.Decimal128Type{Precision: 18, Scale: 9}
		str := arrow.BinaryTypes.String
		fields := []arrow.Field{
			{Name: "payer_account_id", Type: str}, {Name: "line_id", Type: str}, {Name: "account_id", Type: str}, {Name: "product_code", Type: str},
			{Name: "subscription_type", Type: str}, {Name: "usage_start", Type: ts}, {Name: "usage_end", Type: ts},
			{Name: "list_amount", Type: dec}, {Name: "currency", Type: str}, {Name: "payment_status", Type: str},
			{Name: "issued_at", Type: ts}, {Name: "settled_at", Type: ts, Nullable: true}, {Name: "decided_by", Type: str, Nullable: true},
			{Name: "held_by", Type: str, Nullable: true}, {Name: "charge_type", Type: str}, {Name: "resource_id", Type: str, Nullable: true},
			{Name: "discount_owner", Type: str}, {Name: "discount_rule", Type: str}, {Name: "discount_id", Type: str, Nullable: true},
			{Name: "discount_amount", Type: dec}, {Name: "effective_amount", Type: dec},
			{Name: "region", Type: str, Nullable: true}, {Name: "instance_name", Type: str, Nullable: true},
		}
		schema := arrow.NewSchema(fields, nil)
		// Dictionaries on the columns billcons' writer may choose them
		// for: every text column but line_id and resource_id.
		props := pqa.NewWriterProperties(pqa.WithCompression(pqcompress.Codecs.Zstd), pqa.WithCompressionLevel(1),
			pqa.WithDictionaryDefault(true), pqa.WithDictionaryFor("line_id", false), pqa.WithDictionaryFor("resource_id", false),
			pqa.WithDictionaryFor("usage_start", false), pqa.WithDictionaryFor("usage_end", false), pqa.WithDictionaryFor("issued_at", false),
			pqa.WithDictionaryFor("settled_at", false), pqa.WithDictionaryFor("list_amount", false),
			pqa.WithDictionaryFor("discount_amount", false), pqa.WithDictionaryFor("effective_amount", false),
			pqa.WithStats(true), pqa.WithMaxRowGroupLength(32768))
		var path string
		for b.Loop() {
			path = filepath.Join(b.TempDir(), "bills.parquet")
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			w, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
			if err != nil {
				b.Fatal(err)
			}
			rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
			flush := func() {
				rec := rb.NewRecordBatch()
				if err := w.Write(rec); err != nil {
					b.Fatal(err)
				}
				rec.Release()
			}
			for i := range libLines {
				l, d := libLine(ls, i)
				c := 0
				text := func(s string) { rb.Field(c).(*array.StringBuilder).Append(s); c++ }
				opt := func(s string, ok bool) {
					if ok {
						rb.Field(c).(*array.StringBuilder).Append(s)
					} else {
						rb.Field(c).AppendNull()
					}
					c++
				}
				t := func(v billing.Time, ok bool) {
					if ok {
						rb.Field(c).(*array.TimestampBuilder).Append(arrow.Timestamp(v))
					} else {
						rb.Field(c).AppendNull()
					}
					c++
				}
				amt := func(a billing.Amount) {
					rb.Field(c).(*array.Decimal128Builder).Append(decimal128Of(int64(a)))
					c++
				}
				text(d.Payer)
				text(l.LineID)
				text(l.AccountID)
				text(l.ProductCode)
				text(l.SubscriptionType.String())
				t(l.UsageStart, true)
				t(l.UsageEnd, true)
				amt(l.ListAmount)
				text(l.Currency)
				text(l.PaymentStatus.String())
				t(l.IssuedAt, true)
				t(l.SettledAt, l.HasSettledAt)
				opt(d.DecidedBy, d.DecidedBy != "")
				opt(d.HeldBy, d.HeldBy != "")
				text(l.ChargeType.String())
				opt(l.ResourceID, l.ResourceID != "")
				text(d.DiscountOwner)
				text(d.DiscountRule)
				opt(d.DiscountID, d.DiscountID != "")
				amt(d.DiscountAmount)
				amt(l.ListAmount - d.DiscountAmount)
				for _, x := range l.Extra {
					opt(x.S, x.Valid)
				}
				if (i+1)%32768 == 0 {
					flush()
				}
			}
			flush()
			rb.Release()
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		report(b, path)
	})
}

func decimal128Of(v int64) decimal128.Num { return decimal128.FromI64(v) }
