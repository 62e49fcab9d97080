package rules

import (
	"testing"

	"github.com/billcons/billcons/billing"
)

func prepaidLine(t *testing.T, charge billing.ChargeType, sub billing.SubscriptionType, resource, issued string) billing.UsageLine {
	l := line(t, "l", "m", "ecs", "2024-01", issued, issued, issued, "s")
	l.ChargeType, l.SubscriptionType, l.ResourceID = charge, sub, resource
	return l
}

// TestAdjustmentInTrusteeship tests [AdjustmentInTrusteeship]: seed 000, Additional notes ("Price
// adjustments are not supported for prepaid orders from a managed member
// account"), by the relationships at the line's issued_at.
func TestAdjustmentInTrusteeship(t *testing.T) {
	p := NewPlan([]billing.Change{
		change(t, 0, "k1", "m", "trusteeship", "MA", "2024-01-10T00:00:00+08:00"),
		change(t, 1, "k2", "m", "none", "", "2024-02-15T00:00:00+08:00"),
	}, cst, TimingEndTime)
	for _, tt := range []struct {
		name   string
		charge billing.ChargeType
		sub    billing.SubscriptionType
		issued string
		want   bool
	}{
		{"before the trusteeship", billing.ChargeAdjustment, billing.Subscription, "2024-01-09T23:59:59+08:00", false},
		{"at the change: the state after it", billing.ChargeAdjustment, billing.Subscription, "2024-01-10T00:00:00+08:00", true},
		{"in trusteeship", billing.ChargeAdjustment, billing.Subscription, "2024-02-01T00:00:00+08:00", true},
		{"after it ended", billing.ChargeAdjustment, billing.Subscription, "2024-02-15T00:00:00+08:00", false},
		{"pay-as-you-go is not a prepaid order", billing.ChargeAdjustment, billing.PayAsYouGo, "2024-02-01T00:00:00+08:00", false},
		{"not an adjustment", billing.ChargeRefund, billing.Subscription, "2024-02-01T00:00:00+08:00", false},
	} {
		l := prepaidLine(t, tt.charge, tt.sub, "i-1", tt.issued)
		if got := p.RejectsAdjustment(&l); got != tt.want {
			t.Errorf("%s: RejectsAdjustment() = %v, want %v [%s: %s]", tt.name, got, tt.want, AdjustmentInTrusteeship.Code, AdjustmentInTrusteeship.Seed)
		}
	}
}

// TestRefundOfTransferredResource tests [RefundOfTransferredResource]: seed 000, Additional notes (transferred
// resources "have no financial value, meaning you cannot receive a
// refund"); seed 001, rule 6.
func TestRefundOfTransferredResource(t *testing.T) {
	p := NewPlan([]billing.Change{
		change(t, 0, "k1", "m", "trusteeship", "MA", "2024-01-10T00:00:00+08:00"),
		change(t, 1, "k2", "m", "trusteeship", "MB", "2024-02-15T00:00:00+08:00"),
	}, cst, TimingEndTime)
	var ps Purchases
	for _, b := range []struct{ resource, issued string }{
		{"i-1", "2024-01-05T00:00:00+08:00"}, // under m itself
		{"i-2", "2024-01-20T00:00:00+08:00"}, // under MA
		{"i-2", "2024-02-20T00:00:00+08:00"}, // under MB
	} {
		l := prepaidLine(t, billing.ChargePurchase, billing.Subscription, b.resource, b.issued)
		if !p.IsPurchaseToRecord(&l) {
			t.Fatalf("IsPurchaseToRecord(%s) = false", b.resource)
		}
		ps.Add(&l)
	}
	ps.Sort()
	for _, tt := range []struct {
		name, resource, issued string
		want                   bool
	}{
		{"same relationship (m pays itself)", "i-1", "2024-01-08T00:00:00+08:00", false},
		{"bought by m, refunded under MA", "i-1", "2024-02-10T00:00:00+08:00", true},
		{"bought and refunded under MA", "i-2", "2024-02-01T00:00:00+08:00", false},
		{"bought under MA, refunded under MB: the latest purchase strictly before counts", "i-2", "2024-02-16T00:00:00+08:00", true},
		{"the latest purchase before is under MB: same", "i-2", "2024-02-21T00:00:00+08:00", false},
		{"a purchase at the same instant does not count", "i-2", "2024-02-20T00:00:00+08:00", true},
		{"no purchase before the refund", "i-9", "2024-02-21T00:00:00+08:00", false},
	} {
		l := prepaidLine(t, billing.ChargeRefund, billing.Subscription, tt.resource, tt.issued)
		if got := p.RejectsRefund(&l, &ps); got != tt.want {
			t.Errorf("%s: RejectsRefund() = %v, want %v [%s: %s]", tt.name, got, tt.want, RefundOfTransferredResource.Code, RefundOfTransferredResource.Seed)
		}
	}
	// A member without changes pays for itself at every instant: its
	// refunds never wait for purchases.
	l := prepaidLine(t, billing.ChargeRefund, billing.Subscription, "i-1", "2024-02-10T00:00:00+08:00")
	l.AccountID = "solo"
	if p.NeedsPurchases(&l) {
		t.Error("NeedsPurchases(member without changes) = true; its refunds can be decided while reading")
	}
}
