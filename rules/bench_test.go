package rules

import (
	"fmt"
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
