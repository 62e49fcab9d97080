package pipeline

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/billcons/billcons/billing"
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

// inputsOutside refuses inputs inside the tree a run replaces: paths
// are the options' arguments as given and the files they name, by option.
func inputsOutside(out string, paths map[string][]string) error {
	for _, opt := range slices.Sorted(maps.Keys(paths)) {
		for _, p := range paths[opt] {
			if !strings.Contains(p, "://") && writers.Within(out, p) {
				return fmt.Errorf("%w: %s %s is inside --out %s, which the run replaces; keep inputs outside the output tree", ErrUsage, opt, p, out)
			}
		}
	}
	return nil
}
