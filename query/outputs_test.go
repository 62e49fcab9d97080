package query

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/writers"
	"github.com/shopspring/decimal"
)

// cell is one value as text, or nil for null.
type cell = *string

// arrowCells renders a column chunk of arrow-go's reading: text, integers
// and timestamps (microseconds) as decimal text, decimals with their scale.
func arrowCells(t *testing.T, arr arrow.Array) []cell {
	out := make([]cell, arr.Len())
	for i := range out {
		if arr.IsNull(i) {
			continue
		}
		var s string
		switch a := arr.(type) {
		case *array.String:
			s = a.Value(i)
		case *array.Binary:
			s = string(a.Value(i))
		case *array.Int32:
			s = strconv.FormatInt(int64(a.Value(i)), 10)
		case *array.Int64:
			s = strconv.FormatInt(a.Value(i), 10)
		case *array.Boolean:
			s = strconv.FormatBool(a.Value(i))
		case *array.Timestamp:
			s = strconv.FormatInt(int64(a.Value(i))*int64(a.DataType().(*arrow.TimestampType).Unit.Multiplier())/1000, 10)
		case *array.Decimal128:
			sc := a.DataType().(*arrow.Decimal128Type).Scale
			s = decimal.NewFromBigInt(a.Value(i).BigInt(), -sc).StringFixed(sc)
		case *array.Dictionary:
			s = *arrowCells(t, a.Dictionary())[a.GetValueIndex(i)]
		default:
			t.Fatalf("no rendering for arrow type %s", arr.DataType())
		}
		out[i] = &s
	}
	return out
}

// TestOutputFilesReadersAgree reads every Parquet file of a tree (the demo
// quarter, with settlement) with arrow-go (pqarrow) and with DuckDB: both
// must read every value alike, and each row group's statistics, as arrow-go
// reads them (it ignores them, as parquet-java does, when created_by is not
// "APP version V (build B)"), must be the min, max and null count of the
// values (CONTRACT.md, Output tree; Spark, Trino and DuckDB prune by them).
// Every column with a value has min and max.
func TestOutputFilesReadersAgree(t *testing.T) {
	t.Run("demo", func(t *testing.T) { checkTreeFiles(t, demo(t)) })
	// A closed month and its corrections: invoice ids, correction rows,
	// credits given back.
	t.Run("closed", func(t *testing.T) {
		out, run, late := demoNights(t, nil, "")
		run("")
		if _, _, err := writers.CloseCycle(context.Background(), out, billing.Cycle(2024*12), 7, 0); err != nil {
			t.Fatal(err)
		}
		run(late("late-move,1000000000000005,trusteeship,2000000000000002,2024-01-10T00:00:00+08:00"))
		if n := one[int64](t, open(t, out), "SELECT count(*) FROM bills WHERE charge_class = 'correction' AND invoice_id IS NULL"); n == 0 {
			t.Fatal("no correction rows: the closed tree tests nothing more than the demo")
		}
		checkTreeFiles(t, out)
	})
}

func checkTreeFiles(t *testing.T, dir string) {
	db := open(t, dir)
	ctx := context.Background()
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 15 {
		t.Fatalf("%d Parquet files in the demo tree", len(files))
	}
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		t.Run(rel, func(t *testing.T) {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			pf, err := file.NewParquetReader(f)
			if err != nil {
				t.Fatalf("arrow-go: %v", err)
			}
			defer pf.Close()
			fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
			if err != nil {
				t.Fatal(err)
			}
			schema := pf.MetaData().Schema
			all := make([][]cell, schema.NumColumns()) // by column
			colIdx := make([]int, schema.NumColumns())
			for i := range colIdx {
				colIdx[i] = i
			}
			for rg := 0; rg < pf.NumRowGroups(); rg++ {
				tbl, err := fr.ReadRowGroups(ctx, colIdx, []int{rg})
				if err != nil {
					t.Fatalf("arrow-go reads row group %d: %v", rg, err)
				}
				rgm := pf.MetaData().RowGroup(rg)
				for c := 0; c < int(tbl.NumCols()); c++ {
					var vals []cell
					var raw []any // the physical values, for the statistics
					for _, ch := range tbl.Column(c).Data().Chunks() {
						vals = append(vals, arrowCells(t, ch)...)
						raw = append(raw, physical(ch)...)
					}
					all[c] = append(all[c], vals...)
					cc, err := rgm.ColumnChunk(c)
					if err != nil {
						t.Fatal(err)
					}
					checkStats(t, fmt.Sprintf("row group %d, %s", rg, schema.Column(c).Name()), cc, raw)
				}
				tbl.Release()
			}
			// DuckDB's reading, value by value.
			cols, err := db.Rows(ctx, "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet("+Literal(p)+", hive_partitioning = false))")
			if err != nil {
				t.Fatal(err)
			}
			var sel []string
			for cols.Next() {
				var name, typ string
				cols.Scan(&name, &typ)
				e := `"` + name + `"`
				if strings.HasPrefix(typ, "TIMESTAMP") {
					e = "epoch_us(" + e + ")"
				}
				sel = append(sel, "CAST("+e+" AS VARCHAR)")
			}
			cols.Close()
			if len(sel) != len(all) {
				t.Fatalf("DuckDB reads %d columns, arrow-go %d", len(sel), len(all))
			}
			rows, err := db.Rows(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM read_parquet("+Literal(p)+", hive_partitioning = false)")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			r := 0
			for rows.Next() {
				got := make([]sql.NullString, len(sel))
				ptrs := make([]any, len(sel))
				for i := range got {
					ptrs[i] = &got[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for c := range got {
					if r >= len(all[c]) {
						t.Fatalf("DuckDB reads more rows than arrow-go (%d)", len(all[c]))
					}
					a := all[c][r]
					if (a == nil) != !got[c].Valid || (a != nil && *a != got[c].String) {
						t.Errorf("row %d, column %d: arrow-go %v, DuckDB %q (valid %v)", r+1, c+1, deref(a), got[c].String, got[c].Valid)
					}
				}
				r++
			}
			if len(all) > 0 && r != len(all[0]) {
				t.Errorf("DuckDB read %d rows, arrow-go %d", r, len(all[0]))
			}
		})
	}
}

func deref(c cell) string {
	if c == nil {
		return "<null>"
	}
	return *c
}

// physical returns a chunk's values as the Parquet statistics order them:
// int64 for integers, timestamps and DECIMAL(18,9), *big.Int for
// DECIMAL(38,9), []byte for text; nil for nulls.
func physical(arr arrow.Array) []any {
	out := make([]any, arr.Len())
	for i := range out {
		if arr.IsNull(i) {
			continue
		}
		switch a := arr.(type) {
		case *array.String:
			out[i] = []byte(a.Value(i))
		case *array.Binary:
			out[i] = a.Value(i)
		case *array.Int32:
			out[i] = int64(a.Value(i))
		case *array.Int64:
			out[i] = a.Value(i)
		case *array.Timestamp:
			out[i] = int64(a.Value(i))
		case *array.Boolean:
			out[i] = a.Value(i)
		case *array.Decimal128:
			out[i] = a.Value(i).BigInt()
		case *array.Dictionary:
			out[i] = physical(a.Dictionary())[a.GetValueIndex(i)]
		}
	}
	return out
}

func less(a, b any) bool {
	switch x := a.(type) {
	case int64:
		return x < b.(int64)
	case []byte:
		return bytes.Compare(x, b.([]byte)) < 0
	case *big.Int:
		return x.Cmp(b.(*big.Int)) < 0
	case bool:
		return !x && b.(bool)
	}
	panic(fmt.Sprintf("less %T", a))
}

// checkStats compares a column chunk's statistics with its values.
func checkStats(t *testing.T, what string, cc *metadata.ColumnChunkMetaData, vals []any) {
	t.Helper()
	if cc.Type() == parquet.Types.Int64 || cc.Type() == parquet.Types.Int32 {
		for i, v := range vals { // a DECIMAL(18,9): its unscaled int64
			if b, ok := v.(*big.Int); ok {
				vals[i] = b.Int64()
			}
		}
	}
	var lo, hi any
	nulls := int64(0)
	for _, v := range vals {
		if v == nil {
			nulls++
			continue
		}
		if lo == nil || less(v, lo) {
			lo = v
		}
		if hi == nil || less(hi, v) {
			hi = v
		}
	}
	st, err := cc.Statistics()
	if err != nil || st == nil {
		if lo != nil {
			t.Errorf("%s: no statistics (%v)", what, err)
		}
		return
	}
	if st.HasNullCount() && st.NullCount() != nulls {
		t.Errorf("%s: null count %d, the values have %d", what, st.NullCount(), nulls)
	}
	if lo == nil {
		return
	}
	if !st.HasMinMax() {
		// billcons leaves min and max out only when a bound is text
		// longer than 256 bytes (a reject's record), so that a footer
		// does not grow with free text.
		if b, ok := lo.([]byte); !ok || (len(b) <= 256 && len(hi.([]byte)) <= 256) {
			t.Errorf("%s: no min and max (readers cannot prune by it)", what)
		}
		return
	}
	var smin, smax any
	switch s := st.(type) {
	case *metadata.Int64Statistics:
		smin, smax = s.Min(), s.Max()
	case *metadata.Int32Statistics:
		smin, smax = int64(s.Min()), int64(s.Max())
	case *metadata.ByteArrayStatistics:
		smin, smax = []byte(s.Min()), []byte(s.Max())
	case *metadata.BooleanStatistics:
		smin, smax = s.Min(), s.Max()
	case *metadata.FixedLenByteArrayStatistics:
		smin, smax = twos(s.Min()), twos(s.Max())
	default:
		t.Fatalf("%s: statistics of type %T", what, st)
	}
	if less(smin, lo) || less(lo, smin) || less(smax, hi) || less(hi, smax) {
		t.Errorf("%s: statistics [%v, %v], values [%v, %v]", what, smin, smax, lo, hi)
	}
}

// twos reads a big-endian two's-complement integer (a DECIMAL in a
// FIXED_LEN_BYTE_ARRAY).
func twos(b parquet.FixedLenByteArray) *big.Int {
	x := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return x
}

// TestTreeFilesRegistered: every file a run writes beside the bills, the
// index and views.sql is in writers.TreeFiles, which views.sql, the guards
// and the fixtures' renderer read, and every view of the registry is in
// views.sql.
func TestTreeFilesRegistered(t *testing.T) {
	dir := demo(t)
	m, err := writers.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range m.Outputs {
		if strings.HasPrefix(o.Path, "bills/") || o.Path == writers.IndexPath || o.Path == "views.sql" || o.Path == writers.RecomputedPath {
			continue
		}
		found := false
		for _, f := range writers.TreeFiles {
			found = found || f.Path == o.Path
		}
		if !found {
			t.Errorf("%s is written but not in writers.TreeFiles", o.Path)
		}
	}
	views, err := os.ReadFile(filepath.Join(dir, "views.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range writers.TreeFiles {
		if !f.Optional && !strings.Contains(string(views), "VIEW "+f.View+" AS") {
			t.Errorf("views.sql has no view %s", f.View)
		}
	}
}
