package readers

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	aparquet "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/billcons/billcons/gen"
	"github.com/parquet-go/parquet-go"
)

// BenchmarkReadParquetTyped compares ways of reading the same Parquet file
// (gen's, 200,000 lines) for the typed columnar reads:
//
//   - billcons: what a run does, the column reader (columns.go, pages.go)
//     with the timestamps and list_amount typed, decoded into a
//     billing.UsageLine (BenchmarkReadParquet's work; before the column
//     reader, every value was rendered to text and parsed, 0.8M rows/s);
//   - parquet-go-columns: parquet-go's typed column reads, page by page
//     (timestamps and amounts as int64, text as bytes), no decoding;
//   - arrow-file-columns: arrow-go's column chunk readers (ReadBatch into
//     typed slices), the same columns;
//   - pqarrow-records: arrow-go's pqarrow record batches of 64K rows.
//
// The three library readers do the same work (every column's values in
// typed slices, nothing decoded), so their rows/s picked the library.
func BenchmarkReadParquetTyped(b *testing.B) {
	dir := b.TempDir()
	const lines = 200_000
	if _, err := gen.Write(context.Background(), gen.Options{Lines: lines, Out: dir, Seed: 1, Format: "parquet"}); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "usage", "part-00000.parquet")
	report := func(b *testing.B) {
		b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	}
	b.Run("billcons", func(b *testing.B) {
		for b.Loop() {
			benchDecode(b, path, UsageOptions{}, lines)
		}
		report(b)
	})
	b.Run("parquet-go-columns", func(b *testing.B) {
		ints := make([]int64, 4096)
		text := make([]byte, 1<<16)
		vals := make([]parquet.Value, 4096)
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			st, _ := f.Stat()
			pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
			if err != nil {
				b.Fatal(err)
			}
			n := int64(0)
			for _, rg := range pf.RowGroups() {
				for ci, cc := range rg.ColumnChunks() {
					pages := cc.Pages()
					for {
						p, err := pages.ReadPage()
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
						r := p.Values()
						for {
							var k int
							var err error
							if ir, ok := r.(parquet.Int64Reader); ok {
								k, err = ir.ReadInt64s(ints)
							} else if br, ok := r.(parquet.ByteArrayReader); ok {
								k, err = br.ReadByteArrays(text)
							} else {
								k, err = r.ReadValues(vals)
							}
							if ci == 0 {
								n += int64(k)
							}
							if err == io.EOF {
								break
							}
							if err != nil {
								b.Fatal(err)
							}
						}
						parquet.Release(p)
					}
					pages.Close()
				}
			}
			f.Close()
			if n != lines {
				b.Fatalf("read %d rows, want %d", n, lines)
			}
		}
		report(b)
	})
	b.Run("arrow-file-columns", func(b *testing.B) {
		ints := make([]int64, 4096)
		bytes := make([]aparquet.ByteArray, 4096)
		defs := make([]int16, 4096)
		for b.Loop() {
			props := aparquet.NewReaderProperties(memory.DefaultAllocator)
			props.BufferedStreamEnabled = true
			rdr, err := file.OpenParquetFile(path, false, file.WithReadProps(props))
			if err != nil {
				b.Fatal(err)
			}
			n := int64(0)
			for g := 0; g < rdr.NumRowGroups(); g++ {
				rg := rdr.RowGroup(g)
				for ci := 0; ci < rg.NumColumns(); ci++ {
					col, err := rg.Column(ci)
					if err != nil {
						b.Fatal(err)
					}
					for col.HasNext() {
						var total int64
						switch c := col.(type) {
						case *file.Int64ColumnChunkReader:
							total, _, err = c.ReadBatch(4096, ints, defs, nil)
						case *file.ByteArrayColumnChunkReader:
							total, _, err = c.ReadBatch(4096, bytes, defs, nil)
						default:
							b.Fatalf("column %d: %T", ci, col)
						}
						if err != nil {
							b.Fatal(err)
						}
						if ci == 0 {
							n += total
						}
					}
				}
			}
			rdr.Close()
			if n != lines {
				b.Fatalf("read %d rows, want %d", n, lines)
			}
		}
		report(b)
	})
	b.Run("pqarrow-records", func(b *testing.B) {
		for b.Loop() {
			rdr, err := file.OpenParquetFile(path, false)
			if err != nil {
				b.Fatal(err)
			}
			fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
			if err != nil {
				b.Fatal(err)
			}
			rr, err := fr.GetRecordReader(context.Background(), nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			n := int64(0)
			for rr.Next() {
				n += rr.RecordBatch().NumRows()
			}
			if err := rr.Err(); err != nil && err != io.EOF {
				b.Fatal(err)
			}
			rr.Release()
			rdr.Close()
			if n != lines {
				b.Fatalf("read %d rows, want %d", n, lines)
			}
		}
		report(b)
	})
}
