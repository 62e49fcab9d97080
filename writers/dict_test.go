package writers

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/parquetio/parquettest"
	"github.com/parquet-go/parquet-go/format"
)

// TestDictionaryChosen: a text column of a few repeated values is written
// dictionary encoded, one of distinct values PLAIN, and a file of both is
// read back with its values and statistics (by parquet-go, whose reader
// knows both ways).
func TestDictionaryChosen(t *testing.T) {
	dir := t.TempDir()
	w, err := NewBills(dir, []string{"region"})
	if err != nil {
		panic(err)
	}
	var ls []billing.UsageLine
	var ds []Decided
	regions := []string{"cn-hangzhou", "", "cn-beijing", "ap-southeast-1"}
	for i := range 3000 {
		l := billing.UsageLine{LineID: fmt.Sprintf("L%07d", i), AccountID: fmt.Sprintf("1%05d", i/300), ProductCode: "ecs",
			Currency: "CNY", Cycle: billing.Cycle(2024*12 + 1),
			Extra: []billing.NullString{{S: regions[i*7%len(regions)], Valid: i%5 != 0}}}
		d := Decided{Payer: "P", DiscountOwner: l.AccountID, DiscountRule: "member"}
		ls, ds = append(ls, l), append(ds, d)
		if err := w.Write(&ls[i], &ds[i]); err != nil {
			t.Fatal(err)
		}
	}
	outs, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, outs[0].Path)
	pf := parquettest.Open(t, path)
	dict := map[string]bool{}
	for _, cc := range pf.Metadata().RowGroups[0].Columns {
		md := cc.MetaData
		dict[md.PathInSchema[0]] = slices.Contains(md.Encoding, format.RLEDictionary)
		if dict[md.PathInSchema[0]] != (md.DictionaryPageOffset > 0) {
			t.Errorf("%s: encodings %v, dictionary page at %d", md.PathInSchema[0], md.Encoding, md.DictionaryPageOffset)
		}
	}
	for col, want := range map[string]bool{"account_id": true, "product_code": true, "currency": true, "region": true,
		"discount_owner": true, "line_id": false, "list_amount": false} {
		if dict[col] != want {
			t.Errorf("%s: dictionary encoded %v, want %v", col, dict[col], want)
		}
	}
	got := parquettest.Rows(t, path)
	for i := range ls {
		if w := fmt.Sprint(billRow(&ls[i], &ds[i])); fmt.Sprint(got[i]) != w {
			t.Fatalf("row %d:\n got %q\nwant %q", i, got[i], w)
		}
	}
	parquettest.CheckStats(t, pf, got, parquetio.StatsMax)
}
