package writers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio/parquettest"
)

// TestConcatBills writes the same cycle's lines as two shards would
// (members split between them, payers shared), concatenates the two files,
// and checks the merged file holds every line once, each file's rows in
// their order from its first row on, with row group statistics, and that an
// index naming each file's runs further in passes verify's check.
func TestConcatBills(t *testing.T) {
	cycle := billing.Cycle(2024*12 + 2)
	var files []string
	var want []string
	var index []IndexRow
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
		if err := ReadIndex(filepath.Join(dir, IndexPath), func(x *IndexRow) error {
			index = append(index, *x)
			index[len(index)-1].Cycle = billing.Cycle(shard) // which shard, for now
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	rel := "bills/billing_cycle=2024-03/part-m00000.parquet"
	out, first, err := ConcatBills(root, rel, files)
	if err != nil {
		t.Fatal(err)
	}
	if out.Rows != int64(len(want)) || len(first) != 2 || first[0] != 0 || first[1] != int64(len(want)/2) {
		t.Fatalf("merged %+v, files starting at %v; want %d rows, the second file's from %d", out, first, len(want), len(want)/2)
	}
	if sum, size, err := fileSum(filepath.Join(root, rel)); err != nil || sum != out.SHA256 || size != out.Bytes {
		t.Fatalf("the output says %d bytes, sha256 %s; the file %d, %s (%v)", out.Bytes, out.SHA256, size, sum, err)
	}
	var got []string
	if err := ReadBills(root, func(b *BillRecord) error {
		got = append(got, fmt.Sprintf("%s %s %s %s", b.Payer, b.AccountID, b.LineID, b.Currency))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) { // shard 0's rows, then shard 1's, each in order
		t.Errorf("merged rows:\n%v\nwant\n%v", got, want)
	}
	// DuckDB prunes by the row groups' statistics: they came along.
	pf := parquettest.Open(t, filepath.Join(root, rel))
	for _, rg := range pf.Metadata().RowGroups {
		if st := rg.Columns[0].MetaData.Statistics; len(st.MinValue) == 0 || len(st.MaxValue) == 0 {
			t.Errorf("a row group lost its payer statistics: %+v", st)
		}
	}
	// The shards' index rows, moved into the merged file, name its runs.
	idx, err := NewIndex(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range index {
		x.FirstRow += first[int(x.Cycle)]
		x.File, x.Cycle = rel, cycle
		if err := idx.Write(&x); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	// Each moved index row's rows of the merged file are its payer's and
	// currency's (verify's own index check is tested in package verify).
	var payerAt, curAt []string
	if err := ReadBills(root, func(b *BillRecord) error {
		payerAt, curAt = append(payerAt, b.Payer), append(curAt, b.Currency)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var covered int64
	if err := ReadIndex(filepath.Join(root, IndexPath), func(x *IndexRow) error {
		for r := x.FirstRow; r < x.FirstRow+x.Rows; r++ {
			if r >= int64(len(payerAt)) || payerAt[r] != x.Payer {
				t.Errorf("the merged index: %s rows %d+%d are not all %s's", x.File, x.FirstRow, x.Rows, x.Payer)
				break
			}
		}
		covered += x.Rows
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if covered < int64(len(payerAt)) {
		t.Errorf("the merged index covers %d of %d rows", covered, len(payerAt))
	}
	// Files of other columns are refused.
	other := t.TempDir()
	w, err := NewBills(other, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := billing.UsageLine{LineID: "x", AccountID: "m", Currency: "CNY", Cycle: cycle}
	if err := w.Write(&l, &Decided{Payer: "P"}); err != nil {
		t.Fatal(err)
	}
	outs, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ConcatBills(t.TempDir(), rel, []string{files[0], filepath.Join(other, outs[0].Path)}); err == nil {
		t.Error("files of different columns were merged")
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

// fileSum returns a file's SHA-256 and size.
func fileSum(p string) (string, int64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", 0, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), int64(len(b)), nil
}
