package writers

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/billcons/billcons/billing"
)

// TestIndexNamesEachPayersRows writes three payers over two cycles in two
// currencies, with files cut every 7 rows so that payers span files, and
// checks the index row by row against the files (verify's own index check
// is tested in package verify).
func TestIndexNamesEachPayersRows(t *testing.T) {
	defer func(n int) { maxRowsPerFile = n }(maxRowsPerFile)
	maxRowsPerFile = 7
	dir := t.TempDir()
	w, err := NewBills(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		lines int64
		list  billing.Sum
	}
	sums := map[string]*want{} // cycle payer currency
	for c := range 2 {
		for p, n := range []int{4, 9, 1} {
			payer := fmt.Sprintf("P%d", p)
			for i := range n {
				cur := []string{"CNY", "USD"}[i%2]
				l := billing.UsageLine{LineID: fmt.Sprintf("L%d-%d-%d", c, p, i), AccountID: "m", ProductCode: "ecs", Currency: cur,
					ListAmount: billing.Amount(1000*i + 7), UsageEnd: billing.Time(i), Cycle: billing.Cycle(2024*12 + c)}
				if err := w.Write(&l, &Decided{Payer: payer, DiscountOwner: "m", DiscountRule: "member"}); err != nil {
					t.Fatal(err)
				}
				k := fmt.Sprint(l.Cycle, payer, cur)
				if sums[k] == nil {
					sums[k] = &want{}
				}
				sums[k].lines++
				sums[k].list.Add(l.ListAmount)
			}
		}
	}
	outs, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	files := []string{}
	for _, o := range billsOnly(outs) {
		files = append(files, o.Path)
	}
	if len(files) != 4 { // 14 rows a cycle: 7 + 7
		t.Fatalf("files %v, want two a cycle", files)
	}
	// Every index row's slice holds only its payer, and the sums add up.
	payerAt := map[string][]string{}
	for _, f := range files {
		if err := ReadBills(dir, func(b *BillRecord) error {
			if b.File == f {
				payerAt[f] = append(payerAt[f], b.Payer)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]*want{}
	var rows []IndexRow
	if err := ReadIndex(filepath.Join(dir, IndexPath), func(x *IndexRow) error {
		rows = append(rows, *x)
		for r := x.FirstRow; r < x.FirstRow+x.Rows; r++ {
			if payerAt[x.File][r] != x.Payer {
				t.Errorf("index: %s rows %d+%d hold %s at %d", x.File, x.FirstRow, x.Rows, payerAt[x.File][r], r)
			}
		}
		k := fmt.Sprint(x.Cycle, x.Payer, x.Currency)
		if got[k] == nil {
			got[k] = &want{}
		}
		got[k].lines += x.LineCount
		got[k].list.AddSum(x.ListAmount)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for k, s := range sums {
		if got[k] == nil || *got[k] != *s {
			t.Errorf("%s: index sums %+v, the lines %+v", k, got[k], s)
		}
	}
	if len(got) != len(sums) {
		t.Errorf("index has %d cycle-payer-currencies, the lines %d", len(got), len(sums))
	}
}
