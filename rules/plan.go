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
	members memberSteps
}

// memberSteps holds each member's steps by its account id. An id of
// digits only (as Alibaba's account ids are) is kept as its number: every
// usage line looks its member up, at random among up to hundreds of
// thousands, and a number is compared in the table itself, where text
// is a pointer to follow to memory the cache does not hold: following it
// was half of a lookup's time (docs/performance.md).
type memberSteps struct {
	num map[uint64][]step
	str map[string][]step // every other id
}

// numericID is id as a number when id is the number's decimal text:
// digits only, at most 19 of them, no leading zero. Such ids and numbers
// correspond one to one.
func numericID(id string) (uint64, bool) {
	if len(id) == 0 || len(id) > 19 || id[0] == '0' {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(id); i++ {
		d := id[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + uint64(d)
	}
	return n, true
}

func (m *memberSteps) get(id string) []step {
	if n, ok := numericID(id); ok {
		return m.num[n]
	}
	return m.str[id]
}

func (m *memberSteps) set(id string, steps []step) {
	if n, ok := numericID(id); ok {
		m.num[n] = steps
	} else {
		m.str[id] = steps
	}
}

// step is one accepted change of a member, with the products it is held back
// for: only what the rules read, no pointers to follow but the strings, so
// that a million changes stay small (under 500 bytes each:
// BenchmarkPlanMemory).
type step struct {
	changeID string
	mgmt     string // the management account, for a trusteeship
	at       billing.Time
	// since is when the member's trusteeship under this change's payer
	// began: the earliest change of the unbroken run of accepted
	// trusteeship changes naming that payer that ends with this one.
	since  billing.Time
	held   []string      // the products held back, in the order found; few
	cycle  billing.Cycle // the billing cycle containing changed_at
	policy billing.Policy
}

// payer is who pays member's lines after s.
func (s *step) payer(member string) string {
	if s.policy == billing.PolicyTrusteeship {
		return s.mgmt
	}
	return member
}

// heldFor reports whether s is held back for product.
func (s *step) heldFor(product string) bool {
	for _, h := range s.held {
		if h == product {
			return true
		}
	}
	return false
}

// NewPlan indexes accepted changes (as returned by [ValidateChanges]) for a
// run whose billing cycles are cut in loc.
func NewPlan(accepted []billing.Change, loc *time.Location, timing Timing) *Plan {
	p := &Plan{timing: timing, members: memberSteps{num: map[uint64][]step{}, str: map[string][]step{}}}
	for _, c := range accepted { // already in (changed_at, change_id) order
		steps := p.members.get(c.AccountID)
		s := step{changeID: c.ChangeID, mgmt: c.ManagementAccountID, at: c.ChangedAt, policy: c.Policy,
			cycle: billing.CycleOf(c.ChangedAt, loc), since: c.ChangedAt}
		if n := len(steps); n > 0 && c.Policy == billing.PolicyTrusteeship {
			if prev := &steps[n-1]; prev.policy == billing.PolicyTrusteeship && prev.mgmt == c.ManagementAccountID {
				s.since = prev.since
			}
		}
		if steps == nil {
			steps = make([]step, 0, 1) // most members have one change
		}
		p.members.set(c.AccountID, append(steps, s))
	}
	return p
}

// Observe records the changes that line holds back ([UnsettledHold]): each
// change of the line's member whose cycle is the line's billing_cycle, made
// after the line was issued and while it was unsettled, is held for the
// line's product. Call it once for every accepted line, and never for a
// rejected one, before any call to Assign. Observe changes nothing for a
// line [Plan.Holds] says no.
func (p *Plan) Observe(line *billing.UsageLine) {
	steps := p.members.get(line.AccountID)
	if len(steps) == 0 {
		return
	}
	until := line.UnsettledUntil()
	for i := range steps {
		if s := &steps[i]; s.holds(line, until) && !s.heldFor(line.ProductCode) {
			// A copy: the caller's strings may point into a buffer it reuses.
			s.held = append(s.held, strings.Clone(line.ProductCode))
		}
	}
}

// holds reports whether line, unsettled until until, holds s back.
func (s *step) holds(line *billing.UsageLine, until billing.Time) bool {
	t := s.at
	return s.cycle == line.Cycle && line.IssuedAt < t && until > t
}

// Holds reports whether line would hold back any change, were it accepted:
// whether Observe would record anything for it. It only reads the changes,
// so it may be called from several goroutines at once, but not while
// Observe runs.
func (p *Plan) Holds(line *billing.UsageLine) bool { return p.Member(line.AccountID).Holds(line) }

// Member is one member's accepted changes in a plan: a reader that asks
// several questions of a line looks its member up once.
type Member struct {
	p     *Plan
	steps []step
}

// Member returns account's changes.
func (p *Plan) Member(account string) Member { return Member{p, p.members.get(account)} }

// Holds is [Plan.Holds] for a line of m.
func (m Member) Holds(line *billing.UsageLine) bool {
	steps := m.steps
	if len(steps) == 0 {
		return false
	}
	until := line.UnsettledUntil()
	for i := range steps {
		if steps[i].holds(line, until) {
			return true
		}
	}
	return false
}

// Decision is who pays a line and why.
type Decision struct {
	Payer     string
	DecidedBy string // the change_id that set the payer, or "" (null)
	HeldBy    string // the change_id that would have set it but for an unsettled bill, or ""
	// Since is, when a trusteeship change set the payer, when the member's
	// trusteeship under that payer began ([LegacyInheritance]).
	Since billing.Time
}

// Assign decides the payer of line ([LatestChange]).
func (p *Plan) Assign(line *billing.UsageLine) Decision {
	steps := p.members.get(line.AccountID)
	decided, heldBy := -1, -1
	for i := range steps {
		s := &steps[i]
		byTime := p.fallsByTime(line, s)
		after := byTime
		if s.heldFor(line.ProductCode) {
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
	return decision(line, steps, decided, heldBy)
}

// AssignEarly decides the payer of line before every line is observed, when
// no hold can change it: when, for each change of the member, the line
// falls after it by time ([EndTime] or [NextPeriod]) exactly when it falls after
// it by cycle ([UnsettledHold]), a hold on the change makes no difference.
// That is so for every line of a member whose changes all lie in other
// cycles than the line's (the line ends after a change of an earlier cycle
// and before one of a later cycle), which is nearly every line of a run.
// Otherwise ok is false and the line must wait for Assign. When ok, the
// decision is the one Assign gives after any observations. Like Holds, it
// only reads the changes.
func (p *Plan) AssignEarly(line *billing.UsageLine) (d Decision, ok bool) {
	return p.Member(line.AccountID).AssignEarly(line)
}

// AssignEarly is [Plan.AssignEarly] for a line of m.
func (m Member) AssignEarly(line *billing.UsageLine) (d Decision, ok bool) {
	steps := m.steps
	decided := -1
	for i := range steps {
		s := &steps[i]
		byTime := m.p.fallsByTime(line, s)
		if byTime != (line.Cycle > s.cycle) {
			return Decision{}, false
		}
		if byTime {
			decided = i
		}
	}
	return decision(line, steps, decided, -1), true
}

// fallsByTime reports whether line falls after s when no bill holds s back
// ([EndTime] or [NextPeriod], by the run's timing).
func (p *Plan) fallsByTime(line *billing.UsageLine, s *step) bool {
	if p.timing == TimingEndTime {
		return line.UsageEnd >= s.at
	}
	return line.UsageStart > s.at
}

func decision(line *billing.UsageLine, steps []step, decided, heldBy int) Decision {
	d := Decision{Payer: line.AccountID}
	if decided >= 0 {
		d.Payer = steps[decided].payer(line.AccountID)
		d.DecidedBy = steps[decided].changeID
		d.Since = steps[decided].since
	}
	if heldBy >= 0 {
		d.HeldBy = steps[heldBy].changeID
	}
	return d
}

// InTrusteeshipAtEnd reports whether account is in trusteeship after the
// last accepted change: whether its last accepted change is a trusteeship.
func (p *Plan) InTrusteeshipAtEnd(account string) bool {
	steps := p.members.get(account)
	return len(steps) > 0 && steps[len(steps)-1].policy == billing.PolicyTrusteeship
}
