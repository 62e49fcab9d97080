package parquetio_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/parquetio/parquettest"
	"github.com/parquet-go/parquet-go"
)

// TestWriterKinds: a column of every kind, required and optional, is read
// back by parquet-go with the type parquet-go itself gave it when it wrote
// billcons' outputs, with its values, nulls and statistics (decimals of 16
// bytes ordered as signed numbers, JSON text, counts; row groups written
// behind the rows), and by arrow-go with the same values.
func TestWriterKinds(t *testing.T) {
	nodes := map[parquetio.Kind]parquet.Node{parquetio.Text: parquettest.Text, parquetio.JSON: parquet.JSON(), parquetio.Timestamp: parquettest.TS,
		parquetio.Amount: parquettest.Amount, parquetio.Count: parquettest.Count, parquetio.Sum: parquettest.Sum}
	var cols []parquetio.Column
	var ref []parquettest.Column
	for k := parquetio.Text; k <= parquetio.Sum; k++ {
		for _, opt := range []bool{false, true} {
			name := fmt.Sprintf("k%d_%v", k, opt)
			cols = append(cols, parquetio.Column{Name: name, Kind: k, Optional: opt})
			n := nodes[k]
			if opt {
				n = parquet.Optional(n)
			}
			ref = append(ref, parquettest.Column{Name: name, Node: n})
		}
	}
	dir := t.TempDir()
	w, err := parquetio.Create(dir, "x/all.parquet", "all", cols, "parquetio test")
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
	pf := parquettest.Open(t, path)
	if got, want := pf.Schema().String(), parquettest.Schema("all", ref).String(); got != want {
		t.Errorf("schema:\n%s\nwant\n%s", got, want)
	}
	got := parquettest.Rows(t, path)
	for i := range want {
		if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
			t.Fatalf("row %d:\n got %q\nwant %q", i, got[i], want[i])
		}
	}
	parquettest.CheckStats(t, pf, got, parquetio.StatsMax)
	arrow := arrowRows(t, path)
	if len(arrow) != len(got) {
		t.Fatalf("arrow-go read %d rows, parquet-go %d", len(arrow), len(got))
	}
	for i := range got {
		if strings.Join(arrow[i], "|") != strings.Join(got[i], "|") {
			t.Fatalf("row %d: arrow-go %q, parquet-go %q", i, arrow[i], got[i])
		}
	}
}

// arrowRows reads a file with arrow-go (pqarrow), each value rendered as
// parquettest.Render renders parquet-go's.
func arrowRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("arrow-go reads %s: %v", path, err)
	}
	defer tbl.Release()
	rows := make([][]string, tbl.NumRows())
	for i := range rows {
		rows[i] = make([]string, tbl.NumCols())
	}
	for c := 0; c < int(tbl.NumCols()); c++ {
		r := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				rows[r][c] = arrowValue(chunk, i)
				r++
			}
		}
	}
	return rows
}

func arrowValue(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "null"
	}
	switch a := a.(type) {
	case *array.String:
		return "s:" + a.Value(i)
	case *array.Binary: // JSON: arrow-go keeps its bytes
		return "s:" + string(a.Value(i))
	case *array.Int64:
		return fmt.Sprint("i:", a.Value(i))
	case *array.Timestamp:
		return fmt.Sprint("i:", int64(a.Value(i)))
	case *array.Decimal128:
		v := a.Value(i)
		if a.DataType().(*arrow.Decimal128Type).Precision <= 18 {
			return fmt.Sprint("i:", int64(v.LowBits())) // DECIMAL(18, 9) is stored as INT64
		}
		b := binary.BigEndian.AppendUint64(nil, uint64(v.HighBits()))
		return "b:" + string(binary.BigEndian.AppendUint64(b, v.LowBits()))
	}
	return fmt.Sprintf("?%T", a)
}
