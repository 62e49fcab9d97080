package rules

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
)

// BenchmarkAssign: Observe and Assign over a million lines of 5,000 members
// with two or three changes each, the shape billcons gen writes.
func BenchmarkAssign(b *testing.B) {
	loc := time.FixedZone("+08:00", 8*3600)
	base := billing.Time(time.Date(2024, 1, 1, 0, 0, 0, 0, loc).UnixMicro())
	const members, lines = 5000, 1 << 20
	var changes []billing.Change
	for m := 0; m < members; m++ {
		for k := 0; k < 2+m%2; k++ {
			changes = append(changes, billing.Change{ChangeID: fmt.Sprintf("c%d-%d", m, k), AccountID: fmt.Sprintf("m%d", m),
				Policy: billing.PolicyTrusteeship, ManagementAccountID: fmt.Sprintf("MA%d", k), ChangedAt: base + billing.Time(k)*30*24*3600e6})
		}
	}
	accepted, _ := ValidateChanges(changes, nil)
	ls := make([]billing.UsageLine, 4096)
	for i := range ls {
		start := base + billing.Time(i%2000)*3600e6
		ls[i] = billing.UsageLine{AccountID: fmt.Sprintf("m%d", i%members), ProductCode: []string{"ecs", "oss"}[i%2],
			Cycle: billing.CycleOf(start, loc), UsageStart: start, UsageEnd: start + 3600e6, IssuedAt: start + 7200e6,
			PaymentStatus: billing.Settled + billing.PaymentStatus(i%2)}
	}
	b.ResetTimer()
	for b.Loop() {
		p := NewPlan(accepted, loc, TimingEndTime)
		for i := 0; i < lines; i++ {
			p.Observe(&ls[i%len(ls)])
		}
		for i := 0; i < lines; i++ {
			p.Assign(&ls[i%len(ls)])
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPlanMemory reports what a run keeps per accepted change, with
// ids as long as billcons gen's and a hold on one product: the accepted
// changes (with their strings) and the plan indexing them, the per-change
// state a run holds besides its line sorts (the target: under 500 bytes).
// B/change is all of it; plan-B/change the plan alone.
func BenchmarkPlanMemory(b *testing.B) {
	loc := time.FixedZone("+08:00", 8*3600)
	base := billing.Time(time.Date(2024, 1, 1, 0, 0, 0, 0, loc).UnixMicro())
	const n = 100_000
	var perChange, perPlan float64
	for b.Loop() {
		var before, mid, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		changes := make([]billing.Change, n)
		for i := range changes {
			changes[i] = billing.Change{ChangeID: fmt.Sprintf("chg-%07d", i), AccountID: fmt.Sprintf("1%015d", i),
				Policy: billing.PolicyTrusteeship, ManagementAccountID: fmt.Sprintf("2%015d", i/300), ChangedAt: base + billing.Time(i)*1e6}
		}
		accepted, _ := ValidateChanges(changes, nil)
		changes = nil
		runtime.GC()
		runtime.ReadMemStats(&mid)
		p := NewPlan(accepted, loc, TimingEndTime)
		for i := range accepted {
			c := &accepted[i]
			l := billing.UsageLine{AccountID: c.AccountID, ProductCode: "ecs", Cycle: billing.CycleOf(c.ChangedAt, loc),
				IssuedAt: c.ChangedAt - 1, PaymentStatus: billing.Unsettled}
			p.Observe(&l)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perChange = float64(after.HeapAlloc-before.HeapAlloc) / n
		perPlan = float64(after.HeapAlloc-mid.HeapAlloc) / n
		runtime.KeepAlive(p)
		runtime.KeepAlive(accepted)
	}
	b.ReportMetric(perChange, "B/change")
	b.ReportMetric(perPlan, "plan-B/change")
}
