package writers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/billcons/billcons/billing"
)

// TestArrowReadsBills reads a bills file of several row groups with
// arrow-go, the reader of the Arrow ecosystem (an independent reader of
// billcons' hand-written Parquet): every row and value comes back, and each
// row group's statistics on payer_account_id, the first sort column, are
// the payers it holds, as min and max set (so readers that prune by them,
// DuckDB's and Arrow's, read only the row groups of the payer they want).
func TestArrowReadsBills(t *testing.T) {
	dir := t.TempDir()
	w, err := NewBills(dir, []string{"region"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 70_000 // three row groups of at most 32,768 rows
	payerOf := func(i int) string { return fmt.Sprintf("P%03d", i*200/n) }
	for i := range n {
		l := billing.UsageLine{LineID: fmt.Sprintf("L%06d", i), AccountID: "m", ProductCode: "ecs", Currency: "CNY",
			ListAmount: billing.Amount(int64(i) * 1_000_000_001), UsageEnd: billing.Time(i), Cycle: billing.Cycle(2024 * 12),
			Extra: []billing.NullString{{S: "cn-hangzhou", Valid: i%3 == 0}}}
		if err := w.Write(&l, &Decided{Payer: payerOf(i), DiscountOwner: "m", DiscountRule: "member"}); err != nil {
			t.Fatal(err)
		}
	}
	outs, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, outs[0].Path)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("arrow-go reads %s: %v", p, err)
	}
	defer tbl.Release()
	if tbl.NumRows() != n {
		t.Fatalf("arrow-go read %d rows, want %d", tbl.NumRows(), n)
	}
	col := func(name string) int {
		for i, fld := range tbl.Schema().Fields() {
			if fld.Name == name {
				return i
			}
		}
		t.Fatalf("no column %s in %v", name, tbl.Schema())
		return -1
	}
	row := 0
	for _, chunk := range tbl.Column(col("payer_account_id")).Data().Chunks() {
		s := chunk.(*array.String)
		for i := 0; i < s.Len(); i++ {
			if s.Value(i) != payerOf(row) {
				t.Fatalf("row %d: payer %q, want %q", row, s.Value(i), payerOf(row))
			}
			row++
		}
	}
	row = 0
	for _, chunk := range tbl.Column(col("list_amount")).Data().Chunks() {
		d := chunk.(*array.Decimal128)
		for i := 0; i < d.Len(); i++ {
			if got, want := d.Value(i).LowBits(), uint64(int64(row)*1_000_000_001); got != want {
				t.Fatalf("row %d: list_amount %d, want %d (scale 9)", row, got, want)
			}
			row++
		}
	}
	// Statistics, as arrow-go reads them from the footer.
	rdr, err := file.OpenParquetFile(p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	first := 0
	for g := 0; g < rdr.NumRowGroups(); g++ {
		md := rdr.RowGroup(g).MetaData()
		cc, err := md.ColumnChunk(0)
		if err != nil {
			t.Fatal(err)
		}
		stats, err := cc.Statistics()
		if err != nil || stats == nil || !stats.HasMinMax() {
			t.Fatalf("row group %d: no min/max on %s (%v)", g, cc.PathInSchema(), err)
		}
		bs := stats.(*metadata.ByteArrayStatistics)
		last := first + int(md.NumRows()) - 1
		if string(bs.Min()) != payerOf(first) || string(bs.Max()) != payerOf(last) {
			t.Errorf("row group %d: payer statistics %s..%s, want %s..%s", g, bs.Min(), bs.Max(), payerOf(first), payerOf(last))
		}
		first = last + 1
	}
	if rdr.NumRowGroups() < 3 {
		t.Errorf("%d row groups; want 3 or more", rdr.NumRowGroups())
	}
}
