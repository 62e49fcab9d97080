package verify

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/spill"
	"github.com/billcons/billcons/writers"
)

// netCheck checks, per closed cycle the last run compared, payer and
// currency, that what the bills hold of its lines (their closed rows plus
// every correction made to them, net) is what that run recomputed from
// its inputs plus the lines it carried as invoiced (writers.RecomputedPath):
// invoiced + corrections = the cycle recomputed (CONTRACT.md,
// Corrections). The bills' side is summed per payer as the files give it
// (a cycle's own rows come in payer order) and spilled with the run's
// side, by key; the merge must find every key's sides equal.
type netCheck struct {
	cycles map[string]bool // the closed cycles compared
	sorted *spill.Sorter
	group  []netSum // the bills' own rows of the current cycle and payer, by currency
	key    []byte
	rec    []byte
}

type netSum struct {
	cycle, payer, currency string
	lines                  int64
	list, discount         billing.Sum
}

// newNetCheck reads the run's side, or returns nil for a tree with none.
func newNetCheck(dir, tmp string) (*netCheck, error) {
	n := &netCheck{cycles: map[string]bool{}, sorted: spill.New(tmp, "net", verifySortBudget)}
	err := writers.ReadRecomputed(filepath.Join(dir, writers.RecomputedPath), func(r *writers.RecomputedRow) error {
		n.cycles[r.Cycle.String()] = true
		return n.put(&netSum{r.Cycle.String(), r.Payer, r.Currency, r.Lines, r.List, r.Discount}, 0)
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// put spills one sum: side 0 the run's, 1 the bills'.
func (n *netCheck) put(s *netSum, side byte) error {
	n.key = append(append(append(append(append(n.key[:0], s.cycle...), 0), s.payer...), 0), s.currency...)
	n.rec = append(n.rec[:0], side)
	n.rec = binary.AppendVarint(n.rec, s.lines)
	n.rec = s.list.AppendBytes16(n.rec)
	n.rec = s.discount.AppendBytes16(n.rec)
	return n.sorted.Add(n.key, n.rec)
}

// add counts one bills row: a line's own row or a + correction is one
// line more (of its payer), a − correction one less; each moves the sums
// by its amounts, under the cycle the line belongs to.
func (n *netCheck) add(b *billFacts) error {
	cycle, lines := b.cycle, int64(1)
	if b.class != "" {
		cycle, lines = b.corrects, b.sign
	}
	if !n.cycles[cycle] {
		return nil
	}
	if b.class != "" { // a correction: few, spilled one by one
		return n.put(&netSum{cycle, b.payer, b.currency, lines, billing.SumOf(b.amount), billing.SumOf(b.discount)}, 1)
	}
	if len(n.group) > 0 && (n.group[0].cycle != cycle || n.group[0].payer != b.payer) {
		if err := n.flush(); err != nil {
			return err
		}
	}
	var s *netSum
	for i := range n.group {
		if n.group[i].currency == b.currency {
			s = &n.group[i]
		}
	}
	if s == nil {
		n.group = append(n.group, netSum{cycle: cycle, payer: strings.Clone(b.payer), currency: strings.Clone(b.currency)})
		s = &n.group[len(n.group)-1]
	}
	s.lines++
	s.list.Add(b.amount)
	s.discount.Add(b.discount)
	return nil
}

func (n *netCheck) flush() error {
	for i := range n.group {
		if err := n.put(&n.group[i], 1); err != nil {
			return err
		}
	}
	n.group = n.group[:0]
	return nil
}

// check merges both sides and names every cycle, payer and currency whose
// bills do not add up to the recomputation.
func (n *netCheck) check(bad func(string, ...any)) error {
	defer n.sorted.Remove()
	if err := n.flush(); err != nil {
		return err
	}
	it, err := n.sorted.Merge()
	if err != nil {
		return err
	}
	defer it.Close()
	var key []byte
	var sides [2]netSum
	end := func() {
		if key == nil {
			return
		}
		run, bills := sides[0], sides[1]
		if run.lines != bills.lines || run.list != bills.list || run.discount != bills.discount {
			f := bytes.Split(key, []byte{0})
			bad("closed cycle %s, payer %s, %s: the bills hold %d lines, list %s, discount %s net of corrections; the run recomputed %d lines, list %s, discount %s from its inputs (with those carried as invoiced)",
				f[0], f[1], f[2], bills.lines, bills.list, bills.discount, run.lines, run.list, run.discount)
		}
		sides = [2]netSum{}
	}
	for {
		k, p, ok := it.Next()
		if !ok {
			break
		}
		if key == nil || !bytes.Equal(k, key) {
			end()
			key = append(key[:0], k...)
		}
		if len(p) < 1+1+32 || p[0] > 1 {
			return fmt.Errorf("verify: corrupt record")
		}
		s := &sides[p[0]]
		x, w := binary.Varint(p[1:])
		if w <= 0 || len(p) != 1+w+32 {
			return fmt.Errorf("verify: corrupt record")
		}
		s.lines += x
		s.list.AddSum(billing.SumFromBytes16(p[1+w : 1+w+16]))
		s.discount.AddSum(billing.SumFromBytes16(p[1+w+16:]))
	}
	end()
	return it.Err()
}
