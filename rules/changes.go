package rules

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/billcons/billcons/billing"
)

// ChangeReject is a well-formed change that a rule rejected.
type ChangeReject struct {
	Change billing.Change
	Rule   *Rule
	Reason string // a sentence naming the change and why
}

// Accounts maps an account_id to its enterprise_id (the --accounts file).
// A nil Accounts means no file was given and the enterprise rules are off.
type Accounts map[string]string

// Before reports whether change a is judged before change b: by changed_at,
// then change_id, then read order.
func Before(a, b *billing.Change) int {
	if c := cmp.Compare(a.ChangedAt, b.ChangedAt); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ChangeID, b.ChangeID); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// sameChange reports whether two rows are equal in every value the contract
// names, timestamps compared as instants and enumerations canonical.
func sameChange(a, b *billing.Change) bool {
	return a.ChangeID == b.ChangeID && a.AccountID == b.AccountID && a.Policy == b.Policy &&
		a.ManagementAccountID == b.ManagementAccountID && a.ChangedAt == b.ChangedAt
}

// ValidateChanges judges well-formed changes (given in read order, Seq set)
// and returns the accepted ones in (changed_at, change_id) order and the
// rejected ones in read order.
//
// First copies are set aside ([DuplicateChange]), then ambiguous histories
// ([AmbiguousChangeID], [AmbiguousChangeTime]); the rest are judged one at a
// time in order against the relationships set by the changes accepted
// before them ([SelfTrusteeship], [UnknownAccount], [EnterpriseMismatch],
// [ManagementInTrusteeship], [MemberIsManagement], [MemberCap]).
func ValidateChanges(changes []billing.Change, accounts Accounts) (accepted []billing.Change, rejected []ChangeReject) {
	// Copies: a row equal to an earlier one with the same change_id. The
	// distinct rows of one change_id are chained: last[id] is the latest,
	// prev[i] the one before row i (-1: none). A map of slices cost a slice
	// per change, and a reseller's history has a million changes.
	last := make(map[string]int32, len(changes))
	prev := make([]int32, len(changes))
	distinct := make([]int32, 0, len(changes))
	for i := range changes {
		c := &changes[i]
		copyOf := -1
		j, seen := last[c.ChangeID]
		for k := j; seen && k >= 0; k = prev[k] {
			if sameChange(&changes[k], c) {
				copyOf = int(k)
				break
			}
		}
		if copyOf >= 0 {
			rejected = append(rejected, ChangeReject{Change: *c, Rule: DuplicateChange,
				Reason: fmt.Sprintf("change %s is a copy of the row at %s", c.ChangeID, changes[copyOf].Pos)})
			continue
		}
		prev[i] = -1
		if seen {
			prev[i] = j
		}
		last[c.ChangeID] = int32(i)
		distinct = append(distinct, int32(i))
	}
	// Ambiguity: among distinct rows, a change_id used twice, or a member
	// changed twice at one instant.
	type memberAt struct {
		member string
		at     billing.Time
	}
	byTime := make(map[memberAt]int32, len(distinct))
	for _, i := range distinct {
		byTime[memberAt{changes[i].AccountID, changes[i].ChangedAt}]++
	}
	// rows is how many distinct rows name change_id id.
	rows := func(id string) int {
		n := 0
		for k := last[id]; k >= 0; k = prev[k] {
			n++
		}
		return n
	}
	live := make([]billing.Change, 0, len(distinct))
	for _, i := range distinct {
		c := &changes[i]
		switch n := rows(c.ChangeID); {
		case n > 1:
			rejected = append(rejected, ChangeReject{Change: *c, Rule: AmbiguousChangeID,
				Reason: fmt.Sprintf("change_id %s names %d different changes; all of them are rejected", c.ChangeID, n)})
		case byTime[memberAt{c.AccountID, c.ChangedAt}] > 1:
			rejected = append(rejected, ChangeReject{Change: *c, Rule: AmbiguousChangeTime,
				Reason: fmt.Sprintf("member %s has %d changes at %s; all of them are rejected", c.AccountID, byTime[memberAt{c.AccountID, c.ChangedAt}], c.ChangedAt)})
		default:
			live = append(live, *c)
		}
	}
	slices.SortFunc(live, func(a, b billing.Change) int { return Before(&a, &b) })

	// Judge in order against the relationships accepted so far.
	// The accepted changes are kept in live's own array, in order: a
	// second copy of every change is what a million changes cannot afford.
	managerOf := map[string]string{} // member -> its management account
	members := map[string]int{}      // management account -> managed members
	accepted = live[:0]
	for _, c := range live {
		if r, why := judge(&c, managerOf, members, accounts); r != nil {
			rejected = append(rejected, ChangeReject{Change: c, Rule: r, Reason: why})
			continue
		}
		if old, ok := managerOf[c.AccountID]; ok {
			members[old]--
			delete(managerOf, c.AccountID)
		}
		if c.Policy == billing.PolicyTrusteeship {
			managerOf[c.AccountID] = c.ManagementAccountID
			members[c.ManagementAccountID]++
		}
		accepted = append(accepted, c)
	}
	slices.SortStableFunc(rejected, func(a, b ChangeReject) int { return cmp.Compare(a.Change.Seq, b.Change.Seq) })
	return accepted, rejected
}

// judge returns the rule that rejects c, or nil.
func judge(c *billing.Change, managerOf map[string]string, members map[string]int, accounts Accounts) (*Rule, string) {
	m, mgr := c.AccountID, c.ManagementAccountID
	if c.Policy == billing.PolicyTrusteeship && mgr == m {
		return SelfTrusteeship, fmt.Sprintf("change %s names member %s as its own management account", c.ChangeID, m)
	}
	if accounts != nil {
		if _, ok := accounts[m]; !ok {
			return UnknownAccount, fmt.Sprintf("change %s names member %s, which the accounts file does not list", c.ChangeID, m)
		}
		if c.Policy == billing.PolicyTrusteeship {
			if _, ok := accounts[mgr]; !ok {
				return UnknownAccount, fmt.Sprintf("change %s names management account %s, which the accounts file does not list", c.ChangeID, mgr)
			}
			if accounts[m] != accounts[mgr] {
				return EnterpriseMismatch, fmt.Sprintf("change %s: member %s belongs to enterprise %s but management account %s to %s",
					c.ChangeID, m, accounts[m], mgr, accounts[mgr])
			}
		}
	}
	if c.Policy != billing.PolicyTrusteeship {
		return nil, ""
	}
	if up, ok := managerOf[mgr]; ok {
		return ManagementInTrusteeship, fmt.Sprintf("change %s: management account %s is itself in trusteeship under %s at %s (no chains)", c.ChangeID, mgr, up, c.ChangedAt)
	}
	if n := members[m]; n > 0 {
		return MemberIsManagement, fmt.Sprintf("change %s: member %s manages %d member(s) of its own at %s (no chains)", c.ChangeID, m, n, c.ChangedAt)
	}
	if managerOf[m] != mgr && members[mgr] >= MaxMembers {
		return MemberCap, fmt.Sprintf("change %s would give management account %s more than %d managed members", c.ChangeID, mgr, MaxMembers)
	}
	return nil, ""
}
