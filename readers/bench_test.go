package readers

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/fixtures/gen"
)

// benchRead decodes every usage row of a generated file and reports rows/s.
func benchRead(b *testing.B, format string) {
	dir := b.TempDir()
	const lines = 200_000
	if _, err := gen.Write(gen.Options{Lines: lines, Out: dir, Seed: 1, Format: format}); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "usage", "part-00000."+format)
	b.ResetTimer()
	for b.Loop() {
		t, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		var extras ExtraColumns
		dec, err := NewUsageDecoder(t, &extras)
		if err != nil {
			b.Fatal(err)
		}
		var l billing.UsageLine
		n := 0
		if err := Each(context.Background(), t, func(r *Row) error {
			if e := dec.Decode(r, &l); e != nil {
				return e
			}
			n++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		t.Close()
		if n != lines {
			b.Fatalf("%d rows", n)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkReadCSV(b *testing.B)     { benchRead(b, "csv") }
func BenchmarkReadParquet(b *testing.B) { benchRead(b, "parquet") }
