package query

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/billcons/billcons/writers"
	"github.com/shopspring/decimal"
)

// Guards are the limits a run's new version is held to against the latest
// (CONTRACT.md, Nightly runs over months: Guards). The reject ratio is the
// run's own; these need the two versions side by side.
type Guards struct {
	// AcceptMissing lets the missing_* guards through: what they found is
	// returned as Accepted instead of as Trips.
	AcceptMissing bool
	// MaxCycleDrop is the share by which a cycle's billed list amount in a
	// currency may fall; 1 turns the guard off.
	MaxCycleDrop float64
	// Withdrawn are the invoiced lines of closed cycles that the inputs
	// still hold but reject now: each becomes a line_withdrawn correction,
	// a loss like a line that vanished.
	Withdrawn []string
	// AllIDs asks for every id a guard names in Report, not only the first
	// ten in its line.
	AllIDs bool
}

// GuardResult is what the guards found.
type GuardResult struct {
	Trips    []string      // one line per guard that tripped
	Accepted []string      // one line per missing_* guard AcceptMissing let through
	Report   []string      // with AllIDs: "guard<TAB>id" for every id, sorted
	Changes  []CycleChange // what the new version changes, per cycle
}

// maxIDs is how many ids a guard's line names.
const maxIDs = 10

// CheckGuards compares the staged version (folder staged, manifest now)
// with the latest (folder base, number baseVersion; "" for none) and
// returns what tripped, with trips, the run's own, first. A first version
// has only the run's own guards.
func CheckGuards(ctx context.Context, g Guards, base string, baseVersion int64, staged string, now *writers.Manifest, trips []string) (*GuardResult, error) {
	res := &GuardResult{Trips: append([]string(nil), trips...)}
	if base == "" {
		// Every line is added; the manifest's per-cycle totals say so
		// without reading a line again.
		res.Changes = FirstCycles(now.Cycles)
		return res, nil
	}
	d, err := OpenDiff(ctx, base, staged, staged)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	old := d.from
	if res.Changes, err = d.Cycles(ctx); err != nil {
		return nil, err
	}

	var missing []string // what AcceptMissing lets through
	lost := func(guard, what string, n int64, ids []string) {
		missing = append(missing, fmt.Sprintf("%s: %d %s: %s", guard, n, what, idList(ids, n)))
		if g.AllIDs {
			for _, id := range ids {
				res.Report = append(res.Report, guard+"\t"+id)
			}
		}
	}
	limit := maxIDs
	if g.AllIDs {
		limit = -1
	}
	n, ids, rejected, err := d.Removed(ctx, limit)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		lost("missing_lines", fmt.Sprintf("line(s) billed in version %d are not billed now (%d of them rejected now)", baseVersion, rejected), n, ids)
	}
	if w := g.Withdrawn; len(w) > 0 {
		lost("missing_lines", "line(s) invoiced in a closed cycle are rejected now (each would be withdrawn by a correction; rejects/usage.parquet says why)", int64(len(w)), w)
	}
	for _, name := range []string{"changes", "discounts", "enterprises", "accounts", "credits"} { // the order they are told in
		f := writers.GuardedFile(name)
		ids, err := d.Lost(ctx, f.Path, f.Key)
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			lost("missing_"+f.Guard, fmt.Sprintf("%s row(s) accepted in version %d are not accepted now", strings.TrimSuffix(f.Guard, "s"), baseVersion), int64(len(ids)), ids)
		}
	}
	if old.Counts.BalancesAccepted > now.Counts.BalancesAccepted { // balances have no id
		missing = append(missing, fmt.Sprintf("missing_balances: version %d accepted %d balance row(s), now %d",
			baseVersion, old.Counts.BalancesAccepted, now.Counts.BalancesAccepted))
	}
	if gone := goneInputs(old, now); len(gone) > 0 {
		lost("missing_inputs", fmt.Sprintf("input file(s) read by version %d are not read now", baseVersion), int64(len(gone)), gone)
	}
	if g.MaxCycleDrop < 1 {
		if drops := cycleDrops(old, now, g.MaxCycleDrop); len(drops) > 0 {
			res.Trips = append(res.Trips, fmt.Sprintf("cycle_drop: billed list amount fell by more than %g against version %d (--max-cycle-drop 1 turns the guard off): %s",
				g.MaxCycleDrop, baseVersion, strings.Join(drops, "; ")))
		}
	}
	sort.Strings(res.Report)
	switch {
	case g.AcceptMissing:
		res.Accepted = missing
	case len(missing) > 0:
		missing[len(missing)-1] += " (billcons diff lists them once published; --accept-missing publishes anyway)"
		res.Trips = append(res.Trips, missing...)
	}
	return res, nil
}

// idList prints the first ids of n.
func idList(ids []string, n int64) string {
	if len(ids) > maxIDs {
		ids = ids[:maxIDs]
	}
	s := strings.Join(ids, ", ")
	if n > int64(len(ids)) {
		s += fmt.Sprintf(", and %d more", n-int64(len(ids)))
	}
	return s
}

// goneInputs are the input files (kind and path) the old manifest lists
// and the new one does not.
func goneInputs(old, now *writers.Manifest) []string {
	have := map[string]bool{}
	for _, in := range now.Inputs {
		have[in.Kind+"\t"+in.Path] = true
	}
	var gone []string
	for _, in := range old.Inputs {
		if !have[in.Kind+"\t"+in.Path] {
			gone = append(gone, in.Kind+" "+in.Path)
		}
	}
	return gone
}

// cycleDrops are the cycles and currencies whose billed list amount fell
// by more than share against the old version, exactly.
func cycleDrops(old, now *writers.Manifest, share float64) []string {
	cur := map[string]string{}
	for _, c := range now.Cycles {
		cur[c.Cycle+" "+c.Currency] = c.List
	}
	keep := decimal.NewFromInt(1).Sub(decimal.NewFromFloat(share))
	var out []string
	for _, c := range old.Cycles {
		was, err := decimal.NewFromString(c.List)
		if err != nil || !was.IsPositive() {
			continue
		}
		text, ok := cur[c.Cycle+" "+c.Currency]
		is := decimal.Zero
		if ok {
			if is, err = decimal.NewFromString(text); err != nil {
				continue
			}
		} else {
			text = "no lines"
		}
		if is.LessThan(was.Mul(keep)) {
			out = append(out, fmt.Sprintf("%s %s %s -> %s", c.Cycle, c.Currency, c.List, text))
		}
	}
	return out
}
