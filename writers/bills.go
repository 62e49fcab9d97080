package writers

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/storage"
)

// BillColumns are the columns of every bills file, before the extra columns.
// billing_cycle is not stored in the files: it is the hive partition
// folder, as DuckDB's own partitioned COPY writes it.
var BillColumns = []string{
	"payer_account_id", "line_id", "account_id", "product_code", "subscription_type",
	"usage_start", "usage_end", "list_amount", "currency", "payment_status",
	"issued_at", "settled_at", "decided_by", "held_by",
	"charge_type", "resource_id", "discount_owner", "discount_rule", "discount_id", "discount_amount", "effective_amount",
	"invoice_id", "charge_class", "correction_reason", "corrects_cycle", "correction_sign",
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

	// Set once a cycle is closed or on a correction row ("" for null):
	// the invoice the row is on, and for a correction row its class
	// ("correction"), its reason and the cycle of the line it corrects.
	InvoiceID        string
	ChargeClass      string
	CorrectionReason string
	CorrectsCycle    string
	// CorrectionSign is -1 on a correction row that reverses what was
	// invoiced, +1 on one that charges the line as it is now, 0 (null)
	// on other rows.
	CorrectionSign int8
}

// MaxRowsPerFile is the most rows one bills part file holds: a cycle with
// more gets part-00001 and on. At about 30 bytes a row compressed, a full
// file is some 120 MB: large enough that a query opens few files, small
// enough that a cycle spreads over several for readers to share out.
const MaxRowsPerFile = 1 << 22

// maxRowsPerFile is MaxRowsPerFile, lowered by tests to cut files small.
var maxRowsPerFile = MaxRowsPerFile

// Bills writes bills partitioned by billing cycle, and the payers' index.
// Lines must arrive grouped by cycle, and within it in the order they are
// stored: payer, member, product, usage end, line_id. The caller's
// goroutine appends each line to the columns of its part's row group; up to
// BillWriters part files are compressed and written at once, each by its
// own goroutine. Each file's bytes are what one writer alone would write.
type Bills struct {
	root   string
	cols   []parquetio.Column
	nExtra int
	cur    *billPart
	cycle  billing.Cycle
	part   int
	seen   map[billing.Cycle]bool
	index  *parquetio.Writer
	slice  payerSlice // the current payer's rows in the current part
	// oneFile keeps a cycle in one file however many rows it has: a
	// closed cycle's file rewritten as it was.
	oneFile bool

	sem     chan struct{}           // one token per part being written
	files   [2]chan *parquetio.File // closed files of large and small parts, to write the next parts with
	groups  chan *parquetio.Group   // row groups written, to fill again
	wg      sync.WaitGroup
	mu      sync.Mutex
	outputs []Output // by part, in the order parts were started
	err     error
	failed  atomic.Bool
	written atomic.Int32
}

// BillWriters is how many bills files are written at once unless
// SetWriters says otherwise.
const BillWriters = 2

// billSmall is the most rows of a part compressed with Snappy: zstd builds
// its entropy tables for every page, and a small file's pages are tiny.
const billSmall = 4096

// billPart is a part file being written by its goroutine.
type billPart struct {
	rel   string
	rows  int
	group *parquetio.Group
	ch    chan *parquetio.Group
}

// NewBills returns a writer of bills under root/bills with the given extra
// columns (all optional text), and of root/index/payers.parquet.
func NewBills(root string, extras []string) (*Bills, error) {
	cols := []parquetio.Column{
		{Name: "payer_account_id", Kind: parquetio.Text},
		{Name: "line_id", Kind: parquetio.Text}, {Name: "account_id", Kind: parquetio.Text}, {Name: "product_code", Kind: parquetio.Text},
		{Name: "subscription_type", Kind: parquetio.Text}, {Name: "usage_start", Kind: parquetio.Timestamp}, {Name: "usage_end", Kind: parquetio.Timestamp},
		{Name: "list_amount", Kind: parquetio.Amount}, {Name: "currency", Kind: parquetio.Text}, {Name: "payment_status", Kind: parquetio.Text},
		{Name: "issued_at", Kind: parquetio.Timestamp}, {Name: "settled_at", Kind: parquetio.Timestamp, Optional: true}, {Name: "decided_by", Kind: parquetio.Text, Optional: true}, {Name: "held_by", Kind: parquetio.Text, Optional: true},
		{Name: "charge_type", Kind: parquetio.Text}, {Name: "resource_id", Kind: parquetio.Text, Optional: true}, {Name: "discount_owner", Kind: parquetio.Text}, {Name: "discount_rule", Kind: parquetio.Text},
		{Name: "discount_id", Kind: parquetio.Text, Optional: true}, {Name: "discount_amount", Kind: parquetio.Amount}, {Name: "effective_amount", Kind: parquetio.Amount},
		{Name: "invoice_id", Kind: parquetio.Text, Optional: true}, {Name: "charge_class", Kind: parquetio.Text, Optional: true}, {Name: "correction_reason", Kind: parquetio.Text, Optional: true}, {Name: "corrects_cycle", Kind: parquetio.Text, Optional: true},
		{Name: "correction_sign", Kind: parquetio.Count, Optional: true},
	}
	for _, x := range extras {
		cols = append(cols, parquetio.Column{Name: x, Kind: parquetio.Text, Optional: true})
	}
	index, err := NewIndex(root)
	if err != nil {
		return nil, err
	}
	w := &Bills{root: root, cols: cols, nExtra: len(extras), index: index.f,
		seen: map[billing.Cycle]bool{}}
	w.SetWriters(BillWriters)
	return w, nil
}

// SetWriters sets how many bills files are written at once, before the
// first Write. The files' bytes do not depend on it.
func (w *Bills) SetWriters(n int) {
	n = max(n, 1)
	w.sem = make(chan struct{}, n)
	w.files = [2]chan *parquetio.File{make(chan *parquetio.File, n), make(chan *parquetio.File, n)}
	w.groups = make(chan *parquetio.Group, 2*n+2)
}

// Carry writes index rows of bills files the writer did not write (a
// closed cycle's, kept as they are) before the first Write.
func (w *Bills) Carry(rows []IndexRow) error {
	for i := range rows {
		if err := writeIndexRow(w.index, &rows[i]); err != nil {
			return err
		}
	}
	return nil
}

// CycleDir returns the folder of a cycle's bills, relative to the tree.
func CycleDir(cycle billing.Cycle) string {
	return path.Join("bills", "billing_cycle="+cycle.String())
}

// Write appends one line to its cycle's part. It keeps nothing of l or d:
// the caller may reuse their memory once it returns.
func (w *Bills) Write(l *billing.UsageLine, d *Decided) error {
	payer := d.Payer
	if w.failed.Load() {
		return w.firstError()
	}
	if w.cur == nil || l.Cycle != w.cycle || (w.cur.rows >= maxRowsPerFile && !w.oneFile) {
		if err := w.endSlice(); err != nil {
			return err
		}
		sameCycle := w.cur != nil && l.Cycle == w.cycle
		w.finishPart()
		if sameCycle {
			w.part++
		} else {
			if w.seen[l.Cycle] {
				return fmt.Errorf("bills for %s arrived out of order", CycleDir(l.Cycle))
			}
			w.seen[l.Cycle] = true
			w.cycle, w.part = l.Cycle, 0
		}
		w.startPart(path.Join(CycleDir(l.Cycle), fmt.Sprintf("part-%05d.parquet", w.part)), !sameCycle)
	}
	p := w.cur
	if w.slice.rows == 0 || payer != w.slice.payer {
		if err := w.endSlice(); err != nil {
			return err
		}
		w.slice.begin(payer, p.rows)
	}
	w.slice.add(l, d)
	g := p.group
	c := g.Cols[:len(w.cols)]
	c[0].Text(payer)
	c[1].Text(l.LineID)
	c[2].Text(l.AccountID)
	c[3].Text(l.ProductCode)
	c[4].Text(l.SubscriptionType.String())
	c[5].Int64(int64(l.UsageStart))
	c[6].Int64(int64(l.UsageEnd))
	c[7].Int64(int64(l.ListAmount))
	c[8].Text(l.Currency)
	c[9].Text(l.PaymentStatus.String())
	c[10].Int64(int64(l.IssuedAt))
	c[11].OptInt64(int64(l.SettledAt), l.HasSettledAt)
	c[12].OptText(d.DecidedBy, d.DecidedBy != "")
	c[13].OptText(d.HeldBy, d.HeldBy != "")
	c[14].Text(l.ChargeType.String())
	c[15].OptText(l.ResourceID, l.ResourceID != "")
	c[16].Text(d.DiscountOwner)
	c[17].Text(d.DiscountRule)
	c[18].OptText(d.DiscountID, d.DiscountID != "")
	c[19].Int64(int64(d.DiscountAmount))
	c[20].Int64(int64(l.ListAmount - d.DiscountAmount))
	c[21].OptText(d.InvoiceID, d.InvoiceID != "")
	c[22].OptText(d.ChargeClass, d.ChargeClass != "")
	c[23].OptText(d.CorrectionReason, d.CorrectionReason != "")
	c[24].OptText(d.CorrectsCycle, d.CorrectsCycle != "")
	c[25].OptInt64(int64(d.CorrectionSign), d.CorrectionSign != 0)
	for i := 0; i < w.nExtra; i++ {
		var x billing.NullString
		if i < len(l.Extra) {
			x = l.Extra[i]
		}
		c[26+i].OptText(x.S, x.Valid)
	}
	g.Rows++
	p.rows++
	if g.Full() {
		p.ch <- g
		p.group = w.group()
	}
	return nil
}

// endSlice writes the index rows of the current payer's slice of the
// current part, if it has rows.
func (w *Bills) endSlice() error {
	s := &w.slice
	if s.rows == 0 {
		return nil
	}
	slices.SortFunc(s.currencies, func(a, b sliceCurrency) int { return strings.Compare(a.currency, b.currency) })
	for i := range s.currencies {
		c := &s.currencies[i]
		if err := writeIndexRow(w.index, &IndexRow{Cycle: w.cycle, Payer: s.payer, Currency: c.currency, File: w.cur.rel,
			FirstRow: int64(s.first), Rows: int64(s.rows), LineCount: c.lines, ListAmount: c.list, Discount: c.discount, Effective: c.effective}); err != nil {
			return err
		}
	}
	s.rows = 0
	return nil
}

// payerSlice sums one payer's rows in one part, per currency.
type payerSlice struct {
	payer       string
	first, rows int
	currencies  []sliceCurrency
}

type sliceCurrency struct {
	currency                  string
	lines                     int64
	list, discount, effective billing.Sum
}

func (s *payerSlice) begin(payer string, first int) {
	s.payer, s.first, s.rows = strings.Clone(payer), first, 0
	s.currencies = s.currencies[:0]
}

func (s *payerSlice) add(l *billing.UsageLine, d *Decided) {
	s.rows++
	var c *sliceCurrency
	for i := range s.currencies {
		if s.currencies[i].currency == l.Currency {
			c = &s.currencies[i]
			break
		}
	}
	if c == nil {
		s.currencies = append(s.currencies, sliceCurrency{currency: strings.Clone(l.Currency)})
		c = &s.currencies[len(s.currencies)-1]
	}
	c.lines++
	c.list.Add(l.ListAmount)
	c.discount.Add(d.DiscountAmount)
	c.effective.Add(l.ListAmount - d.DiscountAmount)
}

// group returns an empty row group: one written before, or a new one.
func (w *Bills) group() *parquetio.Group {
	select {
	case g := <-w.groups:
		g.Reset()
		return g
	default:
		return parquetio.NewGroup(len(w.cols))
	}
}

// giveBack returns a written row group to be filled again; one too many is
// left to the collector.
func (w *Bills) giveBack(g *parquetio.Group) {
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
	p := &billPart{rel: rel, group: w.group(), ch: make(chan *parquetio.Group, 1)}
	w.cur = p
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.sem }()
		// A group is sent before the part ends only once full, so a first
		// group of at most billSmall rows is the whole part: a small part,
		// known small before its file is made.
		first := <-p.ch
		small := first.Rows <= billSmall
		f, err := w.file(rel, newDir, small)
		write := func(g *parquetio.Group) {
			if err == nil {
				err = f.WriteGroup(g)
			}
			w.giveBack(g)
		}
		write(first)
		for g := range p.ch {
			write(g)
		}
		var out Output
		if err == nil {
			out, err = output(f.Close())
			if err == nil {
				w.files[b2i(small)] <- f // at most as many parts run as the channel holds: never blocks
			}
		} else if f != nil {
			f.Abort()
		}
		w.mu.Lock()
		w.outputs[idx] = out
		if err != nil && w.err == nil {
			w.err = err
			w.failed.Store(true)
		}
		w.mu.Unlock()
		if err == nil && w.written.Add(1) == 1 {
			storage.Checkpoint("writing")
		}
	}()
}

// file opens a part file with the buffers a finished part of the same size
// class left behind, or new ones.
func (w *Bills) file(rel string, newDir, small bool) (*parquetio.File, error) {
	var f *parquetio.File
	select {
	case f = <-w.files[b2i(small)]:
	default:
		codec := parquetio.Zstd
		if small {
			codec = parquetio.Snappy
		}
		f = parquetio.NewFile("bill", w.cols, codec, createdBy)
	}
	if err := f.Open(w.root, rel, newDir); err != nil {
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
		if p.group.Rows > 0 || p.rows == 0 {
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
// file written, in the order the parts were started, then the index.
func (w *Bills) Close() ([]Output, error) {
	serr := w.endSlice()
	w.finishPart()
	w.wg.Wait()
	if err := w.firstError(); err != nil {
		w.index.Abort()
		return nil, err
	}
	if serr != nil {
		w.index.Abort()
		return nil, serr
	}
	idx, err := output(w.index.Close())
	if err != nil {
		return nil, err
	}
	return append(w.outputs, idx), nil
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
	// Correction is how much of Effective comes from correction rows;
	// InvoiceID is set once the cycle is closed.
	Correction billing.Sum
	InvoiceID  string
}

// SummaryColumns are the columns of the summary file.
var SummaryColumns = []string{"billing_cycle", "payer_account_id", "account_id", "product_code", "currency", "line_count", "list_amount",
	"discount_amount", "effective_amount", "coupon_amount", "voucher_amount", "stored_value_amount", "due_amount",
	"correction_amount", "invoice_id"}

// Summary writes DIR/summary/summary.parquet.
type Summary struct {
	f *parquetio.Writer
}

// NewSummary creates the summary file under root.
func NewSummary(root string) (*Summary, error) {
	f, err := createFlat(root, PathOf("summary"), "summary", []parquetio.Column{
		{Name: "billing_cycle", Kind: parquetio.Text}, {Name: "payer_account_id", Kind: parquetio.Text}, {Name: "account_id", Kind: parquetio.Text},
		{Name: "product_code", Kind: parquetio.Text}, {Name: "currency", Kind: parquetio.Text}, {Name: "line_count", Kind: parquetio.Count}, {Name: "list_amount", Kind: parquetio.Sum},
		{Name: "discount_amount", Kind: parquetio.Sum}, {Name: "effective_amount", Kind: parquetio.Sum}, {Name: "coupon_amount", Kind: parquetio.Sum},
		{Name: "voucher_amount", Kind: parquetio.Sum}, {Name: "stored_value_amount", Kind: parquetio.Sum}, {Name: "due_amount", Kind: parquetio.Sum},
		{Name: "correction_amount", Kind: parquetio.Sum}, {Name: "invoice_id", Kind: parquetio.Text, Optional: true},
	})
	if err != nil {
		return nil, err
	}
	return &Summary{f: f}, nil
}

// Write appends one row.
func (s *Summary) Write(r *SummaryRow) error {
	f := s.f
	f.Text(r.Cycle.String())
	f.Text(r.Payer)
	f.Text(r.AccountID)
	f.Text(r.Product)
	f.Text(r.Currency)
	f.Int64(r.LineCount)
	for _, x := range []billing.Sum{r.ListAmount, r.Discount, r.Effective, r.Coupon, r.Voucher, r.StoredVal, r.Due, r.Correction} {
		f.Sum(x)
	}
	f.OptText(r.InvoiceID, r.InvoiceID != "")
	return f.EndRow()
}

// Close writes the footer.
func (s *Summary) Close() (Output, error) { return output(s.f.Close()) }

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
	f *parquetio.Writer
}

// NewRejects creates DIR/rejects/NAME.parquet under root.
func NewRejects(root, name string) (*Rejects, error) {
	f, err := createFlat(root, PathOf("rejects_"+name), "reject", []parquetio.Column{
		{Name: "source_file", Kind: parquetio.Text}, {Name: "source_row", Kind: parquetio.Count}, {Name: "reason_code", Kind: parquetio.Text},
		{Name: "reason", Kind: parquetio.Text}, {Name: "record", Kind: parquetio.JSON},
	})
	if err != nil {
		return nil, err
	}
	return &Rejects{f: f}, nil
}

// Write appends one reject.
func (r *Rejects) Write(x *Reject) error {
	f := r.f
	f.Text(x.SourceFile)
	f.Int64(x.SourceRow)
	f.Text(x.Code)
	f.Text(x.Reason)
	f.Text(x.Record)
	return f.EndRow()
}

// Close writes the footer.
func (r *Rejects) Close() (Output, error) { return output(r.f.Close()) }
