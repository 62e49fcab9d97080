package writers

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
)

// manyPayersLines is the many-payers shape of issue 13 in small: 200,000
// lines over 2,000 payers in one cycle, 100 lines to a bills file, as gen
// --members 100000 makes them (about 140 lines a file at 10M lines).
const (
	manyLines  = 200_000
	manyPayers = 2_000
)

// writeMany writes the many-payers lines into dir's bills, over payers
// payers.
func writeMany(b *testing.B, dir string, ls []billing.UsageLine, payers int) []Output {
	w := NewBills(dir, []string{"region", "instance_name"})
	for i := 0; i < manyLines; i++ {
		l := ls[i%len(ls)]
		l.Cycle = billing.Cycle(2024*12 + 1)
		payer := fmt.Sprintf("2%015d", i*payers/manyLines)
		if err := w.Write(&l, &Decided{Payer: payer, DiscountOwner: payer, DiscountRule: "member"}); err != nil {
			b.Fatal(err)
		}
	}
	out, err := w.Close()
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkWriteBillsManyPayers writes 2,000 small bills files, and as its
// floor, the same files with the same bytes from memory: the folders made,
// each file created, written and closed, by as many goroutines as the bills
// writer uses (BillWriters). The ratio of the two is issue 13's measure
// (at most 1.3). payers=1 writes the same lines as one file, and its
// floor: the differences between payers=2000 and payers=1 are what 1,999
// more files cost the writer and the file system.
func BenchmarkWriteBillsManyPayers(b *testing.B) {
	for _, payers := range []int{manyPayers, 1} {
		benchWriteMany(b, payers)
	}
}

func benchWriteMany(b *testing.B, payers int) {
	ls := benchLines(time.Date(2024, 2, 1, 0, 0, 0, 0, time.FixedZone("+08:00", 8*3600)), 7)
	b.Run(fmt.Sprintf("payers=%d/bills", payers), func(b *testing.B) {
		for b.Loop() {
			writeMany(b, b.TempDir(), ls, payers)
		}
		b.ReportMetric(float64(payers)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
	})
	b.Run(fmt.Sprintf("payers=%d/floor", payers), func(b *testing.B) {
		src := b.TempDir()
		outs := writeMany(b, src, ls, payers)
		rels := make([]string, len(outs))
		files := make([][]byte, len(outs))
		for i, o := range outs {
			var err error
			rels[i] = o.Path
			if files[i], err = os.ReadFile(filepath.Join(src, o.Path)); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for b.Loop() {
			dir := b.TempDir()
			if err := WriteFloor(dir, rels, files); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(payers)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
	})
}
