package rules

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/google/go-cmp/cmp"
)

// TestAssignEarly checks, on random histories, that deciding a line before
// the lines are observed (what the pipeline does for nearly every line while
// reading) agrees with Assign after all of them are: the holds of
// [UnsettledHold] (seed 000, Scenario 1; seed 001, rule 5.1) are the only
// thing observation adds, and AssignEarly only decides where they cannot
// matter. It also checks that Holds says exactly which lines Observe
// records a hold for.
func TestAssignEarly(t *testing.T) {
	for _, timing := range []Timing{TimingEndTime, TimingNextPeriod} {
		var early, late, holding int
		for seed := uint64(0); seed < 300; seed++ {
			rng := rand.New(rand.NewPCG(seed, uint64(timing)))
			changes, lines := randomHistory(t, rng)

			observed := NewPlan(changes, cst, timing)
			for i := range lines {
				observed.Observe(&lines[i])
				alone := NewPlan(changes, cst, timing)
				alone.Observe(&lines[i])
				recorded := len(heldState(alone)) > 0
				if recorded {
					holding++
				}
				if got := NewPlan(changes, cst, timing).Holds(&lines[i]); got != recorded {
					t.Fatalf("seed %d, %s: Holds(%s) = %v, but Observe recorded a hold: %v", seed, timing, lines[i].LineID, got, recorded)
				}
			}
			fresh := NewPlan(changes, cst, timing)
			for i := range lines {
				want := observed.Assign(&lines[i])
				got, ok := fresh.AssignEarly(&lines[i])
				if !ok {
					late++
					continue
				}
				early++
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("seed %d, %s: line %s: AssignEarly differs from Assign after observing all lines (-Assign +AssignEarly):\n%s",
						seed, timing, lines[i].LineID, diff)
				}
			}
		}
		// Both outcomes must be exercised, or the test proves nothing.
		if early == 0 || late == 0 || holding == 0 {
			t.Fatalf("%s: %d lines decided early, %d late, %d holding a change; the histories do not exercise every case", timing, early, late, holding)
		}
		t.Logf("%s: %d lines decided early, %d left for Assign, %d holding a change", timing, early, late, holding)
	}
}

// heldState copies which products hold which change back.
func heldState(p *Plan) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, steps := range append(slices.Collect(maps.Values(p.members.num)), slices.Collect(maps.Values(p.members.str))...) {
		for _, s := range steps {
			if len(s.held) > 0 {
				out[s.changeID] = map[string]bool{}
				for _, h := range s.held {
					out[s.changeID][h] = true
				}
			}
		}
	}
	return out
}

// randomHistory makes changes of three members over three cycles, some
// inside a cycle and some on a line's boundary, and lines of two products
// with every payment status.
func randomHistory(t *testing.T, rng *rand.Rand) ([]billing.Change, []billing.UsageLine) {
	t.Helper()
	base := ts(t, "2023-01-01T00:00:00+08:00")
	const hour = billing.Time(3600 * 1_000_000) // microseconds
	hours := 24 * 31 * 3
	instant := func() billing.Time { return base + billing.Time(rng.IntN(hours))*hour }
	var changes []billing.Change
	for i := range rng.IntN(5) {
		at := instant()
		if rng.IntN(4) == 0 {
			at = base - billing.Time(rng.IntN(100)+1)*hour // before the cycles
		}
		policy := billing.PolicyTrusteeship
		mgr := fmt.Sprintf("MA%d", rng.IntN(2))
		if rng.IntN(4) == 0 {
			policy, mgr = billing.PolicyNone, ""
		}
		changes = append(changes, billing.Change{ChangeID: fmt.Sprintf("k%d", i), AccountID: fmt.Sprintf("m%d", rng.IntN(3)),
			Policy: policy, ManagementAccountID: mgr, ChangedAt: at})
	}
	accepted, _ := ValidateChanges(sortedChanges(changes), nil)
	var lines []billing.UsageLine
	for i := range 40 {
		start := instant()
		if len(accepted) > 0 && rng.IntN(5) == 0 {
			start = accepted[rng.IntN(len(accepted))].ChangedAt // on a boundary
		}
		end := start + billing.Time(rng.IntN(48))*hour
		l := billing.UsageLine{LineID: fmt.Sprintf("l%02d", i), AccountID: fmt.Sprintf("m%d", rng.IntN(3)), ProductCode: []string{"A", "B"}[rng.IntN(2)],
			Cycle: billing.CycleOf(start, cst), UsageStart: start, UsageEnd: end, IssuedAt: end + billing.Time(rng.IntN(3))*hour - hour,
			PaymentStatus: billing.Settled}
		if rng.IntN(4) == 0 {
			l.Cycle++ // billed in the next cycle
		}
		switch rng.IntN(3) {
		case 0:
			l.PaymentStatus = billing.Unsettled
		case 1:
			l.HasSettledAt, l.SettledAt = true, l.IssuedAt+billing.Time(rng.IntN(24*20))*hour
		}
		lines = append(lines, l)
	}
	return accepted, lines
}

func sortedChanges(cs []billing.Change) []billing.Change {
	out := append([]billing.Change(nil), cs...)
	for i := range out {
		out[i].Seq = i
	}
	slices.SortFunc(out, func(a, b billing.Change) int { return Before(&a, &b) })
	return out
}

// TestMemberIDsAsNumbers: the plan keeps ids of digits as numbers, and
// every id is still its own member: "123", "0123" and "123a" are three
// members, ids of 19 and 20 digits and the empty id are found as well,
// and each member's line gets its own change's payer (CONTRACT.md, Rules:
// the payer set by the latest accepted change the line falls after; seed
// 000, Scenario 2, and seed 001, rule 5.2: a line ending after the change
// goes to the new payer, one ending before it stays with the member).
func TestMemberIDsAsNumbers(t *testing.T) {
	loc := time.UTC
	at := billing.Time(time.Date(2024, 1, 10, 0, 0, 0, 0, loc).UnixMicro())
	ids := []string{"123", "0123", "123a", "1230", "9999999999999999999", "18446744073709551616", "99999999999999999999", "0", "1", ""}
	var changes []billing.Change
	for i, id := range ids {
		changes = append(changes, billing.Change{ChangeID: fmt.Sprintf("k%d", i), AccountID: id,
			Policy: billing.PolicyTrusteeship, ManagementAccountID: fmt.Sprintf("MA%d", i), ChangedAt: at})
	}
	p := NewPlan(changes, loc, TimingEndTime)
	for i, id := range ids {
		for _, tt := range []struct {
			end  billing.Time
			want string
		}{{at - 3600e6, id}, {at + 3600e6, fmt.Sprintf("MA%d", i)}} {
			l := billing.UsageLine{AccountID: id, ProductCode: "ecs", Cycle: billing.CycleOf(tt.end, loc),
				UsageStart: tt.end - 3600e6, UsageEnd: tt.end, IssuedAt: tt.end, PaymentStatus: billing.Settled}
			if d := p.Assign(&l); d.Payer != tt.want {
				t.Errorf("member %q, line ending %v: payer %q, want %q", id, tt.end, d.Payer, tt.want)
			}
		}
		if !p.InTrusteeshipAtEnd(id) {
			t.Errorf("member %q: not in trusteeship at the end", id)
		}
	}
	if p.InTrusteeshipAtEnd("00123") || p.InTrusteeshipAtEnd("12") {
		t.Error("an id no change names is in trusteeship")
	}
	if len(p.members.num) == 0 || len(p.members.str) == 0 {
		t.Errorf("%d ids kept as numbers, %d as text; want both", len(p.members.num), len(p.members.str))
	}
}
