package rules

import (
	"slices"
	"strings"

	"github.com/billcons/billcons/billing"
)

// RelationshipPayer returns the account the accepted relationships make pay
// for member at instant t: its management account when the state after
// every change made at or before t is a trusteeship, else the member
// itself. It counts relationships, not who pays a given line (a change held
// back by an unsettled bill still moves the member).
func (p *Plan) RelationshipPayer(member string, t billing.Time) string {
	payer := member
	steps := p.members.get(member)
	for i := range steps {
		if steps[i].at > t {
			break
		}
		payer = steps[i].payer(member)
	}
	return payer
}

// InTrusteeshipAt reports whether member is in trusteeship at instant t, by
// the relationships the accepted changes set.
func (p *Plan) InTrusteeshipAt(member string, t billing.Time) bool {
	return p.RelationshipPayer(member, t) != member
}

// RejectsAdjustment reports whether [AdjustmentInTrusteeship] rejects line:
// an adjustment of a subscription of a member in trusteeship at its
// issued_at. It only reads the changes.
func (p *Plan) RejectsAdjustment(line *billing.UsageLine) bool {
	return line.ChargeType == billing.ChargeAdjustment && line.SubscriptionType == billing.Subscription &&
		p.InTrusteeshipAt(line.AccountID, line.IssuedAt)
}

// NeedsPurchases reports whether line's verdict under
// [RefundOfTransferredResource] depends on the member's purchase lines: a
// refund with a resource_id of a member whose relationships ever change. A
// member without accepted changes pays for itself at every instant, so
// its refunds are never rejected and need not wait.
func (p *Plan) NeedsPurchases(line *billing.UsageLine) bool {
	return line.ChargeType == billing.ChargeRefund && line.ResourceID != "" && len(p.members.get(line.AccountID)) > 0
}

// IsPurchaseToRecord reports whether line is a purchase the refund rule may
// look at: a purchase with a resource_id of a member with accepted changes.
func (p *Plan) IsPurchaseToRecord(line *billing.UsageLine) bool {
	return line.ChargeType == billing.ChargePurchase && line.ResourceID != "" && len(p.members.get(line.AccountID)) > 0
}

// Purchases holds the issue times of the accepted purchase lines the refund
// rule may look at, per member and resource. Add every one, then Sort, then
// ask Latest; not safe for concurrent use while adding.
type Purchases struct {
	issued map[string][]billing.Time // member NUL resource -> issued_at
}

func purchaseKey(member, resource string) string { return member + "\x00" + resource }

// Add records an accepted purchase line (see [Plan.IsPurchaseToRecord]).
func (ps *Purchases) Add(line *billing.UsageLine) {
	if ps.issued == nil {
		ps.issued = map[string][]billing.Time{}
	}
	k := purchaseKey(line.AccountID, line.ResourceID)
	if _, ok := ps.issued[k]; !ok {
		k = strings.Clone(k) // the line's strings may point into a reused buffer
	}
	ps.issued[k] = append(ps.issued[k], line.IssuedAt)
}

// Sort prepares Latest.
func (ps *Purchases) Sort() {
	for _, ts := range ps.issued {
		slices.Sort(ts)
	}
}

// Latest returns the issue time of the member's latest purchase of resource
// issued strictly before t.
func (ps *Purchases) Latest(member, resource string, t billing.Time) (billing.Time, bool) {
	ts := ps.issued[purchaseKey(member, resource)]
	i, _ := slices.BinarySearch(ts, t) // ts[i-1] < t <= ts[i]
	if i == 0 {
		return 0, false
	}
	return ts[i-1], true
}

// RejectsRefund reports whether [RefundOfTransferredResource] rejects line:
// a refund with a resource_id whose member's latest accepted purchase of
// that resource, issued strictly before it, was issued under another
// relationship than the refund (another account paid for the member).
func (p *Plan) RejectsRefund(line *billing.UsageLine, ps *Purchases) bool {
	if !p.NeedsPurchases(line) {
		return false
	}
	bought, ok := ps.Latest(line.AccountID, line.ResourceID, line.IssuedAt)
	return ok && p.RelationshipPayer(line.AccountID, bought) != p.RelationshipPayer(line.AccountID, line.IssuedAt)
}
