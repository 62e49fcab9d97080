package verify

import (
	"path/filepath"
	"strings"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/writers"
)

// indexCheck is verify's check of index/payers.parquet: that the index
// names every run of a payer's rows in each bills file (one in a file the
// run wrote; one per merged file in a file a sharded run's commit merged),
// where it starts, how many rows it has, and what its lines sum to per
// currency, and nothing else: its slices cover every row once. A run ends
// where the payer changes or where the index says the next one starts.
// It keeps one entry per run and currency.
type indexCheck struct {
	file   int   // the file being scanned, -1 before the first
	row    int64 // the next row's number in it
	payer  string
	start  int64 // the current run's first row
	slices map[sliceKey]*sliceFacts
	run    []*sliceFacts // the current run's currencies
	// starts are the rows where the index says a run begins, by file: a
	// merged file's runs may meet with no change of payer between them.
	starts map[[2]int64]bool
	// index is the index as load read it, for check: read once.
	index []writers.IndexRow
	at    map[string]int // a bills file's place in the scan
}

// sliceKey is one run of a payer's rows in a file, in one currency.
type sliceKey struct {
	file            int
	payer, currency string
	first           int64 // the run's first row, whatever its currency
}

type sliceFacts struct {
	rows                      int64 // the run's rows, every currency
	lines                     int64 // in this currency
	list, discount, effective billing.Sum
	listed                    bool // an index row names it
}

func newIndexCheck() *indexCheck {
	return &indexCheck{file: -1, slices: map[sliceKey]*sliceFacts{}, starts: map[[2]int64]bool{}}
}

// load reads the index of the tree at dir, whose bills files are files,
// before the scan: where it says runs begin, and its rows for check.
func (c *indexCheck) load(dir string, files []string) error {
	c.at = map[string]int{}
	for i, f := range files {
		c.at[f] = i
	}
	return writers.ReadIndex(filepath.Join(dir, filepath.FromSlash(writers.IndexPath)), func(x *writers.IndexRow) error {
		if i, ok := c.at[x.File]; ok {
			c.starts[[2]int64{int64(i), x.FirstRow}] = true
		}
		c.index = append(c.index, *x)
		return nil
	})
}

// add counts one bill, in the order of the scan.
func (c *indexCheck) add(b *billFacts) {
	if b.file != c.file {
		c.file, c.row, c.payer = b.file, 0, ""
	}
	if b.payer != c.payer || c.row == 0 || c.starts[[2]int64{int64(b.file), c.row}] {
		c.payer, c.start = strings.Clone(b.payer), c.row
		c.run = c.run[:0]
	}
	k := sliceKey{b.file, c.payer, b.currency, c.start}
	s := c.slices[k]
	if s == nil {
		k.currency = strings.Clone(b.currency)
		s = &sliceFacts{}
		c.slices[k] = s
		c.run = append(c.run, s)
	}
	s.lines++
	s.list.Add(b.amount)
	s.discount.Add(b.discount)
	s.effective.Add(b.effective)
	c.row++
	for _, x := range c.run { // every currency of the run ends here so far
		x.rows = c.row - c.start
	}
}

// check holds the index load read against what add counted; files are
// the bills files, as given to load.
func (c *indexCheck) check(files []string, bad func(string, ...any)) {
	for k := range c.index {
		x := &c.index[k]
		i, ok := c.at[x.File]
		if !ok {
			bad("%s: names %s, which is not a bills file of the tree", writers.IndexPath, x.File)
			continue
		}
		s := c.slices[sliceKey{i, x.Payer, x.Currency, x.FirstRow}]
		switch {
		case s == nil:
			bad("%s: names %s's %s rows from row %d of %s, where no run of them starts", writers.IndexPath, x.Payer, x.Currency, x.FirstRow, x.File)
		case s.listed:
			bad("%s: names %s's %s rows from row %d of %s twice", writers.IndexPath, x.Payer, x.Currency, x.FirstRow, x.File)
		default:
			s.listed = true
			if x.Rows != s.rows || x.LineCount != s.lines || x.ListAmount != s.list || x.Discount != s.discount || x.Effective != s.effective {
				bad("%s: %s %s in %s from row %d: %d rows, %d lines, list %s, discount %s, effective %s; the file holds %d rows, %d lines, %s, %s, %s",
					writers.IndexPath, x.Payer, x.Currency, x.File, x.FirstRow, x.Rows, x.LineCount, x.ListAmount, x.Discount, x.Effective,
					s.rows, s.lines, s.list, s.discount, s.effective)
			}
		}
	}
	for k, s := range c.slices {
		if !s.listed {
			bad("%s: does not name %s's %s rows from row %d of %s", writers.IndexPath, k.payer, k.currency, k.first, files[k.file])
		}
	}
}
