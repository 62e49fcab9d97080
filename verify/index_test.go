package verify

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/writers"
)

// TestIndexCheck writes three payers over two cycles in two currencies
// and requires verify's index check to pass the index as written and to
// name index/payers.parquet for each kind of wrong row.
func TestIndexCheck(t *testing.T) {
	dir := t.TempDir()
	w, err := writers.NewBills(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for c := range 2 {
		for p, n := range []int{4, 9, 1} {
			for i := range n {
				l := billing.UsageLine{LineID: fmt.Sprintf("L%d-%d-%d", c, p, i), AccountID: "m", ProductCode: "ecs", Currency: []string{"CNY", "USD"}[i%2],
					ListAmount: billing.Amount(1000*i + 7), UsageEnd: billing.Time(i), Cycle: billing.Cycle(2024*12 + c)}
				if err := w.Write(&l, &writers.Decided{Payer: fmt.Sprintf("P%d", p), DiscountOwner: "m", DiscountRule: "member"}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	outs, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, o := range outs {
		if strings.HasPrefix(o.Path, "bills/") {
			files = append(files, o.Path)
		}
	}
	var rows []writers.IndexRow
	if err := writers.ReadIndex(filepath.Join(dir, writers.IndexPath), func(x *writers.IndexRow) error {
		rows = append(rows, *x)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || len(rows) < 6 {
		t.Fatalf("%d files, %d index rows: want two files and a row per payer and currency", len(files), len(rows))
	}
	check := func(rows []writers.IndexRow) []string {
		var problems []string
		root := t.TempDir()
		y, err := writers.NewIndex(root)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			if err := y.Write(&rows[i]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := y.Close(); err != nil {
			t.Fatal(err)
		}
		ic := newIndexCheck()
		if err := ic.load(root, files); err != nil {
			t.Fatal(err)
		}
		if err := scanBills(dir, files, func(b *billFacts) error { ic.add(b); return nil }); err != nil {
			t.Fatal(err)
		}
		ic.check(files, func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) })
		return problems
	}
	if p := check(rows); len(p) > 0 {
		t.Fatalf("the index as written: %v", p)
	}
	for name, damage := range map[string]func([]writers.IndexRow) []writers.IndexRow{
		"first row moved": func(r []writers.IndexRow) []writers.IndexRow { r[1].FirstRow++; return r },
		"a row dropped":   func(r []writers.IndexRow) []writers.IndexRow { return r[1:] },
		"amount changed":  func(r []writers.IndexRow) []writers.IndexRow { r[2].ListAmount.Add(1); return r },
		"another file":    func(r []writers.IndexRow) []writers.IndexRow { r[0].File = "bills/x.parquet"; return r },
	} {
		p := check(damage(append([]writers.IndexRow(nil), rows...)))
		if len(p) == 0 || !strings.Contains(strings.Join(p, "\n"), writers.IndexPath) {
			t.Errorf("%s: verify's index check said %q", name, p)
		}
	}
}
