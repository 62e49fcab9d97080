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
			{"invoice_id", parquet.Optional(dict(textNode))}, {"charge_class", parquet.Optional(dict(textNode))},
			{"correction_reason", parquet.Optional(dict(textNode))}, {"corrects_cycle", parquet.Optional(dict(textNode))},
			{"correction_sign", optCount},
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
			row := &goRow{row: make(parquet.Row, 0, len(cols))}
			for i := range libLines {
				l, d := libLine(ls, i)
				row.row = row.row[:0]
				visitBill(row, &l, &d)
				if _, err := w.WriteRows([]parquet.Row{row.row}); err != nil {
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
			{Name: "invoice_id", Type: str, Nullable: true}, {Name: "charge_class", Type: str, Nullable: true},
			{Name: "correction_reason", Type: str, Nullable: true}, {Name: "corrects_cycle", Type: str, Nullable: true},
			{Name: "correction_sign", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
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
			row := &arrowRow{rb: rb}
			for i := range libLines {
				l, d := libLine(ls, i)
				row.c = 0
				visitBill(row, &l, &d)
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

// billFields takes a bills row's fields for a library writer of the
// benchmark, in the order of the bills' columns (visitBill).
type billFields interface {
	text(s string)
	opt(s string, ok bool)
	ts(t billing.Time)
	optTS(t billing.Time, ok bool)
	amount(a billing.Amount)
	optInt(v int64, ok bool)
}

// visitBill gives f the fields of a bill, as Bills.Write stores them.
func visitBill(f billFields, l *billing.UsageLine, d *Decided) {
	f.text(d.Payer)
	f.text(l.LineID)
	f.text(l.AccountID)
	f.text(l.ProductCode)
	f.text(l.SubscriptionType.String())
	f.ts(l.UsageStart)
	f.ts(l.UsageEnd)
	f.amount(l.ListAmount)
	f.text(l.Currency)
	f.text(l.PaymentStatus.String())
	f.ts(l.IssuedAt)
	f.optTS(l.SettledAt, l.HasSettledAt)
	f.opt(d.DecidedBy, d.DecidedBy != "")
	f.opt(d.HeldBy, d.HeldBy != "")
	f.text(l.ChargeType.String())
	f.opt(l.ResourceID, l.ResourceID != "")
	f.text(d.DiscountOwner)
	f.text(d.DiscountRule)
	f.opt(d.DiscountID, d.DiscountID != "")
	f.amount(d.DiscountAmount)
	f.amount(l.ListAmount - d.DiscountAmount)
	for _, s := range []string{d.InvoiceID, d.ChargeClass, d.CorrectionReason, d.CorrectsCycle} {
		f.opt(s, s != "")
	}
	f.optInt(int64(d.CorrectionSign), d.CorrectionSign != 0)
	for _, x := range l.Extra {
		f.opt(x.S, x.Valid)
	}
}

// goRow builds a parquet-go row: an optional column's value has
// definition level 1, its null 0.
type goRow struct{ row parquet.Row }

func (r *goRow) add(v parquet.Value, def int) {
	r.row = append(r.row, v.Level(0, def, len(r.row)))
}
func (r *goRow) text(s string) { r.add(parquet.ByteArrayValue([]byte(s)), 0) }
func (r *goRow) opt(s string, ok bool) {
	if ok {
		r.add(parquet.ByteArrayValue([]byte(s)), 1)
	} else {
		r.add(parquet.NullValue(), 0)
	}
}
func (r *goRow) ts(t billing.Time) { r.add(parquet.Int64Value(int64(t)), 0) }
func (r *goRow) optTS(t billing.Time, ok bool) {
	r.optInt(int64(t), ok)
}
func (r *goRow) amount(a billing.Amount) { r.add(parquet.Int64Value(int64(a)), 0) }
func (r *goRow) optInt(v int64, ok bool) {
	if ok {
		r.add(parquet.Int64Value(v), 1)
	} else {
		r.add(parquet.NullValue(), 0)
	}
}

// arrowRow appends a row to an arrow record builder, field by field.
type arrowRow struct {
	rb *array.RecordBuilder
	c  int
}

func (r *arrowRow) next() array.Builder { r.c++; return r.rb.Field(r.c - 1) }
func (r *arrowRow) text(s string)       { r.next().(*array.StringBuilder).Append(s) }
func (r *arrowRow) opt(s string, ok bool) {
	if b := r.next(); ok {
		b.(*array.StringBuilder).Append(s)
	} else {
		b.AppendNull()
	}
}
func (r *arrowRow) ts(t billing.Time) { r.optTS(t, true) }
func (r *arrowRow) optTS(t billing.Time, ok bool) {
	if b := r.next(); ok {
		b.(*array.TimestampBuilder).Append(arrow.Timestamp(t))
	} else {
		b.AppendNull()
	}
}
func (r *arrowRow) amount(a billing.Amount) {
	r.next().(*array.Decimal128Builder).Append(decimal128.FromI64(int64(a)))
}
func (r *arrowRow) optInt(v int64, ok bool) {
	if b := r.next(); ok {
		b.(*array.Int64Builder).Append(v)
	} else {
		b.AppendNull()
	}
}
