package writers

import (
	"fmt"
	"path"

	"github.com/billcons/billcons/billing"
	"github.com/parquet-go/parquet-go"
)

// BillColumns are the columns of every bills file, before the extra columns.
// billing_cycle and payer_account_id are not stored in the files: they are
// the hive partition folders, as DuckDB's own partitioned COPY writes them.
var BillColumns = []string{
	"line_id", "account_id", "product_code", "subscription_type",
	"usage_start", "usage_end", "list_amount", "currency", "payment_status",
	"issued_at", "settled_at", "decided_by", "held_by",
}

// MaxRowsPerFile is the most rows one bills part file holds; a partition with
// more gets part-00001 and on.
const MaxRowsPerFile = 1 << 22

// Bills writes bills partitioned by billing cycle and payer, one file open
// at a time. Lines must arrive grouped by (cycle, payer): all lines of one
// partition in a row, in the order they are to be stored.
type Bills struct {
	root    string
	schema  *parquet.Schema
	nExtra  int
	cur     *parquetFile
	cycle   billing.Cycle
	payer   string
	part    int
	seen    map[string]bool
	outputs []Output
	b       rowBuilder
}

// NewBills returns a writer of bills under root/bills with the given extra
// columns (all optional text).
func NewBills(root string, extras []string) *Bills {
	cols := []column{
		{"line_id", textNode}, {"account_id", textNode}, {"product_code", textNode},
		{"subscription_type", textNode}, {"usage_start", tsNode}, {"usage_end", tsNode},
		{"list_amount", amountNode}, {"currency", textNode}, {"payment_status", textNode},
		{"issued_at", tsNode}, {"settled_at", optTS}, {"decided_by", optText}, {"held_by", optText},
	}
	for _, x := range extras {
		cols = append(cols, column{x, optText})
	}
	return &Bills{root: root, schema: newSchema("bill", cols), nExtra: len(extras), seen: map[string]bool{}}
}

// PartitionDir returns the folder of a partition, relative to the tree.
func PartitionDir(cycle billing.Cycle, payer string) string {
	return path.Join("bills", "billing_cycle="+cycle.String(), "payer_account_id="+payer)
}

// Write appends one line to its partition. decidedBy and heldBy are "" for
// null.
func (w *Bills) Write(l *billing.UsageLine, payer, decidedBy, heldBy string) error {
	if w.cur == nil || l.Cycle != w.cycle || payer != w.payer || w.cur.rows >= MaxRowsPerFile {
		samePartition := w.cur != nil && l.Cycle == w.cycle && payer == w.payer
		if err := w.closeFile(); err != nil {
			return err
		}
		if samePartition {
			w.part++
		} else {
			dir := PartitionDir(l.Cycle, payer)
			if w.seen[dir] {
				return fmt.Errorf("bills for %s arrived out of order", dir)
			}
			w.seen[dir] = true
			w.cycle, w.payer, w.part = l.Cycle, payer, 0
		}
		f, err := createParquet(w.root, path.Join(PartitionDir(l.Cycle, payer), fmt.Sprintf("part-%05d.parquet", w.part)), w.schema)
		if err != nil {
			return err
		}
		w.cur = f
	}
	b := &w.b
	b.reset()
	b.text(l.LineID)
	b.text(l.AccountID)
	b.text(l.ProductCode)
	b.text(l.SubscriptionType.String())
	b.int64(int64(l.UsageStart))
	b.int64(int64(l.UsageEnd))
	b.int64(int64(l.ListAmount))
	b.text(l.Currency)
	b.text(l.PaymentStatus.String())
	b.int64(int64(l.IssuedAt))
	b.optInt64(int64(l.SettledAt), l.HasSettledAt)
	b.optText(decidedBy, decidedBy != "")
	b.optText(heldBy, heldBy != "")
	for i := 0; i < w.nExtra; i++ {
		var x billing.NullString
		if i < len(l.Extra) {
			x = l.Extra[i]
		}
		b.optText(x.S, x.Valid)
	}
	return w.cur.writeRow(b.row)
}

func (w *Bills) closeFile() error {
	if w.cur == nil {
		return nil
	}
	out, err := w.cur.close()
	w.cur = nil
	if err != nil {
		return err
	}
	w.outputs = append(w.outputs, out)
	if len(w.outputs) == 1 {
		Checkpoint("writing")
	}
	return nil
}

// Close finishes the last file and returns every file written.
func (w *Bills) Close() ([]Output, error) {
	err := w.closeFile()
	return w.outputs, err
}

// SummaryRow is one row of the summary: the lines of one member and product
// in one currency, paid by one payer in one cycle.
type SummaryRow struct {
	Cycle      billing.Cycle
	Payer      string
	AccountID  string
	Product    string
	Currency   string
	LineCount  int64
	ListAmount billing.Sum
}

// SummaryColumns are the columns of the summary file.
var SummaryColumns = []string{"billing_cycle", "payer_account_id", "account_id", "product_code", "currency", "line_count", "list_amount"}

// Summary writes DIR/summary/summary.parquet.
type Summary struct {
	f *parquetFile
	b rowBuilder
}

// NewSummary creates the summary file under root.
func NewSummary(root string) (*Summary, error) {
	f, err := createParquet(root, "summary/summary.parquet", newSchema("summary", []column{
		{"billing_cycle", textNode}, {"payer_account_id", textNode}, {"account_id", textNode},
		{"product_code", textNode}, {"currency", textNode}, {"line_count", countNode}, {"list_amount", sumNode},
	}))
	if err != nil {
		return nil, err
	}
	return &Summary{f: f}, nil
}

// Write appends one row.
func (s *Summary) Write(r *SummaryRow) error {
	b := &s.b
	b.reset()
	b.text(r.Cycle.String())
	b.text(r.Payer)
	b.text(r.AccountID)
	b.text(r.Product)
	b.text(r.Currency)
	b.int64(r.LineCount)
	b.fixed(r.ListAmount.Bytes16())
	return s.f.writeRow(b.row)
}

// Close writes the footer.
func (s *Summary) Close() (Output, error) { return s.f.close() }

// Reject is one rejected input row.
type Reject struct {
	SourceFile string
	SourceRow  int64
	Code       string
	Reason     string
	Record     string // the raw values as a JSON object
}

// RejectColumns are the columns of every rejects file.
var RejectColumns = []string{"source_file", "source_row", "reason_code", "reason", "record"}

// Rejects writes one rejects file.
type Rejects struct {
	f *parquetFile
	b rowBuilder
}

// NewRejects creates DIR/rejects/NAME.parquet under root.
func NewRejects(root, name string) (*Rejects, error) {
	f, err := createParquet(root, "rejects/"+name+".parquet", newSchema("reject", []column{
		{"source_file", textNode}, {"source_row", countNode}, {"reason_code", textNode},
		{"reason", textNode}, {"record", parquet.JSON()},
	}))
	if err != nil {
		return nil, err
	}
	return &Rejects{f: f}, nil
}

// Write appends one reject.
func (r *Rejects) Write(x *Reject) error {
	b := &r.b
	b.reset()
	b.text(x.SourceFile)
	b.int64(x.SourceRow)
	b.text(x.Code)
	b.text(x.Reason)
	b.text(x.Record)
	return r.f.writeRow(b.row)
}

// Close writes the footer.
func (r *Rejects) Close() (Output, error) { return r.f.close() }
