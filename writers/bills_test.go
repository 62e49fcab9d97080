package writers

import (
	"fmt"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
)

// TestReusedWriterSameBytes: a bills part written with the file buffers and
// row groups an earlier part left behind (Bills reuses them) has
// the bytes a new writer gives the same rows. Parts of 1 to 70,000 rows: past a row
// group (32,768 rows), past a batch (4,096), with nulls in some parts and
// not in others, so that state left over from any of them would show.
func TestReusedWriterSameBytes(t *testing.T) {
	loc := time.FixedZone("+08:00", 8*3600)
	base := billing.Time(time.Date(2024, 2, 1, 0, 0, 0, 0, loc).UnixMicro())
	sizes := []int{3, 5000, 1, 70000, 2, 4096, 17}
	line := func(part, i int) (billing.UsageLine, Decided) {
		l := billing.UsageLine{LineID: fmt.Sprintf("L%d-%d", part, i), AccountID: fmt.Sprintf("1%05d", i%(part+2)), ProductCode: "ecs",
			SubscriptionType: billing.PayAsYouGo, UsageStart: base + billing.Time(i)*3600e6, UsageEnd: base + billing.Time(i+1)*3600e6,
			ListAmount: billing.Amount(i*7919 - part), Currency: "CNY", PaymentStatus: billing.Settled, IssuedAt: base,
			Cycle: billing.Cycle(2024*12 + 1 + part)} // a cycle per part: a file each
		d := Decided{Payer: fmt.Sprintf("P%d", part), DiscountOwner: "o", DiscountRule: "member"}
		if part%2 == 1 {
			l.Extra = []billing.NullString{{S: "cn-hangzhou", Valid: true}}
			l.SettledAt, l.HasSettledAt = base+1, true
			d.DecidedBy, d.HeldBy, d.DiscountID = "k", "h", "d"
		}
		return l, d
	}
	write := func(dir string, parts []int) []Output {
		w, err := NewBills(dir, []string{"region"})
		if err != nil {
			panic(err)
		}
		for _, p := range parts {
			for i := 0; i < sizes[p]; i++ {
				l, d := line(p, i)
				if err := w.Write(&l, &d); err != nil {
					t.Fatal(err)
				}
			}
		}
		out, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		return billsOnly(out)
	}
	all := make([]int, len(sizes))
	for i := range all {
		all[i] = i
	}
	reused := write(t.TempDir(), all)
	if len(reused) != len(sizes) {
		t.Fatalf("%d parts written, want %d", len(reused), len(sizes))
	}
	for p := range sizes {
		fresh := write(t.TempDir(), []int{p})
		if fresh[0] != reused[p] {
			t.Errorf("part %d (%d rows): reused writer wrote %+v, a new one %+v", p, sizes[p], reused[p], fresh[0])
		}
	}
}

// billsOnly is the bills files of a Bills writer's outputs: all but the
// index, which comes last.
func billsOnly(outs []Output) []Output {
	if n := len(outs); n > 0 && outs[n-1].Path == IndexPath {
		return outs[:n-1]
	}
	return outs
}
