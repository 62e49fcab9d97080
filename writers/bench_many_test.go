package writers

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/fixtures/bench/floor"
	"github.com/billcons/billcons/parquetio"
)

// manyPayersLines is the many-payers shape in small: 200,000
// lines over 2,000 payers in one cycle, 100 lines to a bills file, as gen
// --members 100000 makes them (about 140 lines a file at 10M lines).
const (
	manyLines  = 200_000
	manyPayers = 2_000
)

// writeMany writes the many-payers lines into dir's bills, over payers
// payers.
func writeMany(b *testing.B, dir string, ls []billing.UsageLine, payers int) []Output {
	return writePayers(b, dir, ls, manyLines, func(i int) int { return i * payers / manyLines })
}

// writePayers writes n lines, ls's in turn, into dir's bills, line i paid
// by payer number payerOf(i) (in order) in cycle 2024-01 plus that number:
// a file per payer, as many small files as a run over many short cycles
// writes. It returns the bills files written.
func writePayers(tb testing.TB, dir string, ls []billing.UsageLine, n int, payerOf func(i int) int) []Output {
	w, err := NewBills(dir, []string{"region", "instance_name"})
	if err != nil {
		panic(err)
	}
	for i := range n {
		l := ls[i%len(ls)]
		l.Cycle = billing.Cycle(2024*12 + 1 + payerOf(i))
		payer := fmt.Sprintf("2%015d", payerOf(i))
		if err := w.Write(&l, &Decided{Payer: payer, DiscountOwner: payer, DiscountRule: "member"}); err != nil {
			tb.Fatal(err)
		}
	}
	out, err := w.Close()
	if err != nil {
		tb.Fatal(err)
	}
	return billsOnly(out)
}

// BenchmarkWriteBillsManyPayers writes 2,000 small bills files, and as its
// floor, the same files with the same bytes from memory: the folders made,
// each file created, written and closed, by as many goroutines as the bills
// writer uses (BillWriters). The ratio of the two is what the bills writer
// is held to. codec-floor writes them too, each page compressed again
// first (floor.WriteCodec): what any writer of these files pays at least.
// payers=1 writes the same lines as one file, and its floors: the
// differences between payers=2000 and payers=1 are what 1,999 more files
// cost the writer and the file system (BenchmarkCostPerFile).
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
	for _, codec := range []bool{false, true} {
		name := "floor"
		if codec {
			name = "codec-floor"
		}
		b.Run(fmt.Sprintf("payers=%d/%s", payers, name), func(b *testing.B) {
			rels, data, paged := manyFiles(b, ls, payers)
			b.ResetTimer()
			for b.Loop() {
				dir := b.TempDir()
				var err error
				if codec {
					err = floor.WriteCodec(dir, rels, paged, BillWriters)
				} else {
					err = floor.Write(dir, rels, data, BillWriters)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(payers)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}

// manyFiles writes the many-payers bills over payers payers and returns
// their paths, their bytes and their pages for floor.WriteCodec.
func manyFiles(b *testing.B, ls []billing.UsageLine, payers int) ([]string, [][]byte, []*floor.PagedFile) {
	src := b.TempDir()
	outs := writeMany(b, src, ls, payers)
	rels := make([]string, len(outs))
	data := make([][]byte, len(outs))
	paged := make([]*floor.PagedFile, len(outs))
	for i, o := range outs {
		var err error
		rels[i] = o.Path
		if data[i], err = os.ReadFile(filepath.Join(src, o.Path)); err != nil {
			b.Fatal(err)
		}
		if paged[i], err = floor.CutPages(data[i], parquetio.PageCodec); err != nil {
			b.Fatal(err)
		}
	}
	return rels, data, paged
}

// BenchmarkCostPerFile is what a bills file costs beyond its lines, side by
// side with what it costs the file system: the many-payers lines written
// as 2,000 files and as one, by the bills writer and by the floors, in
// turn in every round, in CPU time (user and system, the whole process).
// The metrics are the CPU each of the 1,999 more files took: bills-us/file
// the writer's, floor-us/file the file system's (floor.Write),
// codec-us/file with the pages compressed (floor.WriteCodec), and
// bills/floor their ratio (what a file costs beyond its bytes).
func BenchmarkCostPerFile(b *testing.B) {
	ls := benchLines(time.Date(2024, 2, 1, 0, 0, 0, 0, time.FixedZone("+08:00", 8*3600)), 7)
	type shape struct {
		rels  []string
		data  [][]byte
		paged []*floor.PagedFile
	}
	var shapes [2]shape
	for i, payers := range []int{manyPayers, 1} {
		shapes[i].rels, shapes[i].data, shapes[i].paged = manyFiles(b, ls, payers)
	}
	var bills, fsFloor, codec [2]time.Duration
	b.ResetTimer()
	for b.Loop() {
		for i, payers := range []int{manyPayers, 1} {
			sh := &shapes[i]
			bills[i] += cpuOf(func() { writeMany(b, b.TempDir(), ls, payers) })
			fsFloor[i] += cpuOf(func() {
				if err := floor.Write(b.TempDir(), sh.rels, sh.data, BillWriters); err != nil {
					b.Fatal(err)
				}
			})
			codec[i] += cpuOf(func() {
				if err := floor.WriteCodec(b.TempDir(), sh.rels, sh.paged, BillWriters); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
	perFile := func(d [2]time.Duration) float64 {
		return float64(d[0]-d[1]) / float64(b.N) / float64(manyPayers-1) / 1e3
	}
	b.ReportMetric(perFile(bills), "bills-us/file")
	b.ReportMetric(perFile(fsFloor), "floor-us/file")
	b.ReportMetric(perFile(codec), "codec-us/file")
	b.ReportMetric(perFile(bills)/perFile(fsFloor), "bills/floor")
}

// cpuOf returns the CPU time (user and system) the process spent while f
// ran.
func cpuOf(f func()) time.Duration {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	f()
	return cpu() - start
}

// BenchmarkStatePerFile is the memory a run keeps for each bills file it
// writes (state per bills file): the live heap after writing
// 20,000 one-payer files and after 5,000, with the writer closed and its
// outputs kept for the manifest, over the 15,000 more files (B/file); and
// the manifest's bytes per file (manifest-B/file), marshalled whole when
// the run ends.
func BenchmarkStatePerFile(b *testing.B) {
	ls := benchLines(time.Date(2024, 2, 1, 0, 0, 0, 0, time.FixedZone("+08:00", 8*3600)), 7)
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	held := func(files int) (uint64, []Output) {
		before := live()
		outs := writePayers(b, b.TempDir(), ls, files, func(i int) int { return i })
		after := live()
		runtime.KeepAlive(outs)
		return after - min(after, before), outs
	}
	var perFile, manifest float64
	for b.Loop() {
		small, _ := held(5_000)
		large, outs := held(20_000)
		perFile += (float64(large) - float64(small)) / 15_000
		js, err := json.MarshalIndent(&Manifest{Outputs: outs}, "", "  ")
		if err != nil {
			b.Fatal(err)
		}
		manifest += float64(len(js)) / float64(len(outs))
	}
	b.ReportMetric(perFile/float64(b.N), "B/file")
	b.ReportMetric(manifest/float64(b.N), "manifest-B/file")
}
