package rules

import (
	"fmt"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var cst = time.FixedZone("+08:00", 8*3600)

func ts(t *testing.T, s string) billing.Time {
	t.Helper()
	v, err := billing.ParseTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func cyc(t *testing.T, s string) billing.Cycle {
	t.Helper()
	c, err := billing.ParseCycle(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// line builds a usage line of member m; status "u" is unsettled, "s" settled,
// "s@TIME" settled at TIME.
func line(t *testing.T, id, m, product, cycle, start, end, issued, status string) billing.UsageLine {
	t.Helper()
	l := billing.UsageLine{LineID: id, AccountID: m, ProductCode: product, Cycle: cyc(t, cycle),
		UsageStart: ts(t, start), UsageEnd: ts(t, end), IssuedAt: ts(t, issued), PaymentStatus: billing.Settled}
	switch {
	case status == "u":
		l.PaymentStatus = billing.Unsettled
	case len(status) > 2 && status[:2] == "s@":
		l.HasSettledAt, l.SettledAt = true, ts(t, status[2:])
	}
	return l
}

func change(t *testing.T, seq int, id, member, policy, mgr, at string) billing.Change {
	t.Helper()
	p, err := billing.ParsePolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	if p == billing.PolicyNone {
		mgr = ""
	}
	return billing.Change{Seq: seq, ChangeID: id, AccountID: member, Policy: p, ManagementAccountID: mgr, ChangedAt: ts(t, at)}
}

func TestAssign(t *testing.T) {
	const at = "2023-01-03T09:23:00+08:00" // seed 000's example instant
	k1 := func(t *testing.T) []billing.Change {
		return []billing.Change{change(t, 0, "k1", "m", "trusteeship", "MA", at)}
	}
	tests := []struct {
		Name    string
		Reason  string // the seed rule the case proves
		Timing  Timing
		Changes func(*testing.T) []billing.Change
		Others  []billing.UsageLine // other accepted lines of the run (observed only)
		Line    billing.UsageLine
		Want    Decision
	}{
		{
			Name: "scenario1-january-held", Reason: "seed 000, Scenario 1: an unsettled Product A bill pre-issued before 09:23 keeps January with the member",
			Changes: k1,
			Others:  []billing.UsageLine{line(t, "a0", "m", "A", "2023-01", "2023-01-01T00:00:00+08:00", "2023-01-02T00:00:00+08:00", "2023-01-02T01:00:00+08:00", "u")},
			Line:    line(t, "a1", "m", "A", "2023-01", "2023-01-20T00:00:00+08:00", "2023-01-21T00:00:00+08:00", "2023-01-21T01:00:00+08:00", "s"),
			Want:    Decision{Payer: "m", HeldBy: "k1"},
		},
		{
			Name: "scenario1-february-new-payer", Reason: "seed 000, Scenario 1: Product A's February bill is paid by the new management account",
			Changes: k1,
			Others:  []billing.UsageLine{line(t, "a0", "m", "A", "2023-01", "2023-01-01T00:00:00+08:00", "2023-01-02T00:00:00+08:00", "2023-01-02T01:00:00+08:00", "u")},
			Line:    line(t, "a2", "m", "A", "2023-02", "2023-02-01T00:00:00+08:00", "2023-02-02T00:00:00+08:00", "2023-02-02T01:00:00+08:00", "s"),
			Want:    Decision{Payer: "MA", DecidedBy: "k1"},
		},
		{
			Name: "scenario1-hold-is-per-product", Reason: "seed 000, Scenario 1 vs 2: Product A's unsettled bill does not hold Product B back",
			Changes: k1,
			Others:  []billing.UsageLine{line(t, "a0", "m", "A", "2023-01", "2023-01-01T00:00:00+08:00", "2023-01-02T00:00:00+08:00", "2023-01-02T01:00:00+08:00", "u")},
			Line:    line(t, "b1", "m", "B", "2023-01", "2023-01-03T09:00:00+08:00", "2023-01-03T10:00:00+08:00", "2023-01-03T11:00:00+08:00", "s"),
			Want:    Decision{Payer: "MA", DecidedBy: "k1"},
		},
		{
			Name: "scenario2-end-before-change", Reason: "seed 000, Scenario 2: consumption ending before 09:23 stays with the member",
			Changes: k1,
			Line:    line(t, "b0", "m", "B", "2023-01", "2023-01-03T08:00:00+08:00", "2023-01-03T09:00:00+08:00", "2023-01-03T10:00:00+08:00", "s"),
			Want:    Decision{Payer: "m"},
		},
		{
			Name: "scenario2-end-at-change", Reason: "seed 000, Scenario 2: consumption ending at 09:23 goes to the new payer",
			Changes: k1,
			Line:    line(t, "b1", "m", "B", "2023-01", "2023-01-03T09:00:00+08:00", at, "2023-01-03T10:00:00+08:00", "s"),
			Want:    Decision{Payer: "MA", DecidedBy: "k1"},
		},
		{
			Name: "rule3-next-period-keeps-straddling-line", Reason: "seed 001, rule 3: the period in which the change is made stays with the previous payer",
			Timing: TimingNextPeriod, Changes: k1,
			Line: line(t, "d0", "m", "B", "2023-01", "2023-01-03T00:00:00+08:00", "2023-01-04T00:00:00+08:00", "2023-01-04T01:00:00+08:00", "s"),
			Want: Decision{Payer: "m"},
		},
		{
			Name: "rule3-next-period-next-day", Reason: "seed 001, rule 3: the main account pays from the next day",
			Timing: TimingNextPeriod, Changes: k1,
			Line: line(t, "d1", "m", "B", "2023-01", "2023-01-04T00:00:00+08:00", "2023-01-05T00:00:00+08:00", "2023-01-05T01:00:00+08:00", "s"),
			Want: Decision{Payer: "MA", DecidedBy: "k1"},
		},
		{
			Name: "rule5.1-settled-after-change-still-holds", Reason: "seed 001, rule 5.1: a bill settled after the change was unsettled at it",
			Changes: k1,
			Others:  []billing.UsageLine{line(t, "a0", "m", "A", "2023-01", "2023-01-01T00:00:00+08:00", "2023-01-02T00:00:00+08:00", "2023-01-02T01:00:00+08:00", "s@2023-01-05T00:00:00+08:00")},
			Line:    line(t, "a1", "m", "A", "2023-01", "2023-01-20T00:00:00+08:00", "2023-01-21T00:00:00+08:00", "2023-01-21T01:00:00+08:00", "s"),
			Want:    Decision{Payer: "m", HeldBy: "k1"},
		},
		{
			Name: "rule5.2-settled-before-change-does-not-hold", Reason: "seed 001, rule 5.2: no unsettled bill at the change, so it takes effect in the cycle",
			Changes: k1,
			Others:  []billing.UsageLine{line(t, "a0", "m", "A", "2023-01", "2023-01-01T00:00:00+08:00", "2023-01-02T00:00:00+08:00", "2023-01-02T01:00:00+08:00", "s@2023-01-03T09:00:00+08:00")},
			Line:    line(t, "a1", "m", "A", "2023-01", "2023-01-20T00:00:00+08:00", "2023-01-21T00:00:00+08:00", "2023-01-21T01:00:00+08:00", "s"),
			Want:    Decision{Payer: "MA", DecidedBy: "k1"},
		},
		{
			Name: "hold-needs-issue-before-change", Reason: "seed 000, Scenario 1: only a bill pre-issued before the change holds it",
			Changes: k1,
			Others:  []billing.UsageLine{line(t, "a0", "m", "A", "2023-01", "2023-01-01T00:00:00+08:00", "2023-01-02T00:00:00+08:00", at, "u")},
			Line:    line(t, "a1", "m", "A", "2023-01", "2023-01-20T00:00:00+08:00", "2023-01-21T00:00:00+08:00", "2023-01-21T01:00:00+08:00", "s"),
			Want:    Decision{Payer: "MA", DecidedBy: "k1"},
		},
		{
			Name: "hold-needs-same-cycle", Reason: "seed 001, rule 5.1: an unsettled bill of an earlier cycle does not hold the change",
			Changes: k1,
			Others:  []billing.UsageLine{line(t, "a0", "m", "A", "2022-12", "2022-12-01T00:00:00+08:00", "2022-12-02T00:00:00+08:00", "2022-12-02T01:00:00+08:00", "u")},
			Line:    line(t, "a1", "m", "A", "2023-01", "2023-01-20T00:00:00+08:00", "2023-01-21T00:00:00+08:00", "2023-01-21T01:00:00+08:00", "s"),
			Want:    Decision{Payer: "MA", DecidedBy: "k1"},
		},
		{
			Name: "latest-change-wins", Reason: "CONTRACT.md, The payer of a line: the latest change the line falls after sets the payer",
			Changes: func(t *testing.T) []billing.Change {
				return []billing.Change{
					change(t, 0, "k1", "m", "trusteeship", "MA", "2023-01-03T09:23:00+08:00"),
					change(t, 1, "k2", "m", "trusteeship", "MB", "2023-01-10T00:00:00+08:00"),
					change(t, 2, "k3", "m", "none", "", "2023-01-20T00:00:00+08:00"),
				}
			},
			Line: line(t, "x", "m", "B", "2023-01", "2023-01-12T00:00:00+08:00", "2023-01-13T00:00:00+08:00", "2023-01-13T01:00:00+08:00", "s"),
			Want: Decision{Payer: "MB", DecidedBy: "k2"},
		},
		{
			Name: "end-of-trusteeship", Reason: "CONTRACT.md, policy none: the member pays for itself again",
			Changes: func(t *testing.T) []billing.Change {
				return []billing.Change{
					change(t, 0, "k1", "m", "trusteeship", "MA", "2023-01-03T09:23:00+08:00"),
					change(t, 1, "k3", "m", "none", "", "2023-01-20T00:00:00+08:00"),
				}
			},
			Line: line(t, "x", "m", "B", "2023-01", "2023-01-25T00:00:00+08:00", "2023-01-26T00:00:00+08:00", "2023-01-26T01:00:00+08:00", "s"),
			Want: Decision{Payer: "m", DecidedBy: "k3"},
		},
		{
			Name: "held-later-change-reported", Reason: "CONTRACT.md, held_by: the latest held change later than decided_by",
			Changes: func(t *testing.T) []billing.Change {
				return []billing.Change{
					change(t, 0, "k1", "m", "trusteeship", "MA", "2022-12-10T00:00:00+08:00"),
					change(t, 1, "k2", "m", "trusteeship", "MB", "2023-01-10T00:00:00+08:00"),
				}
			},
			Others: []billing.UsageLine{line(t, "a0", "m", "A", "2023-01", "2023-01-01T00:00:00+08:00", "2023-01-02T00:00:00+08:00", "2023-01-02T01:00:00+08:00", "u")},
			Line:   line(t, "a1", "m", "A", "2023-01", "2023-01-20T00:00:00+08:00", "2023-01-21T00:00:00+08:00", "2023-01-21T01:00:00+08:00", "s"),
			Want:   Decision{Payer: "MA", DecidedBy: "k1", HeldBy: "k2"},
		},
		{
			Name: "cycle-cut-in-billing-zone", Reason: "CONTRACT.md, rule 1: the cycle of the change is its month in the billing time zone (+08:00)",
			Changes: func(t *testing.T) []billing.Change {
				// 2023-01-31T20:00Z is 2023-02-01T04:00+08:00: a February change.
				return []billing.Change{change(t, 0, "k1", "m", "trusteeship", "MA", "2023-01-31T20:00:00Z")}
			},
			Others: []billing.UsageLine{line(t, "a0", "m", "A", "2023-01", "2023-01-01T00:00:00+08:00", "2023-01-02T00:00:00+08:00", "2023-01-02T01:00:00+08:00", "u")},
			Line:   line(t, "a1", "m", "A", "2023-02", "2023-02-01T05:00:00+08:00", "2023-02-01T06:00:00+08:00", "2023-02-01T07:00:00+08:00", "s"),
			Want:   Decision{Payer: "MA", DecidedBy: "k1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			p := NewPlan(tt.Changes(t), cst, tt.Timing)
			for i := range tt.Others {
				p.Observe(&tt.Others[i])
			}
			p.Observe(&tt.Line)
			got := p.Assign(&tt.Line)
			// Since is the subject of TestDiscountOwner.
			ignoreSince := cmpopts.IgnoreFields(Decision{}, "Since")
			if diff := cmp.Diff(tt.Want, got, ignoreSince); diff != "" {
				t.Errorf("Assign() mismatch (-want +got) [%s]:\n%s", tt.Reason, diff)
			}
			// Deciding early, before any line is observed, may decline but
			// never decide otherwise.
			early, ok := NewPlan(tt.Changes(t), cst, tt.Timing).AssignEarly(&tt.Line)
			if ok {
				if diff := cmp.Diff(tt.Want, early, ignoreSince); diff != "" {
					t.Errorf("AssignEarly() mismatch (-want +got) [%s]:\n%s", tt.Reason, diff)
				}
			}
		})
	}
}

func TestValidateChanges(t *testing.T) {
	type outcome struct {
		ID   string
		Code string // "" for accepted
	}
	many := func(t *testing.T, n int) []billing.Change {
		var cs []billing.Change
		for i := 0; i < n; i++ {
			cs = append(cs, change(t, i, fmt.Sprintf("c%03d", i), fmt.Sprintf("m%03d", i), "trusteeship", "MA", "2023-01-01T00:00:00+08:00"))
		}
		return cs
	}
	tests := []struct {
		Name     string
		Reason   string
		Changes  func(*testing.T) []billing.Change
		Accounts Accounts
		Want     []outcome // in read order; only the rows listed are checked
	}{
		{
			Name: "copy-is-duplicate", Reason: "CONTRACT.md: a row equal in every value is a copy; the first stands",
			Changes: func(t *testing.T) []billing.Change {
				a := change(t, 0, "k1", "m", "trusteeship", "MA", "2023-01-03T09:23:00+08:00")
				b := change(t, 1, "k1", "m", "TRUSTEESHIP", "MA", "2023-01-03T01:23:00Z") // same instant, other spelling
				return []billing.Change{a, b}
			},
			Want: []outcome{{"k1", ""}, {"k1", "duplicate_change"}},
		},
		{
			Name: "same-id-different-change", Reason: "CONTRACT.md: two different changes with one change_id are all rejected",
			Changes: func(t *testing.T) []billing.Change {
				return []billing.Change{
					change(t, 0, "k1", "m", "trusteeship", "MA", "2023-01-03T09:23:00+08:00"),
					change(t, 1, "k1", "m", "trusteeship", "MB", "2023-01-03T09:23:00+08:00"),
				}
			},
			Want: []outcome{{"k1", "ambiguous_change_id"}, {"k1", "ambiguous_change_id"}},
		},
		{
			Name: "member-twice-at-one-instant", Reason: "CONTRACT.md: two changes of one member at one changed_at are all rejected",
			Changes: func(t *testing.T) []billing.Change {
				return []billing.Change{
					change(t, 0, "k1", "m", "trusteeship", "MA", "2023-01-03T09:23:00+08:00"),
					change(t, 1, "k2", "m", "trusteeship", "MB", "2023-01-03T09:23:00+08:00"),
				}
			},
			Want: []outcome{{"k1", "ambiguous_change_time"}, {"k2", "ambiguous_change_time"}},
		},
		{
			Name: "self", Reason: "CONTRACT.md: trusteeship naming the member itself",
			Changes: func(t *testing.T) []billing.Change {
				return []billing.Change{change(t, 0, "k1", "m", "trusteeship", "m", "2023-01-03T09:23:00+08:00")}
			},
			Want: []outcome{{"k1", "self_trusteeship"}},
		},
		{
			Name: "chain-manager-in-trusteeship", Reason: "seed 000 (no chains): the management account is itself managed",
			Changes: func(t *testing.T) []billing.Change {
				return []billing.Change{
					change(t, 0, "k1", "MA", "trusteeship", "MB", "2023-01-01T00:00:00+08:00"),
					change(t, 1, "k2", "m", "trusteeship", "MA", "2023-01-02T00:00:00+08:00"),
				}
			},
			Want: []outcome{{"k1", ""}, {"k2", "management_in_trusteeship"}},
		},
		{
			Name: "chain-member-is-manager", Reason: "seed 000 (no chains): the member manages members",
			Changes: func(t *testing.T) []billing.Change {
				return []billing.Change{
					change(t, 0, "k1", "m", "trusteeship", "MA", "2023-01-01T00:00:00+08:00"),
					change(t, 1, "k2", "MA", "trusteeship", "MB", "2023-01-02T00:00:00+08:00"),
				}
			},
			Want: []outcome{{"k1", ""}, {"k2", "member_is_management"}},
		},
		{
			Name: "chain-judged-in-order-at-same-instant", Reason: "CONTRACT.md: earlier changes at the same instant count (change_id order)",
			Changes: func(t *testing.T) []billing.Change {
				return []billing.Change{
					change(t, 0, "k2", "m", "trusteeship", "MA", "2023-01-01T00:00:00+08:00"),
					change(t, 1, "k1", "MA", "trusteeship", "MB", "2023-01-01T00:00:00+08:00"),
				}
			},
			Want: []outcome{{"k2", "management_in_trusteeship"}, {"k1", ""}},
		},
		{
			Name: "ended-trusteeship-frees-manager", Reason: "CONTRACT.md: membership counts relationships; after none, the account may manage",
			Changes: func(t *testing.T) []billing.Change {
				return []billing.Change{
					change(t, 0, "k1", "MA", "trusteeship", "MB", "2023-01-01T00:00:00+08:00"),
					change(t, 1, "k2", "MA", "none", "", "2023-01-02T00:00:00+08:00"),
					change(t, 2, "k3", "m", "trusteeship", "MA", "2023-01-03T00:00:00+08:00"),
				}
			},
			Want: []outcome{{"k1", ""}, {"k2", ""}, {"k3", ""}},
		},
		{
			Name: "cap-300", Reason: "seed 000 Additional notes; seed 001 rule 8: at most 300 managed members",
			Changes: func(t *testing.T) []billing.Change { return many(t, 301) },
			Want:    []outcome{{"c000", ""}, {"c299", ""}, {"c300", "member_cap"}}, // judged in change_id order at one instant
		},
		{
			Name: "cap-counts-moves-out", Reason: "seed 001 rule 8: a member moving away frees a place",
			Changes: func(t *testing.T) []billing.Change {
				cs := many(t, 300)
				cs = append(cs, change(t, 300, "out", "m000", "trusteeship", "MB", "2023-01-02T00:00:00+08:00"))
				cs = append(cs, change(t, 301, "in", "new", "trusteeship", "MA", "2023-01-03T00:00:00+08:00"))
				return cs
			},
			Want: []outcome{{"out", ""}, {"in", ""}},
		},
		{
			Name: "enterprise", Reason: "seed 001 rule 7: accounts must belong to one enterprise",
			Changes: func(t *testing.T) []billing.Change {
				return []billing.Change{
					change(t, 0, "k1", "m", "trusteeship", "MA", "2023-01-01T00:00:00+08:00"),
					change(t, 1, "k2", "x", "trusteeship", "MA", "2023-01-01T00:00:00+08:00"),
					change(t, 2, "k3", "ghost", "trusteeship", "MA", "2023-01-01T00:00:00+08:00"),
					change(t, 3, "k4", "ghost", "none", "", "2023-01-02T00:00:00+08:00"),
				}
			},
			Accounts: Accounts{"m": "E1", "MA": "E1", "x": "E2"},
			Want:     []outcome{{"k1", ""}, {"k2", "enterprise_mismatch"}, {"k3", "unknown_account"}, {"k4", "unknown_account"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			in := tt.Changes(t)
			accepted, rejected := ValidateChanges(in, tt.Accounts)
			bySeq := map[int]string{}
			for _, r := range rejected {
				bySeq[r.Change.Seq] = r.Rule.Code
				if r.Reason == "" {
					t.Errorf("reject of %s has no reason", r.Change.ChangeID)
				}
			}
			for _, a := range accepted {
				if _, dup := bySeq[a.Seq]; dup {
					t.Errorf("change seq %d both accepted and rejected", a.Seq)
				}
				bySeq[a.Seq] = ""
			}
			if len(bySeq) != len(in) {
				t.Errorf("ValidateChanges() judged %d of %d changes", len(bySeq), len(in))
			}
			for _, w := range tt.Want {
				found := false
				for _, c := range in {
					if c.ChangeID == w.ID {
						if got := bySeq[c.Seq]; got == w.Code {
							found = true
						}
					}
				}
				if !found {
					t.Errorf("ValidateChanges(): change %s not judged %q [%s]; got %v", w.ID, w.Code, tt.Reason, bySeq)
				}
			}
		})
	}
}
