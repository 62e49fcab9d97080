package readers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/shopspring/decimal"
)

// corpusRefused are the corpus files billcons may refuse, and why: files
// that are broken on purpose. Every other file must be read, and agree
// with arrow-go value by value.
var corpusRefused = map[string]string{
	"nation.dict-malformed.parquet":                  "malformed on purpose",
	"rle-dict-uncompressed-corrupt-checksum.parquet": "a page checksum that does not match, on purpose",
	"hadoop_lz4_compressed.parquet":                  "the deprecated LZ4 codec (Hadoop framing), which parquet-go does not decompress",
	"non_hadoop_lz4_compressed.parquet":              "the deprecated LZ4 codec, which parquet-go does not decompress",
	"column_chunk_key_value_metadata.parquet":        "column key-value metadata without values, which parquet-go's footer decoder refuses",
	"datapage_v2_empty_datapage.snappy.parquet":      "an empty compressed v2 data page, which parquet-go fails to decompress",
}

// readCorpusFile reads every row of a Parquet file through billcons' readers.
func readCorpusFile(path string) (header []string, rows [][]*string, err error) {
	tab, err := Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer tab.Close()
	header = tab.Header()
	err = Each(context.Background(), tab, func(r *Row) error {
		if r.Err != nil {
			return fmt.Errorf("row %d: %v", r.N, r.Err)
		}
		vals := make([]*string, len(header))
		for i := range header {
			if r.Null != nil && r.Null[i] {
				continue
			}
			s := r.Text(i)
			vals[i] = &s
		}
		rows = append(rows, vals)
		return nil
	})
	return header, rows, err
}

// arrowText renders value i of arr as CONTRACT.md's Values section says a
// carried-through column is carried, from arrow-go's reading of the file;
// nested values return "" and nested = true.
func arrowText(arr arrow.Array, i int) (s string, null, nested bool) {
	if arr.IsNull(i) {
		return "", true, false
	}
	switch a := arr.(type) {
	case *array.String:
		return a.Value(i), false, false
	case *array.LargeString:
		return a.Value(i), false, false
	case *array.Binary:
		b := a.Value(i)
		if utf8.Valid(b) { // unannotated binary: text when it is UTF-8 (docs/inputs.md)
			return string(b), false, false
		}
		return base64.StdEncoding.EncodeToString(b), false, false
	case *array.FixedSizeBinary:
		return base64.StdEncoding.EncodeToString(a.Value(i)), false, false
	case *array.Int8:
		return strconv.FormatInt(int64(a.Value(i)), 10), false, false
	case *array.Int16:
		return strconv.FormatInt(int64(a.Value(i)), 10), false, false
	case *array.Int32:
		return strconv.FormatInt(int64(a.Value(i)), 10), false, false
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10), false, false
	case *array.Uint8:
		return strconv.FormatUint(uint64(a.Value(i)), 10), false, false
	case *array.Uint16:
		return strconv.FormatUint(uint64(a.Value(i)), 10), false, false
	case *array.Uint32:
		return strconv.FormatUint(uint64(a.Value(i)), 10), false, false
	case *array.Uint64:
		return strconv.FormatUint(a.Value(i), 10), false, false
	case *array.Float16:
		return strconv.FormatFloat(float64(a.Value(i).Float32()), 'g', -1, 32), false, false
	case *array.Float32:
		return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 32), false, false
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64), false, false
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i)), false, false
	case *array.Date32:
		return time.Unix(int64(a.Value(i))*86400, 0).UTC().Format("2006-01-02"), false, false
	case *array.Time32:
		unit := a.DataType().(*arrow.Time32Type).Unit.Multiplier()
		return time.Unix(0, int64(a.Value(i))*int64(unit)).UTC().Format("15:04:05.999999999"), false, false
	case *array.Time64:
		unit := a.DataType().(*arrow.Time64Type).Unit.Multiplier()
		return time.Unix(0, int64(a.Value(i))*int64(unit)).UTC().Format("15:04:05.999999999"), false, false
	case *array.Timestamp:
		tt := a.DataType().(*arrow.TimestampType)
		t := time.Unix(0, int64(a.Value(i))*int64(tt.Unit.Multiplier())).UTC()
		s := t.Format("2006-01-02T15:04:05.999999999Z07:00")
		if tt.TimeZone == "" {
			s = strings.TrimSuffix(s, "Z")
		}
		return s, false, false
	case *array.Decimal128:
		dt := a.DataType().(*arrow.Decimal128Type)
		return decimal.NewFromBigInt(a.Value(i).BigInt(), -dt.Scale).StringFixed(dt.Scale), false, false
	case *array.Decimal256:
		dt := a.DataType().(*arrow.Decimal256Type)
		return decimal.NewFromBigInt(a.Value(i).BigInt(), -dt.Scale).StringFixed(dt.Scale), false, false
	case *array.Dictionary:
		return arrowText(a.Dictionary(), a.GetValueIndex(i))
	case array.ListLike, *array.Struct:
		return "", false, true
	}
	return fmt.Sprintf("<arrow type %s>", arr.DataType()), false, false
}

// TestParquetCorpus reads Parquet files other writers made, the small data
// files of apache/parquet-testing (testdata/parquet-testing: parquet-mr,
// parquet-cpp, Impala, Spark, Hive), each value compared with arrow-go's
// reading of the same file as CONTRACT.md's Values says it is carried: no
// file is refused for a column's type, nested columns become JSON.
func TestParquetCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/parquet-testing/*.parquet")
	if len(files) < 40 {
		t.Fatalf("%d corpus files; testdata/parquet-testing holds the corpus", len(files))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			compareWithArrow(t, path, corpusRefused[name])
		})
	}
}

// compareWithArrow reads path with billcons' readers and with arrow-go and
// compares every value. refused, when not empty, says why billcons may
// refuse the file.
func compareWithArrow(t *testing.T, path, refused string) {
	t.Helper()
	header, rows, err := readCorpusFile(path)
	if err != nil {
		if refused == "" {
			t.Fatalf("billcons refuses it: %v", err)
		}
		// Refused, then, with one line naming the file.
		if msg := err.Error(); !strings.HasPrefix(msg, path+":") || strings.Contains(msg, "\n") {
			t.Errorf("refused, but not with one line naming the file: %q", msg)
		}
		t.Logf("refused (%s): %v", refused, err)
		return
	}
	if refused != "" {
		t.Errorf("read, although listed as refused (%s): update corpusRefused", refused)
	}
	tbl, err := readArrow(path)
	if err != nil {
		t.Logf("arrow-go cannot read it (%v); billcons read %d rows", err, len(rows))
		return
	}
	defer tbl.Release()
	if int64(len(rows)) != tbl.NumRows() {
		t.Fatalf("billcons read %d rows, arrow-go %d", len(rows), tbl.NumRows())
	}
	if int(tbl.NumCols()) != len(header) {
		t.Fatalf("billcons read %d columns, arrow-go %d", len(header), tbl.NumCols())
	}
	bad := 0
	for c := range header {
		col := tbl.Column(c)
		r := 0
		for _, chunk := range col.Data().Chunks() {
			for i := 0; i < chunk.Len(); i, r = i+1, r+1 {
				want, null, nested := arrowText(chunk, i)
				got := rows[r][c]
				switch {
				case null && got != nil:
					t.Errorf("%s row %d: %q, arrow-go null", header[c], r+1, *got)
				case !null && got == nil:
					t.Errorf("%s row %d: null, arrow-go %q", header[c], r+1, want)
				case null:
					continue
				case nested:
					if json.Valid([]byte(*got)) {
						continue
					}
					t.Errorf("%s row %d: nested value %q is not JSON", header[c], r+1, *got)
				case int96Overflow(chunk, *got):
					continue
				case *got != want:
					t.Errorf("%s row %d: %q, arrow-go %q (%s)", header[c], r+1, *got, want, chunk.DataType())
				default:
					continue
				}
				if bad++; bad > 20 {
					t.Fatal("too many differences")
				}
			}
		}
	}
}

// int96Overflow reports whether arrow-go's value is an INT96 timestamp it
// read as int64 nanoseconds, which wrap outside the years 1678 to 2261
// (int96_from_spark.parquet holds 9999-12-31): billcons reads the INT96
// exactly, so the two cannot agree there.
func int96Overflow(arr arrow.Array, got string) bool {
	tt, ok := arr.DataType().(*arrow.TimestampType)
	if !ok || tt.Unit != arrow.Nanosecond {
		return false
	}
	year, err := strconv.Atoi(strings.SplitN(got, "-", 2)[0])
	return err == nil && (year < 1678 || year > 2261)
}

// readArrow reads path with arrow-go, which panics on some files (an
// unknown logical type): that is an error like any other.
func readArrow(path string) (tbl arrow.Table, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
}
