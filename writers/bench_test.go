package writers

import (
	"fmt"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
)

// BenchmarkWriteBills writes 500,000 sorted lines into bills files of 100
// payers over three cycles, with two carried-through columns.
func BenchmarkWriteBills(b *testing.B) {
	const lines = 500_000
	ls := benchLines(time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("+08:00", 8*3600)), 50)
	b.ResetTimer()
	for b.Loop() {
		dir := b.TempDir()
		w, err := NewBills(dir, []string{"region", "instance_name"})
		if err != nil {
			panic(err)
		}
		for i := 0; i < lines; i++ {
			l := ls[i%len(ls)]
			l.Cycle = billing.Cycle(2024*12 + i*3/lines)
			payer := fmt.Sprintf("2%015d", i*100/lines)
			if err := w.Write(&l, &Decided{Payer: payer, DecidedBy: "k1", DiscountOwner: payer, DiscountID: "d1", DiscountAmount: l.ListAmount / 10}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// benchLines returns 1,000 hourly lines from start over the given number of
// members, with two carried-through columns.
func benchLines(start time.Time, members int) []billing.UsageLine {
	base := billing.Time(start.UnixMicro())
	ls := make([]billing.UsageLine, 1000)
	for i := range ls {
		ls[i] = billing.UsageLine{LineID: fmt.Sprintf("L%09d", i), AccountID: fmt.Sprintf("1%015d", i%members), ProductCode: "ecs",
			SubscriptionType: billing.PayAsYouGo, UsageStart: base + billing.Time(i)*3600e6, UsageEnd: base + billing.Time(i+1)*3600e6,
			ListAmount: billing.Amount(i * 1234567), Currency: "CNY", PaymentStatus: billing.Settled, IssuedAt: base + billing.Time(i+2)*3600e6,
			Extra: []billing.NullString{{S: "cn-hangzhou", Valid: true}, {S: `db "primary"`, Valid: true}}}
	}
	return ls
}
