package writers

import (
	"fmt"
	"path"
	"sync"
	"sync/atomic"

	"github.com/billcons/billcons/billing"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// BillColumns are the columns of every bills file, before the extra columns.
// billing_cycle and payer_account_id are not stored in the files: they are
// the hive partition folders, as DuckDB's own partitioned COPY writes them.
var BillColumns = []string{
	"line_id", "account_id", "product_code", "subscription_type",
	"usage_start", "usage_end", "list_amount", "currency", "payment_status",
	"issued_at", "settled_at", "decided_by", "held_by",
	"charge_type", "resource_id", "discount_owner", "discount_rule", "discount_id", "discount_amount", "effective_amount",
}

// Decided is what the run decided for a line: who pays it and why, and the
// discount it gets.
type Decided struct {
	Payer          string
	DecidedBy      string // "" for null
	HeldBy         string // "" for null
	DiscountOwner  string
	DiscountRule   string // the code of the rule that named the owner
	DiscountID     string // "" for null: no discount applies
	DiscountAmount billing.Amount
}

// MaxRowsPerFile is the most rows one bills part file holds; a partition with
// more gets part-00001 and on.
const MaxRowsPerFile = 1 << 22

// Bills writes bills partitioned by billing cycle and payer. Lines must
// arrive grouped by (cycle, payer): all lines of one partition in a row, in
// the order they are to be stored. The caller's goroutine turns lines into
// rows; up to BillWriters part files are encoded and compressed at once, each
// by its own goroutine, so that both cores work. Each file's bytes are what
// one writer alone would write.
type Bills struct {
	root   string
	schema *parquet.Schema
	nCols  int
	nExtra int
	cur    *billPart
	cycle  billing.Cycle
	payer  string
	part   int
	seen   map[string]bool
	b      rowBuilder

	sem     chan struct{}        // one token per part being written
	files   [2]chan *parquetFile // closed writers of large and small parts, to write the next parts with
	batches chan *billRowBatch   // batches written, to fill again
	vals    []parquet.Value      // the values of the current batch's rows
	wg      sync.WaitGroup
	mu      sync.Mutex
	outputs []Output // by part, in the order parts were started
	err     error
	failed  atomic.Bool
	written atomic.Int32
}

// BillWriters is how many bills files are written at once.
const BillWriters = 2

// billBatch is the rows sent to a part's goroutine in one go.
const billBatch = 4096

// billPart is a part file being written by its goroutine.
type billPart struct {
	rows  int
	batch *billRowBatch
	ch    chan *billRowBatch
}

// billRowBatch is rows handed to a part's goroutine, and the values they
// are cut from. Once written (parquet-go copies the values into its column
// buffers) a batch comes back to be filled again, so that a file of a
// hundred rows does not cost a fresh batch.
type billRowBatch struct {
	rows []parquet.Row
	vals []parquet.Value
}

// NewBills returns a writer of bills under root/bills with the given extra
// columns (all optional text).
func NewBills(root string, extras []string) *Bills {
	cols := []column{
		{"line_id", textNode}, {"account_id", textNode}, {"product_code", textNode},
		{"subscription_type", textNode}, {"usage_start", tsNode}, {"usage_end", tsNode},
		{"list_amount", amountNode}, {"currency", textNode}, {"payment_status", textNode},
		{"issued_at", tsNode}, {"settled_at", optTS}, {"decided_by", optText}, {"held_by", optText},
		{"charge_type", textNode}, {"resource_id", optText}, {"discount_owner", textNode}, {"discount_rule", textNode}, {"discount_id", optText},
		{"discount_amount", amountNode}, {"effective_amount", amountNode},
	}
	for _, x := range extras {
		cols = append(cols, column{x, optText})
	}
	return &Bills{root: root, schema: newSchema("bill", cols), nCols: len(cols), nExtra: len(extras),
		seen: map[string]bool{}, sem: make(chan struct{}, BillWriters),
		files: [2]chan *parquetFile{make(chan *parquetFile, BillWriters), make(chan *parquetFile, BillWriters)}, batches: make(chan *billRowBatch, 2*BillWriters+2)}
}

// PartitionDir returns the folder of a partition, relative to the tree.
func PartitionDir(cycle billing.Cycle, payer string) string {
	return path.Join("bills", "billing_cycle="+cycle.String(), "payer_account_id="+payer)
}

// Write appends one line to its partition.
func (w *Bills) Write(l *billing.UsageLine, d *Decided) error {
	payer := d.Payer
	if w.failed.Load() {
		return w.firstError()
	}
	if w.cur == nil || l.Cycle != w.cycle || payer != w.payer || w.cur.rows >= MaxRowsPerFile {
		samePartition := w.cur != nil && l.Cycle == w.cycle && payer == w.payer
		w.finishPart()
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
		w.startPart(path.Join(PartitionDir(l.Cycle, payer), fmt.Sprintf("part-%05d.parquet", w.part)), !samePartition)
	}
	b := &w.b
	p := w.cur
	// The row is cut from the batch's values: handed to another goroutine,
	// it stays untouched until the batch comes back written.
	vals := p.batch.vals
	b.row = vals[len(vals):len(vals):cap(vals)]
	b.col = 0
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
	b.optText(d.DecidedBy, d.DecidedBy != "")
	b.optText(d.HeldBy, d.HeldBy != "")
	b.text(l.ChargeType.String())
	b.optText(l.ResourceID, l.ResourceID != "")
	b.text(d.DiscountOwner)
	b.text(d.DiscountRule)
	b.optText(d.DiscountID, d.DiscountID != "")
	b.int64(int64(d.DiscountAmount))
	b.int64(int64(l.ListAmount - d.DiscountAmount))
	for i := 0; i < w.nExtra; i++ {
		var x billing.NullString
		if i < len(l.Extra) {
			x = l.Extra[i]
		}
		b.optText(x.S, x.Valid)
	}
	row := b.row[:len(b.row):len(b.row)]
	p.batch.vals = vals[:len(vals)+len(row)]
	p.batch.rows = append(p.batch.rows, row)
	p.rows++
	if len(p.batch.rows) == billBatch {
		p.ch <- p.batch
		p.batch = w.batch()
	}
	return nil
}

// batch returns an empty batch: one written before, or a new one.
func (w *Bills) batch() *billRowBatch {
	select {
	case bt := <-w.batches:
		bt.rows, bt.vals = bt.rows[:0], bt.vals[:0]
		return bt
	default:
		return &billRowBatch{rows: make([]parquet.Row, 0, billBatch), vals: make([]parquet.Value, 0, billBatch*w.nCols)}
	}
}

// giveBack returns a written batch to be filled again; one too many is
// left to the collector.
func (w *Bills) giveBack(bt *billRowBatch) {
	clear(bt.vals) // let go of the strings the values point to
	select {
	case w.batches <- bt:
	default:
	}
}

// startPart starts the goroutine of a new part file, once fewer than
// BillWriters are running.
func (w *Bills) startPart(rel string, newDir bool) {
	w.sem <- struct{}{}
	w.mu.Lock()
	idx := len(w.outputs)
	w.outputs = append(w.outputs, Output{})
	w.mu.Unlock()
	p := &billPart{batch: w.batch(), ch: make(chan *billRowBatch, 2)}
	w.cur = p
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.sem }()
		// A part of one batch (fewer than billBatch rows: most parts when
		// members pay for themselves) is known small before its file is
		// made: it is compressed with Snappy, which has no tables to build
		// for every page, a larger part with zstd.
		var first []*billRowBatch
		if bt, ok := <-p.ch; ok {
			first = append(first, bt)
			if bt, ok := <-p.ch; ok {
				first = append(first, bt)
			}
		}
		small := len(first) < 2
		f, err := w.file(rel, newDir, small)
		write := func(bt *billRowBatch) {
			if err == nil {
				_, err = f.w.WriteRows(bt.rows)
				if err != nil {
					err = fmt.Errorf("writing %s: %w", rel, unwrapPath(err))
				}
				f.rows += int64(len(bt.rows))
			}
			w.giveBack(bt)
		}
		for _, bt := range first {
			write(bt)
		}
		for bt := range p.ch {
			write(bt)
		}
		var out Output
		if err == nil {
			out, err = f.close()
			if err == nil {
				w.files[b2i(small)] <- f // at most BillWriters parts run: never blocks
			}
		} else if f != nil && f.f != nil {
			f.f.Close()
		}
		w.mu.Lock()
		w.outputs[idx] = out
		if err != nil && w.err == nil {
			w.err = err
			w.failed.Store(true)
		}
		w.mu.Unlock()
		if err == nil && w.written.Add(1) == 1 {
			Checkpoint("writing")
		}
	}()
}

// file opens a part file with a writer a finished part of the same size
// class left behind, or a new one.
func (w *Bills) file(rel string, newDir, small bool) (*parquetFile, error) {
	select {
	case f := <-w.files[b2i(small)]:
		if err := f.reuse(w.root, rel, newDir); err != nil {
			return nil, err
		}
		return f, nil
	default:
		f := &parquetFile{}
		if err := f.create(w.root, rel, newDir); err != nil {
			return nil, err
		}
		codec := compress.Codec(&zstdFastest)
		if small {
			codec = &snappyCodec
		}
		f.w = newParquetWriter(f, w.schema, codec)
		return f, nil
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// finishPart sends the current part its last rows and lets it close.
func (w *Bills) finishPart() {
	if p := w.cur; p != nil {
		if len(p.batch.rows) > 0 {
			p.ch <- p.batch
		} else {
			w.giveBack(p.batch)
		}
		close(p.ch)
		w.cur = nil
	}
}

func (w *Bills) firstError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close finishes the last file, waits for every part, and returns every
// file written, in the order the parts were started.
func (w *Bills) Close() ([]Output, error) {
	w.finishPart()
	w.wg.Wait()
	if err := w.firstError(); err != nil {
		return nil, err
	}
	return w.outputs, nil
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
	Discount   billing.Sum
	Effective  billing.Sum
	Coupon     billing.Sum
	Voucher    billing.Sum
	StoredVal  billing.Sum
	Due        billing.Sum
}

// SummaryColumns are the columns of the summary file.
var SummaryColumns = []string{"billing_cycle", "payer_account_id", "account_id", "product_code", "currency", "line_count", "list_amount",
	"discount_amount", "effective_amount", "coupon_amount", "voucher_amount", "stored_value_amount", "due_amount"}

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
		{"discount_amount", sumNode}, {"effective_amount", sumNode}, {"coupon_amount", sumNode},
		{"voucher_amount", sumNode}, {"stored_value_amount", sumNode}, {"due_amount", sumNode},
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
	for _, x := range []billing.Sum{r.ListAmount, r.Discount, r.Effective, r.Coupon, r.Voucher, r.StoredVal, r.Due} {
		b.fixed(x.Bytes16())
	}
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
