package readers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/billcons/billcons/billing"
)

// arrowCorpusTable is a table of every type a Parquet writer of the Arrow
// ecosystem (pyarrow, pandas, Polars, arrow-go) commonly writes, nulls
// included, with the usage columns a user's file would have beside them.
func arrowCorpusTable(t *testing.T) arrow.Table {
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "fixed", Type: &arrow.FixedSizeBinaryType{ByteWidth: 3}, Nullable: true},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
		{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f16", Type: arrow.FixedWidthTypes.Float16, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "t_ms", Type: arrow.FixedWidthTypes.Time32ms, Nullable: true},
		{Name: "t_us", Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
		{Name: "ts_utc", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "ts_naive", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
		{Name: "ts_ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "dec9", Type: &arrow.Decimal128Type{Precision: 9, Scale: 2}, Nullable: true},
		{Name: "dec18", Type: &arrow.Decimal128Type{Precision: 18, Scale: 9}, Nullable: true},
		{Name: "dec38", Type: &arrow.Decimal128Type{Precision: 38, Scale: 9}, Nullable: true},
		{Name: "list", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
		{Name: "st", Type: arrow.StructOf(arrow.Field{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true}, arrow.Field{Name: "v", Type: arrow.PrimitiveTypes.Int32, Nullable: true}), Nullable: true},
		{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.String), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	const n = 300
	for i := 0; i < n; i++ {
		null := i%7 == 3
		for c, fb := range b.Fields() {
			if null && c != 0 {
				fb.AppendNull()
				continue
			}
			switch x := fb.(type) {
			case *array.StringBuilder:
				x.Append([]string{"web-1", `db "primary"`, "报表服务", "cache, warm", ""}[i%5])
			case *array.BinaryBuilder:
				x.Append([]byte{byte(i), 0xff, byte(i >> 8)})
			case *array.FixedSizeBinaryBuilder:
				x.Append([]byte{byte(i), 0xfe, 7})
			case *array.Int8Builder:
				x.Append(int8(i - 128))
			case *array.Int16Builder:
				x.Append(int16(i*100 - 30000))
			case *array.Int32Builder:
				x.Append(int32(i*1_000_003 - 150_000_000))
			case *array.Int64Builder:
				x.Append(int64(i)*9_000_000_000_000 - 1)
			case *array.Uint8Builder:
				x.Append(uint8(255 - i%256))
			case *array.Uint16Builder:
				x.Append(uint16(65535 - i))
			case *array.Uint32Builder:
				x.Append(uint32(4294967295 - i))
			case *array.Uint64Builder:
				x.Append(uint64(18446744073709551615) - uint64(i))
			case *array.Float16Builder:
				x.Append(float16.New(float32(i) / 4))
			case *array.Float32Builder:
				x.Append(float32(i) / 3)
			case *array.Float64Builder:
				x.Append(float64(i)/7 + 1e20)
			case *array.BooleanBuilder:
				x.Append(i%2 == 0)
			case *array.Date32Builder:
				x.Append(arrow.Date32(19700 + i))
			case *array.Time32Builder:
				x.Append(arrow.Time32(i * 123_457))
			case *array.Time64Builder:
				x.Append(arrow.Time64(int64(i) * 123_456_789))
			case *array.TimestampBuilder:
				us := 1_704_067_200_000_000 + int64(i)*3_600_000_123
				switch x.Type().(*arrow.TimestampType).Unit {
				case arrow.Millisecond:
					x.Append(arrow.Timestamp(us / 1000))
				case arrow.Nanosecond:
					x.Append(arrow.Timestamp(us*1000 + 7))
				default:
					x.Append(arrow.Timestamp(us))
				}
			case *array.Decimal128Builder:
				x.Append(decimal128.FromI64(int64(i)*1_000_000_007 - 5))
			case *array.ListBuilder:
				x.Append(true)
				for k := 0; k < i%4; k++ {
					x.ValueBuilder().(*array.Int64Builder).Append(int64(k * i))
				}
			case *array.StructBuilder:
				x.Append(true)
				x.FieldBuilder(0).(*array.StringBuilder).Append(fmt.Sprint("k", i))
				x.FieldBuilder(1).(*array.Int32Builder).Append(int32(i))
			case *array.MapBuilder:
				x.Append(true)
				x.KeyBuilder().(*array.StringBuilder).Append("env")
				x.ItemBuilder().(*array.StringBuilder).Append(fmt.Sprint("v", i))
			default:
				t.Fatalf("no value for %T", fb)
			}
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	return array.NewTableFromRecords(schema, []arrow.Record{rec})
}

// TestArrowWrittenCorpus writes the table above with arrow-go's Parquet
// writer (pqarrow), with every codec it has, data pages v1 and v2,
// dictionary and plain encodings, and timestamps as INT96 as Spark writes
// them; each file is read by billcons' readers and compared, value by
// value, with arrow-go's reading (CONTRACT.md, Values: any type a Parquet
// writer produces is carried, nested values as JSON).
func TestArrowWrittenCorpus(t *testing.T) {
	tbl := arrowCorpusTable(t)
	defer tbl.Release()
	dir := t.TempDir()
	for _, codec := range []compress.Compression{compress.Codecs.Uncompressed, compress.Codecs.Snappy, compress.Codecs.Gzip,
		compress.Codecs.Brotli, compress.Codecs.Zstd, compress.Codecs.Lz4Raw} {
		for _, v := range []parquet.DataPageVersion{parquet.DataPageV1, parquet.DataPageV2} {
			for _, dict := range []bool{true, false} {
				for _, int96 := range []bool{false, true} {
					if int96 && (codec != compress.Codecs.Snappy || !dict) {
						continue // INT96 as Spark writes it: snappy, dictionary
					}
					name := fmt.Sprintf("%s-v%d-dict%v-int96%v.parquet", codec, v+1, dict, int96)
					path := filepath.Join(dir, name)
					f, err := os.Create(path)
					if err != nil {
						t.Fatal(err)
					}
					props := parquet.NewWriterProperties(parquet.WithCompression(codec), parquet.WithDataPageVersion(v),
						parquet.WithDictionaryDefault(dict), parquet.WithDataPageSize(1024), parquet.WithMaxRowGroupLength(128))
					if err := pqarrow.WriteTable(tbl, f, 128, props, pqarrow.NewArrowWriterProperties(pqarrow.WithDeprecatedInt96Timestamps(int96))); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					f.Close()
					t.Run(name, func(t *testing.T) { compareWithArrow(t, path, "") })
				}
			}
		}
	}
}

// writeArrowUsage writes a one-row usage file with arrow-go: the contract's
// columns of the types given (text where types lacks them), and an extra.
func writeArrowUsage(t *testing.T, types map[string]arrow.DataType, int96 bool) string {
	t.Helper()
	names := []string{"line_id", "account_id", "product_code", "billing_cycle", "subscription_type", "usage_start", "usage_end",
		"list_amount", "currency", "payment_status", "issued_at", "extra_naive", "extra_u32"}
	text := map[string]string{"line_id": "L1", "account_id": "1000000000000001", "product_code": "ecs", "billing_cycle": "2024-01",
		"subscription_type": "payasyougo", "usage_start": "2024-01-01T00:00:00+08:00", "usage_end": "2024-01-02T00:00:00+08:00",
		"list_amount": "1.5", "currency": "CNY", "payment_status": "settled", "issued_at": "2024-01-02T02:00:00+08:00"}
	var fields []arrow.Field
	for _, n := range names {
		typ, ok := types[n]
		if !ok {
			typ = arrow.BinaryTypes.String
		}
		fields = append(fields, arrow.Field{Name: n, Type: typ, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i, n := range names {
		switch x := b.Field(i).(type) {
		case *array.StringBuilder:
			x.Append(text[n])
		case *array.Int64Builder:
			x.Append(1000000000000001)
		case *array.Uint32Builder:
			x.Append(4294967295)
		case *array.Float64Builder:
			x.Append(1.5)
		case *array.TimestampBuilder: // 2024-01-01 00:00 UTC, or as a wall clock
			x.Append(arrow.Timestamp(1_704_067_200_000_000))
		default:
			t.Fatalf("%s: %T", n, x)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.Record{rec})
	defer tbl.Release()
	path := filepath.Join(t.TempDir(), "usage.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pqarrow.WriteTable(tbl, f, 16, parquet.NewWriterProperties(), pqarrow.NewArrowWriterProperties(pqarrow.WithDeprecatedInt96Timestamps(int96))); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestParquetUsageTypes: what pandas, Spark and DuckDB write for the usage
// columns (CONTRACT.md, Values): integer ids are read as their decimal
// text, INT96 and UTC timestamps are instants, an extra naive timestamp
// or UINT_32 column is carried as text, a naive timestamp in a required
// column is refused naming the column (read in --tz under the alibaba
// profile's own names), and a floating-point amount column is refused.
func TestParquetUsageTypes(t *testing.T) {
	naive := &arrow.TimestampType{Unit: arrow.Microsecond}
	utc := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	decode := func(path string) ([]billing.UsageLine, []string, error) {
		tab, err := Open(path)
		if err != nil {
			return nil, nil, err
		}
		defer tab.Close()
		var extras ExtraColumns
		dec, err := NewUsageDecoder(tab, &extras)
		if err != nil {
			return nil, nil, err
		}
		var lines []billing.UsageLine
		err = Each(context.Background(), tab, func(r *Row) error {
			var l billing.UsageLine
			if e := dec.Decode(r, &l); e != nil {
				return e
			}
			lines = append(lines, l)
			return nil
		})
		return lines, extras.Names(), err
	}
	for _, tt := range []struct {
		name  string
		types map[string]arrow.DataType
		int96 bool
		fail  string
	}{
		{"pandas: integer ids, naive extra", map[string]arrow.DataType{"account_id": arrow.PrimitiveTypes.Int64, "extra_naive": naive, "extra_u32": arrow.PrimitiveTypes.Uint32}, false, ""},
		{"spark: INT96 timestamps", map[string]arrow.DataType{"usage_start": utc, "usage_end": utc, "issued_at": utc, "extra_naive": naive}, true, ""},
		{"naive usage_start", map[string]arrow.DataType{"usage_start": naive}, false, "column usage_start is a timestamp without time zone"},
		{"float amount", map[string]arrow.DataType{"list_amount": arrow.PrimitiveTypes.Float64}, false, "column list_amount is floating-point: no float touches an amount"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lines, extras, err := decode(writeArrowUsage(t, tt.types, tt.int96))
			if tt.fail != "" {
				if err == nil || !strings.Contains(err.Error(), tt.fail) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("got %v, want one line with %q", err, tt.fail)
				}
				return
			}
			if err != nil || len(lines) != 1 {
				t.Fatalf("%d lines, %v", len(lines), err)
			}
			l := lines[0]
			if l.AccountID != "1000000000000001" || l.ListAmount != 1_500_000_000 {
				t.Errorf("account %q, amount %d", l.AccountID, l.ListAmount)
			}
			if _, isTS := tt.types["usage_start"]; isTS && l.UsageStart != billing.Time(1_704_067_200_000_000) {
				t.Errorf("usage_start %d", l.UsageStart)
			}
			got := map[string]string{}
			for i, n := range extras {
				if l.Extra[i].Valid {
					got[n] = l.Extra[i].S
				}
			}
			if want := "2024-01-01T00:00:00"; tt.types["extra_naive"] != nil && got["extra_naive"] != want {
				t.Errorf("extra_naive %q, want %q", got["extra_naive"], want)
			}
			if tt.types["extra_u32"] != nil && got["extra_u32"] != "4294967295" {
				t.Errorf("extra_u32 %q, want 4294967295", got["extra_u32"])
			}
		})
	}
}
