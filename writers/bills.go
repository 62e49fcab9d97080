package writers

import (
	"fmt"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/billcons/billcons/billing"
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
// the order they are to be stored. The caller's goroutine appends each line
// to the columns of its part's row group; up to BillWriters part files are
// compressed and written at once, each by its own goroutine, so that both
// cores work. Each file's bytes are what one writer alone would write.
type Bills struct {
	root   string
	cols   []flatColumn
	nExtra int
	cur    *billPart
	cycle  billing.Cycle
	payer  string
	part   int
	seen   map[string]bool

	sem     chan struct{}     // one token per part being written
	files   [2]chan *flatFile // closed files of large and small parts, to write the next parts with
	groups  chan *flatGroup   // row groups written, to fill again
	wg      sync.WaitGroup
	mu      sync.Mutex
	outputs []Output // by part, in the order parts were started
	err     error
	failed  atomic.Bool
	written atomic.Int32
}

// BillWriters is how many bills files are written at once.
const BillWriters = 2

// billSmall is the most rows of a part compressed with Snappy: zstd builds
// its entropy tables for every page, and a small file's pages are tiny.
// With many payers (1M lines in 9,452 files, issue 13) Snappy took
// write_bills from 2.5 s to 2.1 s for 6% more bytes.
const billSmall = 4096

// billPart is a part file being written by its goroutine.
type billPart struct {
	rows  int
	group *flatGroup
	ch    chan *flatGroup
}

// NewBills returns a writer of bills under root/bills with the given extra
// columns (all optional text).
func NewBills(root string, extras []string) *Bills {
	cols := []flatColumn{
		{"line_id", flatText, false}, {"account_id", flatText, false}, {"product_code", flatText, false},
		{"subscription_type", flatText, false}, {"usage_start", flatTimestamp, false}, {"usage_end", flatTimestamp, false},
		{"list_amount", flatAmount, false}, {"currency", flatText, false}, {"payment_status", flatText, false},
		{"issued_at", flatTimestamp, false}, {"settled_at", flatTimestamp, true}, {"decided_by", flatText, true}, {"held_by", flatText, true},
		{"charge_type", flatText, false}, {"resource_id", flatText, true}, {"discount_owner", flatText, false}, {"discount_rule", flatText, false},
		{"discount_id", flatText, true}, {"discount_amount", flatAmount, false}, {"effective_amount", flatAmount, false},
	}
	for _, x := range extras {
		cols = append(cols, flatColumn{x, flatText, true})
	}
	return &Bills{root: root, cols: cols, nExtra: len(extras),
		seen: map[string]bool{}, sem: make(chan struct{}, BillWriters),
		files: [2]chan *flatFile{make(chan *flatFile, BillWriters), make(chan *flatFile, BillWriters)}, groups: make(chan *flatGroup, 2*BillWriters+2)}
}

// PartitionDir returns the folder of a partition, relative to the tree.
func PartitionDir(cycle billing.Cycle, payer string) string {
	return path.Join("bills", "billing_cycle="+cycle.String(), "payer_account_id="+payer)
}

// Write appends one line to its partition. It keeps nothing of l or d:
// the caller may reuse their memory once it returns.
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
			w.cycle, w.payer, w.part = l.Cycle, strings.Clone(payer), 0
		}
		w.startPart(path.Join(PartitionDir(l.Cycle, payer), fmt.Sprintf("part-%05d.parquet", w.part)), !samePartition)
	}
	p := w.cur
	g := p.group
	c := g.cols[:len(w.cols)]
	c[0].text(l.LineID)
	c[1].text(l.AccountID)
	c[2].text(l.ProductCode)
	c[3].text(l.SubscriptionType.String())
	c[4].int64(int64(l.UsageStart))
	c[5].int64(int64(l.UsageEnd))
	c[6].int64(int64(l.ListAmount))
	c[7].text(l.Currency)
	c[8].text(l.PaymentStatus.String())
	c[9].int64(int64(l.IssuedAt))
	c[10].optInt64(int64(l.SettledAt), l.HasSettledAt)
	c[11].optText(d.DecidedBy, d.DecidedBy != "")
	c[12].optText(d.HeldBy, d.HeldBy != "")
	c[13].text(l.ChargeType.String())
	c[14].optText(l.ResourceID, l.ResourceID != "")
	c[15].text(d.DiscountOwner)
	c[16].text(d.DiscountRule)
	c[17].optText(d.DiscountID, d.DiscountID != "")
	c[18].int64(int64(d.DiscountAmount))
	c[19].int64(int64(l.ListAmount - d.DiscountAmount))
	for i := 0; i < w.nExtra; i++ {
		var x billing.NullString
		if i < len(l.Extra) {
			x = l.Extra[i]
		}
		c[20+i].optText(x.S, x.Valid)
	}
	g.rows++
	p.rows++
	if g.full() {
		p.ch <- g
		p.group = w.group()
	}
	return nil
}

// group returns an empty row group: one written before, or a new one.
func (w *Bills) group() *flatGroup {
	select {
	case g := <-w.groups:
		g.reset()
		return g
	default:
		return newFlatGroup(len(w.cols))
	}
}

// giveBack returns a written row group to be filled again; one too many is
// left to the collector.
func (w *Bills) giveBack(g *flatGroup) {
	select {
	case w.groups <- g:
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
	p := &billPart{group: w.group(), ch: make(chan *flatGroup, 1)}
	w.cur = p
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.sem }()
		// A group is sent before the part ends only once full, so a first
		// group of at most billSmall rows is the whole part: a small part,
		// known small before its file is made.
		first := <-p.ch
		small := first.rows <= billSmall
		f, err := w.file(rel, newDir, small)
		write := func(g *flatGroup) {
			if err == nil {
				err = f.writeGroup(g)
			}
			w.giveBack(g)
		}
		write(first)
		for g := range p.ch {
			write(g)
		}
		var out Output
		if err == nil {
			out, err = f.close()
			if err == nil {
				w.files[b2i(small)] <- f // at most BillWriters parts run: never blocks
			}
		} else if f != nil {
			f.abort()
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

// file opens a part file with the buffers a finished part of the same size
// class left behind, or new ones.
func (w *Bills) file(rel string, newDir, small bool) (*flatFile, error) {
	var f *flatFile
	select {
	case f = <-w.files[b2i(small)]:
	default:
		codec := compress.Codec(&zstdFastest)
		if small {
			codec = &snappyCodec
		}
		f = newFlatFile("bill", w.cols, codec)
	}
	if err := f.open(w.root, rel, newDir); err != nil {
		return nil, err
	}
	return f, nil
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
		if p.group.rows > 0 || p.rows == 0 {
			p.ch <- p.group
		} else {
			w.giveBack(p.group)
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
	f *flatWriter
}

// NewSummary creates the summary file under root.
func NewSummary(root string) (*Summary, error) {
	f, err := createFlat(root, "summary/summary.parquet", "summary", []flatColumn{
		{"billing_cycle", flatText, false}, {"payer_account_id", flatText, false}, {"account_id", flatText, false},
		{"product_code", flatText, false}, {"currency", flatText, false}, {"line_count", flatCount, false}, {"list_amount", flatSum, false},
		{"discount_amount", flatSum, false}, {"effective_amount", flatSum, false}, {"coupon_amount", flatSum, false},
		{"voucher_amount", flatSum, false}, {"stored_value_amount", flatSum, false}, {"due_amount", flatSum, false},
	})
	if err != nil {
		return nil, err
	}
	return &Summary{f: f}, nil
}

// Write appends one row.
func (s *Summary) Write(r *SummaryRow) error {
	f := s.f
	f.text(r.Cycle.String())
	f.text(r.Payer)
	f.text(r.AccountID)
	f.text(r.Product)
	f.text(r.Currency)
	f.int64(r.LineCount)
	for _, x := range []billing.Sum{r.ListAmount, r.Discount, r.Effective, r.Coupon, r.Voucher, r.StoredVal, r.Due} {
		f.sum(x)
	}
	return f.endRow()
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
	f *flatWriter
}

// NewRejects creates DIR/rejects/NAME.parquet under root.
func NewRejects(root, name string) (*Rejects, error) {
	f, err := createFlat(root, "rejects/"+name+".parquet", "reject", []flatColumn{
		{"source_file", flatText, false}, {"source_row", flatCount, false}, {"reason_code", flatText, false},
		{"reason", flatText, false}, {"record", flatJSON, false},
	})
	if err != nil {
		return nil, err
	}
	return &Rejects{f: f}, nil
}

// Write appends one reject.
func (r *Rejects) Write(x *Reject) error {
	f := r.f
	f.text(x.SourceFile)
	f.int64(x.SourceRow)
	f.text(x.Code)
	f.text(x.Reason)
	f.text(x.Record)
	return f.endRow()
}

// Close writes the footer.
func (r *Rejects) Close() (Output, error) { return r.f.close() }
