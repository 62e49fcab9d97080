package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
		if a.cycle != b.cycle {
			return strings.Compare(a.cycle.String(), b.cycle.String())
		}
		return strings.Compare(a.currency, b.currency)
	})
	out := make([]writers.CycleTotals, 0, len(keys))
	for _, k := range keys {
		c := r.cycleSums[k]
		out = append(out, writers.CycleTotals{Cycle: k.cycle.String(), Currency: k.currency, Lines: c.lines,
			List: c.list.String(), Discount: c.discount.String(), Effective: c.eff.String(), Due: c.due.String()})
	}
	return out
}

// inputsOutside refuses inputs inside the tree a run replaces: args are
// the options as given, files what they name; both by option name.
func inputsOutside(out string, args, files map[string][]string) error {
	root, err := realPath(out)
	if err != nil {
		return nil // --out itself is unusable: the run says so when it opens it
	}
	for opt, list := range args {
		for _, p := range append(slices.Clone(list), files[opt]...) {
			if strings.Contains(p, "://") {
				continue
			}
			rp, err := realPath(p)
			if err != nil {
				continue // a glob pattern: its files are checked
			}
			if rp == root || strings.HasPrefix(rp, root+string(filepath.Separator)) {
				return fmt.Errorf("%w: %s %s is inside --out %s, which the run replaces; keep inputs outside the output tree", ErrUsage, opt, p, out)
			}
		}
	}
	return nil
}

// realPath is p absolute, with the links of its longest existing prefix
// resolved.
func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for cur := abs; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest), nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}
