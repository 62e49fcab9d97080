package rules

import (
	"strings"
	"time"

	"github.com/billcons/billcons/billing"
)

// Timing is which reading of "takes effect" the run uses for changes that no
// unsettled bill holds back (CONTRACT.md, rule 2).
type Timing uint8

const (
	// TimingEndTime: a line falls after a change when usage_end >= changed_at
	// ([EndTime]; the default).
	TimingEndTime Timing = iota
	// TimingNextPeriod: a line falls after a change when usage_start >
	// changed_at ([NextPeriod]).
	TimingNextPeriod
)

// ParseTiming reads the --timing option.
func ParseTiming(s string) (Timing, bool) {
	switch s {
	case "end-time":
		return TimingEndTime, true
	case "next-period":
		return TimingNextPeriod, true
	}
	return 0, false
}

func (t Timing) String() string {
	if t == TimingNextPeriod {
		return "next-period"
	}
	return "end-time"
}

// Plan holds the accepted changes per member and the unsettled holds found
// so far. Observe every accepted line first, then Assign; a Plan is not safe
// for concurrent use.
type Plan struct {
	timing  Timing
	members map[string][]*step
}

// step is one accepted change of a member, with the products it is held back
// for.
type step struct {
	change billing.Change
	cycle  billing.Cycle // the billing cycle containing changed_at
	held   map[string]bool
}

// NewPlan indexes accepted changes (as returned by [ValidateChanges]) for a
// run whose billing cycles are cut in loc.
func NewPlan(accepted []billing.Change, loc *time.Location, timing Timing) *Plan {
	p := &Plan{timing: timing, members: map[string][]*step{}}
	for _, c := range accepted { // already in (changed_at, change_id) order
		p.members[c.AccountID] = append(p.members[c.AccountID], &step{
			change: c,
			cycle:  billing.CycleOf(c.ChangedAt, loc),
		})
	}
	return p
}

// Observe records the changes that line holds back ([UnsettledHold]): each
// change of the line's member whose cycle is the line's billing_cycle, made
// after the line was issued and while it was unsettled, is held for the
// line's product. Call it once for every accepted line, and never for a
// rejected one, before any call to Assign.
func (p *Plan) Observe(line *billing.UsageLine) {
	steps := p.members[line.AccountID]
	if len(steps) == 0 {
		return
	}
	until := line.UnsettledUntil()
	for _, s := range steps {
		t := s.change.ChangedAt
		if s.cycle == line.Cycle && line.IssuedAt < t && until > t {
			if s.held == nil {
				s.held = map[string]bool{}
			}
			if !s.held[line.ProductCode] {
				// A copy: the caller's strings may point into a buffer it reuses.
				s.held[strings.Clone(line.ProductCode)] = true
			}
		}
	}
}

// Decision is who pays a line and why.
type Decision struct {
	Payer     string
	DecidedBy string // the change_id that set the payer, or "" (null)
	HeldBy    string // the change_id that would have set it but for an unsettled bill, or ""
}

// Assign decides the payer of line ([LatestChange]).
func (p *Plan) Assign(line *billing.UsageLine) Decision {
	steps := p.members[line.AccountID]
	decided, heldBy := -1, -1
	for i, s := range steps {
		var byTime bool
		if p.timing == TimingEndTime {
			byTime = line.UsageEnd >= s.change.ChangedAt
		} else {
			byTime = line.UsageStart > s.change.ChangedAt
		}
		after := byTime
		if s.held[line.ProductCode] {
			after = line.Cycle > s.cycle
			if byTime && !after {
				heldBy = i
			}
		}
		if after {
			decided = i
			heldBy = -1 // only a held change later than decided_by counts
		}
	}
	d := Decision{Payer: line.AccountID}
	if decided >= 0 {
		d.Payer = steps[decided].change.Payer()
		d.DecidedBy = steps[decided].change.ChangeID
	}
	if heldBy >= 0 {
		d.HeldBy = steps[heldBy].change.ChangeID
	}
	return d
}
