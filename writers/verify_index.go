package writers

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/billcons/billcons/billing"
)

// indexCheck is verify's check of index/payers.parquet: that each payer's
// rows in each bills file are one run of rows, and that the index names
// every such run, where it starts, how many rows it has, and what its lines
// sum to per currency. It keeps one entry per run and currency.
type indexCheck struct {
	file   int   // the file being scanned, -1 before the first
	row    int64 // the next row's number in it
	payer  string
	slices map[sliceKey]*sliceFacts
	runs   map[sliceKey]bool // (file, payer) runs seen, currency ""
	apart  []string          // payers whose rows in a file are not one run
	run    []*sliceFacts     // the current run's currencies
}

type sliceKey struct {
	file            int
	payer, currency string
}

type sliceFacts struct {
	first, rows               int64 // the payer's run in the file
	lines                     int64 // in this currency
	list, discount, effective billing.Sum
	listed                    bool // an index row names it
}

func newIndexCheck() *indexCheck {
	return &indexCheck{file: -1, slices: map[sliceKey]*sliceFacts{}, runs: map[sliceKey]bool{}}
}

// add counts one bill, in the order of the scan.
func (c *indexCheck) add(b *billFacts) {
	if b.file != c.file {
		c.file, c.row, c.payer = b.file, 0, ""
	}
	if b.payer != c.payer || c.row == 0 {
		c.payer = strings.Clone(b.payer)
		run := sliceKey{file: b.file, payer: c.payer}
		if c.runs[run] {
			c.apart = append(c.apart, fmt.Sprintf("%d:%s", b.file, c.payer))
		}
		c.runs[run] = true
		c.run = c.run[:0]
	}
	k := sliceKey{b.file, c.payer, b.currency}
	s := c.slices[k]
	if s == nil {
		k.currency = strings.Clone(b.currency)
		s = &sliceFacts{first: c.row}
		c.slices[k] = s
		c.run = append(c.run, s)
	}
	s.lines++
	s.list.Add(b.amount)
	s.discount.Add(b.discount)
	s.effective.Add(b.effective)
	c.row++
	for _, x := range c.run { // every currency of the run ends here so far
		x.rows = c.row - x.first
	}
}

// check reads the index of the tree at dir, whose bills files are files,
// against what add counted.
func (c *indexCheck) check(dir string, files []string, bad func(string, ...any)) error {
	for _, a := range c.apart {
		bad("bills: a payer's rows in a file are not one run (%s): the index cannot name them", a)
	}
	at := map[string]int{}
	for i, f := range files {
		at[f] = i
	}
	// A run's first row may be another currency's: the run starts at the
	// least first row of its currencies.
	start := map[sliceKey]int64{}
	for k, s := range c.slices {
		r := sliceKey{file: k.file, payer: k.payer}
		if v, ok := start[r]; !ok || s.first < v {
			start[r] = s.first
		}
	}
	err := ReadIndex(filepath.Join(dir, filepath.FromSlash(IndexPath)), func(x *IndexRow) error {
		i, ok := at[x.File]
		if !ok {
			bad("%s: names %s, which is not a bills file of the tree", IndexPath, x.File)
			return nil
		}
		s := c.slices[sliceKey{i, x.Payer, x.Currency}]
		switch {
		case s == nil:
			bad("%s: names %s's %s rows in %s, which holds none", IndexPath, x.Payer, x.Currency, x.File)
		case s.listed:
			bad("%s: names %s's %s rows in %s twice", IndexPath, x.Payer, x.Currency, x.File)
		default:
			s.listed = true
			first := start[sliceKey{file: i, payer: x.Payer}]
			if x.FirstRow != first || x.Rows != s.first+s.rows-first || x.LineCount != s.lines ||
				x.ListAmount != s.list || x.Discount != s.discount || x.Effective != s.effective {
				bad("%s: %s %s in %s: rows %d+%d, %d lines, list %s, discount %s, effective %s; the file holds rows %d+%d, %d lines, %s, %s, %s",
					IndexPath, x.Payer, x.Currency, x.File, x.FirstRow, x.Rows, x.LineCount, x.ListAmount, x.Discount, x.Effective,
					first, s.first+s.rows-first, s.lines, s.list, s.discount, s.effective)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for k, s := range c.slices {
		if !s.listed {
			bad("%s: does not name %s's %s rows in %s", IndexPath, k.payer, k.currency, files[k.file])
		}
	}
	return nil
}
