package writers

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/billcons/billcons/billing"
)

// TestMergeBills writes the same cycle's lines as two shards would (members
// split between them, payers shared), merges the two files, and checks the
// merged file holds every line once, in the bills' order, with an index
// verify's check accepts.
func TestMergeBills(t *testing.T) {
	cycle := billing.Cycle(2024*12 + 2)
	var files []string
	var want []string
	for shard := range 2 {
		dir := t.TempDir()
		w, err := NewBills(dir, []string{"region"})
		if err != nil {
			t.Fatal(err)
		}
		for p := range 3 { // payers P0..P2, each with members of both shards
			for m := range 4 {
				if m%2 != shard {
					continue
				}
				for i := range 3 {
					l := billing.UsageLine{LineID: fmt.Sprintf("L%d%d%d", p, m, i), AccountID: fmt.Sprintf("m%d", m), ProductCode: "ecs",
						Currency: []string{"CNY", "USD"}[i%2], ListAmount: billing.Amount(100*i + 1), UsageEnd: billing.Time(i), Cycle: cycle,
						SubscriptionType: billing.PayAsYouGo, PaymentStatus: billing.Settled, ChargeType: billing.ChargeUsage,
						Extra: []billing.NullString{{S: "cn", Valid: i == 0}}}
					d := Decided{Payer: fmt.Sprintf("P%d", p), DiscountOwner: "o", DiscountRule: "member", DiscountAmount: 1}
					if err := w.Write(&l, &d); err != nil {
						t.Fatal(err)
					}
					want = append(want, fmt.Sprintf("%s %s %s %s", d.Payer, l.AccountID, l.LineID, l.Currency))
				}
			}
		}
		outs, err := w.Close()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, filepath.Join(dir, outs[0].Path))
	}
	root := t.TempDir()
	outs, err := MergeBills(root, cycle, []string{"region"}, files)
	if err != nil {
		t.Fatal(err)
	}
	bills := billsOnly(outs)
	if len(bills) != 1 || bills[0].Rows != int64(len(want)) {
		t.Fatalf("merged into %+v; want one file of %d rows", bills, len(want))
	}
	var got []string
	if err := ReadBills(root, func(b *BillRecord) error {
		got = append(got, fmt.Sprintf("%s %s %s %s", b.Payer, b.AccountID, b.LineID, b.Currency))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) { // the want lines sort as the bills do here
		t.Errorf("merged rows:\n%v\nwant\n%v", got, want)
	}
	ic := newIndexCheck()
	rels := []string{bills[0].Path}
	if err := scanBills(root, rels, func(b *billFacts) error { ic.add(b); return nil }); err != nil {
		t.Fatal(err)
	}
	var problems []string
	if err := ic.check(root, rels, func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }); err != nil || len(problems) > 0 {
		t.Errorf("the merged index: %v %v", err, problems)
	}
}

// TestMergeGroups: only files under SmallBillFile are merged, per cycle,
// in groups of at most MergedBillBytes, and a lone small file is left.
func TestMergeGroups(t *testing.T) {
	mb := int64(1 << 20)
	files := []Output{
		{Path: "bills/billing_cycle=2024-01/part-s00000-00000.parquet", Bytes: 10 * mb},
		{Path: "bills/billing_cycle=2024-01/part-s00001-00000.parquet", Bytes: 20 * mb},
		{Path: "bills/billing_cycle=2024-01/part-s00002-00000.parquet", Bytes: 100 * mb}, // large: stays
		{Path: "bills/billing_cycle=2024-02/part-s00000-00000.parquet", Bytes: 10 * mb},  // alone: stays
	}
	for i := range 20 {
		files = append(files, Output{Path: fmt.Sprintf("bills/billing_cycle=2024-03/part-s%05d-00000.parquet", i), Bytes: 60 * mb})
	}
	for i := range 40 {
		files = append(files, Output{Path: fmt.Sprintf("bills/billing_cycle=2024-04/part-s%05d-00000.parquet", i), Bytes: mb})
	}
	groups := MergeGroups(files)
	var sizes []int
	for _, g := range groups {
		sizes = append(sizes, len(g))
	}
	// 2024-01: the two small ones; 2024-03: 20 files of 60 MB, 8 to a
	// group of at most 512 MB; 2024-04: 40 files of 1 MB, 32 to a group.
	if !slices.Equal(sizes, []int{2, 8, 8, 4, 32, 8}) {
		t.Errorf("groups of %v files; want [2 8 8 4 32 8]", sizes)
	}
}
