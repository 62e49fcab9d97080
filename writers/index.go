package writers

import (
	"fmt"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio"
	"github.com/parquet-go/parquet-go"
)

// IndexPath is the payers' index of a tree, relative to it.
const IndexPath = "index/payers.parquet"

// IndexRow is one row of index/payers.parquet: the rows of one payer in
// one bills file (its slice: the file stores a payer's rows one after
// another), and what they sum to in one currency. A payer with lines in two
// currencies has two rows for the same slice.
type IndexRow struct {
	Cycle      billing.Cycle
	Payer      string
	Currency   string
	File       string // the bills file, relative to the tree
	FirstRow   int64  // the slice's first row in the file, from 0
	Rows       int64  // the slice's rows, every currency
	LineCount  int64  // the slice's rows in this currency
	ListAmount billing.Sum
	Discount   billing.Sum
	Effective  billing.Sum
}

// IndexColumns are the columns of index/payers.parquet.
var IndexColumns = []string{"billing_cycle", "payer_account_id", "currency", "file", "first_row", "rows",
	"line_count", "list_amount", "discount_amount", "effective_amount"}

// Index writes index/payers.parquet. A run writes it with the bills
// ([Bills] does); a sharded run's commit merges the shards' indexes.
type Index struct {
	f *parquetio.Writer
}

// NewIndex creates root/index/payers.parquet.
func NewIndex(root string) (*Index, error) {
	f, err := createFlat(root, IndexPath, "payer_index", []parquetio.Column{
		{Name: "billing_cycle", Kind: parquetio.Text}, {Name: "payer_account_id", Kind: parquetio.Text}, {Name: "currency", Kind: parquetio.Text},
		{Name: "file", Kind: parquetio.Text}, {Name: "first_row", Kind: parquetio.Count}, {Name: "rows", Kind: parquetio.Count}, {Name: "line_count", Kind: parquetio.Count},
		{Name: "list_amount", Kind: parquetio.Sum}, {Name: "discount_amount", Kind: parquetio.Sum}, {Name: "effective_amount", Kind: parquetio.Sum},
	})
	if err != nil {
		return nil, err
	}
	return &Index{f: f}, nil
}

// Write appends one row.
func (x *Index) Write(r *IndexRow) error { return writeIndexRow(x.f, r) }

// Close writes the footer.
func (x *Index) Close() (Output, error) { return output(x.f.Close()) }

func writeIndexRow(f *parquetio.Writer, r *IndexRow) error {
	f.Text(r.Cycle.String())
	f.Text(r.Payer)
	f.Text(r.Currency)
	f.Text(r.File)
	f.Int64(r.FirstRow)
	f.Int64(r.Rows)
	f.Int64(r.LineCount)
	f.Sum(r.ListAmount)
	f.Sum(r.Discount)
	f.Sum(r.Effective)
	return f.EndRow()
}

// ReadIndex calls fn for each row of an index file written by [Index].
func ReadIndex(p string, fn func(*IndexRow) error) error {
	var row IndexRow
	return parquetio.Read(p, func(_ []string, v map[string]parquet.Value) error {
		c, err := billing.ParseCycle(v["billing_cycle"].String())
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		sum := func(name string) billing.Sum { return billing.SumFromBytes16(v[name].ByteArray()) }
		row = IndexRow{Cycle: c, Payer: v["payer_account_id"].String(), Currency: v["currency"].String(), File: v["file"].String(),
			FirstRow: v["first_row"].Int64(), Rows: v["rows"].Int64(), LineCount: v["line_count"].Int64(),
			ListAmount: sum("list_amount"), Discount: sum("discount_amount"), Effective: sum("effective_amount")}
		return fn(&row)
	})
}
