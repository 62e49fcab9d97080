package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/verify"
	"github.com/billcons/billcons/writers"
)

// genDataset writes random usage and changes CSV files and returns, for each
// currency, the exact sum of the lines that must be billed (first occurrence
// of each valid line_id) and the set of those ids.
func genDataset(t *testing.T, dir string, seed uint64, n int) (map[string]billing.Sum, map[string]bool) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed*7+1))
	var u strings.Builder
	u.WriteString("line_id,account_id,product_code,billing_cycle,subscription_type,usage_start,usage_end,list_amount,currency,payment_status,issued_at,settled_at,note\n")
	want := map[string]billing.Sum{}
	ids := map[string]bool{}
	loc := time.FixedZone("+08:00", 8*3600)
	base := time.Date(2023, 1, 1, 0, 0, 0, 0, loc)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("L%05d", i)
		if i > 0 && r.IntN(20) == 0 {
			id = fmt.Sprintf("L%05d", r.IntN(i)) // a duplicate id
		}
		start := base.Add(time.Duration(r.IntN(90*24)) * time.Hour)
		end := start.Add(time.Duration(1+r.IntN(24)) * time.Hour)
		cycle := fmt.Sprintf("%04d-%02d", start.Year(), start.Month())
		amount := fmt.Sprintf("%d.%09d", r.IntN(2000)-200, r.IntN(1e9))
		if strings.HasPrefix(amount, "-") && amount[1] == '0' {
			amount = amount[1:]
		}
		cur := []string{"CNY", "USD"}[r.IntN(2)]
		status, settled := "settled", ""
		switch r.IntN(10) {
		case 0:
			status = "unsettled"
		case 1:
			settled = end.Add(time.Duration(r.IntN(30*24)) * time.Hour).Format(time.RFC3339)
		}
		bad := r.IntN(25) == 0
		if bad {
			amount = "12,5"
		}
		fmt.Fprintf(&u, "%s,m%d,%s,%s,payg,%s,%s,%s,%s,%s,%s,%s,\"n, %d\"\n", id, r.IntN(20), []string{"ecs", "oss", "rds"}[r.IntN(3)], cycle,
			start.Format(time.RFC3339), end.Format(time.RFC3339), amount, cur, status, end.Add(time.Hour).Format(time.RFC3339), settled, i)
		if !bad && !ids[id] {
			ids[id] = true
			a, err := billing.ParseAmount(amount)
			if err != nil {
				t.Fatal(err)
			}
			s := want[cur]
			s.Add(a)
			want[cur] = s
		}
	}
	var c strings.Builder
	c.WriteString("change_id,account_id,policy,management_account_id,changed_at\n")
	for i := 0; i < 40; i++ {
		at := base.Add(time.Duration(r.IntN(90*24*60)) * time.Minute)
		pol, mgr := "trusteeship", fmt.Sprintf("M%d", r.IntN(3))
		if r.IntN(4) == 0 {
			pol, mgr = "none", ""
		}
		fmt.Fprintf(&c, "k%02d,m%d,%s,%s,%s\n", i, r.IntN(20), pol, mgr, at.Format(time.RFC3339))
	}
	os.WriteFile(filepath.Join(dir, "usage.csv"), []byte(u.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "changes.csv"), []byte(c.String()), 0o644)
	return want, ids
}

// TestPropertyRandomData checks the contract's invariants on random data:
// every accepted line is billed exactly once, totals are conserved per
// currency, and the same inputs give byte-identical bills and summary whether
// the lines are sorted in memory or spilled to many runs on disk.
func TestPropertyRandomData(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			dir := t.TempDir()
			want, ids := genDataset(t, dir, seed, 4000)
			run := func(out string, spill int) {
				t.Helper()
				_, err := Run(context.Background(), Config{
					Usage: []string{filepath.Join(dir, "usage.csv")}, Changes: []string{filepath.Join(dir, "changes.csv")},
					Out: filepath.Join(dir, out), Timing: rules.TimingEndTime, MaxRejectRatio: -1, SpillBytes: spill,
				})
				if err != nil {
					t.Fatalf("Run(%s) = %v", out, err)
				}
			}
			run("spilled", 64<<10) // many runs on disk
			run("memory", 1<<30)   // one in-memory sort

			problems, err := verify.Dir(filepath.Join(dir, "spilled"))
			if err != nil || len(problems) > 0 {
				t.Fatalf("Verify() = %v, %v", problems, err)
			}
			got := map[string]billing.Sum{}
			billed := map[string]int{}
			err = writers.ReadBills(filepath.Join(dir, "spilled"), func(b *writers.BillRecord) error {
				billed[b.LineID]++
				s := got[b.Currency]
				s.Add(b.Amount)
				got[b.Currency] = s
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for id := range ids {
				if billed[id] != 1 {
					t.Errorf("line %s billed %d times, want once", id, billed[id])
				}
			}
			if len(billed) != len(ids) {
				t.Errorf("billed %d distinct lines, want %d", len(billed), len(ids))
			}
			for cur, w := range want {
				if got[cur] != w {
					t.Errorf("%s billed %s, want %s", cur, got[cur], w)
				}
			}
			a, _ := writers.BillFiles(filepath.Join(dir, "spilled"))
			b, _ := writers.BillFiles(filepath.Join(dir, "memory"))
			if strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Fatalf("spilled and in-memory runs wrote different files")
			}
			for _, rel := range append(a, "summary/summary.parquet") {
				x, _ := os.ReadFile(filepath.Join(dir, "spilled", rel))
				y, _ := os.ReadFile(filepath.Join(dir, "memory", rel))
				if !bytes.Equal(x, y) || len(x) == 0 {
					t.Errorf("%s differs between the spilled and the in-memory run", rel)
				}
			}
		})
	}
}
