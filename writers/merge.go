package writers

import (
	"cmp"
	"container/heap"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/billcons/billcons/billing"
	"github.com/parquet-go/parquet-go"
)

// MergeBills merges bills files of one cycle, each sorted as [Bills]
// writes them (a sharded run's shards write such files over the same
// payers), into root as one cycle's files of [Bills], sorted across all of
// them, with root's index/payers.parquet. files are local paths; extras
// are the run's extra columns. It returns the files written (the index
// last), as [Bills.Close] does.
func MergeBills(root string, cycle billing.Cycle, extras []string, files []string) ([]Output, error) {
	w, err := NewBills(root, extras)
	if err != nil {
		return nil, err
	}
	var cursors mergeHeap
	defer func() {
		for _, c := range cursors {
			c.close()
		}
	}()
	for _, p := range files {
		c, err := openBillCursor(p, cycle, extras)
		if err != nil {
			w.Close()
			return nil, err
		}
		ok, err := c.next()
		if err != nil {
			c.close()
			w.Close()
			return nil, err
		}
		if ok {
			cursors = append(cursors, c)
		} else {
			c.close()
		}
	}
	heap.Init(&cursors)
	for len(cursors) > 0 {
		c := cursors[0]
		if err := w.Write(&c.line, &c.decided); err != nil {
			w.Close()
			return nil, err
		}
		ok, err := c.next()
		if err != nil {
			w.Close()
			return nil, err
		}
		if ok {
			heap.Fix(&cursors, 0)
		} else {
			heap.Pop(&cursors)
			c.close()
		}
	}
	return w.Close()
}

// billCursor reads a bills file row by row into a line and its decision.
type billCursor struct {
	path    string
	f       *os.File
	groups  []parquet.RowGroup
	rows    parquet.Rows
	buf     []parquet.Row
	at, n   int
	col     map[string]int
	extras  []int
	cycle   billing.Cycle
	line    billing.UsageLine
	decided Decided
}

func openBillCursor(p string, cycle billing.Cycle, extras []string) (*billCursor, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	c := &billCursor{path: p, f: f, groups: pf.RowGroups(), buf: make([]parquet.Row, 256), col: map[string]int{}, cycle: cycle}
	for i, fld := range pf.Schema().Fields() {
		c.col[fld.Name()] = i
	}
	for _, name := range BillColumns {
		if _, ok := c.col[name]; !ok {
			f.Close()
			return nil, fmt.Errorf("%s: no column %s", p, name)
		}
	}
	for _, x := range extras {
		i, ok := c.col[x]
		if !ok {
			i = -1 // a column the file lacks is null
		}
		c.extras = append(c.extras, i)
	}
	return c, nil
}

func (c *billCursor) close() {
	if c.rows != nil {
		c.rows.Close()
		c.rows = nil
	}
	c.f.Close()
}

// next reads the next row into c.line and c.decided.
func (c *billCursor) next() (bool, error) {
	for c.at == c.n {
		if c.rows == nil {
			if len(c.groups) == 0 {
				return false, nil
			}
			c.rows = c.groups[0].Rows()
			c.groups = c.groups[1:]
		}
		n, err := c.rows.ReadRows(c.buf)
		c.at, c.n = 0, n
		if err == io.EOF {
			c.rows.Close()
			c.rows = nil
		} else if err != nil {
			return false, fmt.Errorf("%s: %w", c.path, err)
		}
	}
	row := c.buf[c.at]
	c.at++
	v := func(name string) parquet.Value { return row[c.col[name]] }
	text := func(name string) string { return string(v(name).ByteArray()) }
	opt := func(name string) string {
		if x := v(name); !x.IsNull() {
			return string(x.ByteArray())
		}
		return ""
	}
	l := &c.line
	var err error
	*l = billing.UsageLine{Cycle: c.cycle, LineID: text("line_id"), AccountID: text("account_id"), ProductCode: text("product_code"),
		UsageStart: billing.Time(v("usage_start").Int64()), UsageEnd: billing.Time(v("usage_end").Int64()),
		ListAmount: billing.Amount(v("list_amount").Int64()), Currency: text("currency"), IssuedAt: billing.Time(v("issued_at").Int64()),
		ResourceID: opt("resource_id"), Extra: l.Extra[:0]}
	if x := v("settled_at"); !x.IsNull() {
		l.SettledAt, l.HasSettledAt = billing.Time(x.Int64()), true
	}
	var errs [3]error
	l.SubscriptionType, errs[0] = billing.ParseSubscriptionType(text("subscription_type"))
	l.PaymentStatus, errs[1] = billing.ParsePaymentStatus(text("payment_status"))
	l.ChargeType, errs[2] = billing.ParseChargeType(text("charge_type"))
	if err = cmp.Or(errs[0], errs[1], errs[2]); err != nil {
		return false, fmt.Errorf("%s: line %s: %w", c.path, l.LineID, err)
	}
	for _, i := range c.extras {
		if i < 0 || row[i].IsNull() {
			l.Extra = append(l.Extra, billing.NullString{})
		} else {
			l.Extra = append(l.Extra, billing.NullString{S: string(row[i].ByteArray()), Valid: true})
		}
	}
	c.decided = Decided{Payer: text("payer_account_id"), DecidedBy: opt("decided_by"), HeldBy: opt("held_by"),
		DiscountOwner: text("discount_owner"), DiscountRule: text("discount_rule"), DiscountID: opt("discount_id"),
		DiscountAmount: billing.Amount(v("discount_amount").Int64())}
	return true, nil
}

// billOrder is the order of the bills within a cycle: payer, member,
// product, usage end, line_id, then currency.
func billOrder(a, b *billCursor) int {
	return cmp.Or(strings.Compare(a.decided.Payer, b.decided.Payer), strings.Compare(a.line.AccountID, b.line.AccountID),
		strings.Compare(a.line.ProductCode, b.line.ProductCode), cmp.Compare(a.line.UsageEnd, b.line.UsageEnd),
		strings.Compare(a.line.LineID, b.line.LineID), strings.Compare(a.line.Currency, b.line.Currency))
}

type mergeHeap []*billCursor

func (h mergeHeap) Len() int           { return len(h) }
func (h mergeHeap) Less(i, j int) bool { return billOrder(h[i], h[j]) < 0 }
func (h mergeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)        { *h = append(*h, x.(*billCursor)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// SmallBillFile is the size under which a sharded run's commit merges a
// cycle's bills files, MergedBillBytes about the most one merge writes, and
// MergedBillFiles the most files one merge reads at once (each open file
// holds a row group's pages).
const (
	SmallBillFile   = 64 << 20
	MergedBillBytes = 512 << 20
	MergedBillFiles = 32
)

// MergeGroups picks which bills files of a sharded run to merge: per
// cycle, the files under SmallBillFile, in path order, in groups of at most
// MergedBillBytes and MergedBillFiles; a group of one file is left as it is. files are paths
// relative to the tree, with their sizes.
func MergeGroups(files []Output) [][]Output {
	byCycle := map[string][]Output{}
	var cycles []string
	for _, o := range files {
		if o.Bytes >= SmallBillFile {
			continue
		}
		dir := path.Dir(o.Path)
		if byCycle[dir] == nil {
			cycles = append(cycles, dir)
		}
		byCycle[dir] = append(byCycle[dir], o)
	}
	slices.Sort(cycles)
	var groups [][]Output
	for _, dir := range cycles {
		small := byCycle[dir]
		slices.SortFunc(small, func(a, b Output) int { return strings.Compare(a.Path, b.Path) })
		var g []Output
		var size int64
		for _, o := range small {
			if len(g) > 0 && (size+o.Bytes > MergedBillBytes || len(g) == MergedBillFiles) {
				if len(g) > 1 {
					groups = append(groups, g)
				}
				g, size = nil, 0
			}
			g = append(g, o)
			size += o.Bytes
		}
		if len(g) > 1 {
			groups = append(groups, g)
		}
	}
	return groups
}
