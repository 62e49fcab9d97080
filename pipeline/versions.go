package pipeline

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/writers"
)

// cycleCurrency keys the per-cycle totals a version's manifest records.
type cycleCurrency struct {
	cycle    billing.Cycle
	currency string
}

type cycleSum struct {
	lines                    int64
	list, discount, eff, due billing.Sum
}

// addCycle adds a settled summary row to its cycle's totals.
func (r *run) addCycle(row *writers.SummaryRow) {
	if r.cycleSums == nil {
		r.cycleSums = map[cycleCurrency]*cycleSum{}
	}
	k := cycleCurrency{row.Cycle, row.Currency}
	c := r.cycleSums[k]
	if c == nil {
		c = &cycleSum{}
		k.currency = strings.Clone(k.currency)
		r.cycleSums[k] = c
	}
	c.lines += row.LineCount
	c.list.AddSum(row.ListAmount)
	c.discount.AddSum(row.Discount)
	c.eff.AddSum(row.Effective)
	c.due.AddSum(row.Due)
}

// cycleTotals are the per-cycle totals in (cycle, currency) order.
func (r *run) cycleTotals() []writers.CycleTotals {
	keys := make([]cycleCurrency, 0, len(r.cycleSums))
	for k := range r.cycleSums {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b cycleCurrency) int {
		return cmp.Or(cmp.Compare(a.cycle, b.cycle), strings.Compare(a.currency, b.currency))
	})
	out := make([]writers.CycleTotals, 0, len(keys))
	for _, k := range keys {
		c := r.cycleSums[k]
		out = append(out, writers.CycleTotals{Cycle: k.cycle.String(), Currency: k.currency, Lines: c.lines,
			List: c.list.String(), Discount: c.discount.String(), Effective: c.eff.String(), Due: c.due.String()})
	}
	return out
}

// allCycleTotals are the per-cycle totals of the new version: the closed
// cycles' as the base version has them, then the run's own.
func (r *run) allCycleTotals() []writers.CycleTotals {
	if r.closed == nil {
		return r.cycleTotals()
	}
	return append(r.closed.keepCycles(), r.cycleTotals()...)
}

// inputsOutside refuses inputs inside the tree a run replaces: paths
// are the options' arguments as given and the files they name, by option.
func inputsOutside(out string, paths map[string][]string) error {
	for _, opt := range slices.Sorted(maps.Keys(paths)) {
		for _, p := range paths[opt] {
			if !strings.Contains(p, "://") && storage.Within(out, p) {
				return fmt.Errorf("%w: %s %s is inside --out %s, which the run replaces; keep inputs outside the output tree", ErrUsage, opt, p, out)
			}
		}
	}
	return nil
}

// inputsTwice says of each input file named twice for one input, by two
// names or by a folder and a file in it, that its rows are read twice and
// the second reading's lines are rejected as duplicates: one line each, for
// the run to print (and to put in the guard's line when it trips).
func inputsTwice(paths map[string][]string) []string {
	var said []string
	for _, opt := range slices.Sorted(maps.Keys(paths)) {
		seen := map[string]string{}
		ids := map[[2]uint64]string{}
		for _, p := range paths[opt] {
			if strings.Contains(p, "://") {
				continue
			}
			key, err := filepath.Abs(readers.ArchivePath(p))
			if err != nil {
				continue
			}
			if p != readers.ArchivePath(p) {
				key += "\x00" + p // a zip member: the archive and the member
			}
			first, dup := seen[key]
			if !dup && p == readers.ArchivePath(p) {
				if st, err := os.Stat(p); err == nil {
					if sys, ok := st.Sys().(*syscall.Stat_t); ok {
						id := [2]uint64{uint64(sys.Dev), sys.Ino}
						first, dup = ids[id]
						ids[id] = p
					}
				}
			}
			if dup {
				how := fmt.Sprintf("as %s and as %s", first, p)
				if first == p {
					how = "by two arguments, or by a folder and a file in it"
				}
				said = append(said, fmt.Sprintf("%s names the file %s twice (%s): its rows are read twice, and every line of the second reading is rejected as a duplicate", opt, p, how))
				continue
			}
			seen[key] = p
		}
	}
	return said
}
