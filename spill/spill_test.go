package spill

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestSorterSpillsAndReplays(t *testing.T) {
	for _, budget := range []int{1 << 16, 1 << 30} { // many runs; all in memory
		t.Run(fmt.Sprintf("budget=%d", budget), func(t *testing.T) {
			s := New(t.TempDir(), "t", budget)
			r := rand.New(rand.NewPCG(1, 2))
			var want []string
			for i := 0; i < 20000; i++ {
				k := fmt.Sprintf("%08d-%d", r.IntN(5000), i)
				want = append(want, k)
				if err := s.Add([]byte(k), []byte("payload-"+k)); err != nil {
					t.Fatal(err)
				}
			}
			slices.Sort(want)
			for pass := 0; pass < 2; pass++ { // Merge replays
				var got []string
				for _, r := range merged(t, s) {
					if r[1] != "payload-"+r[0] {
						t.Fatalf("payload %q for key %q", r[1], r[0])
					}
					got = append(got, r[0])
				}
				if !slices.Equal(got, want) {
					t.Fatalf("pass %d: Merge() gave %d records out of order or lost (want %d)", pass, len(got), len(want))
				}
			}
			if budget == 1<<16 && s.Runs() < 2 {
				t.Errorf("Runs() = %d, want several with a small budget", s.Runs())
			}
		})
	}
}

// TestRunsStayFew: the budget doubles every 256 runs, so the number of run
// files (and of files a merge opens) grows with the log of the input, not
// with the input.
func TestRunsStayFew(t *testing.T) {
	s := New(t.TempDir(), "t", 1<<16)
	payload := make([]byte, 1000)
	const records = 200_000 // 200 MB: 3,000 runs at a fixed 64 KiB
	for i := 0; i < records; i++ {
		if err := s.Add([]byte(fmt.Sprintf("%09d", (i*7919)%records)), payload); err != nil {
			t.Fatal(err)
		}
	}
	if s.Runs() > 256*5 {
		t.Fatalf("%d runs for %d records", s.Runs(), records)
	}
	it, err := s.Merge()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n, prev := 0, ""
	for {
		k, _, ok := it.Next()
		if !ok {
			break
		}
		if string(k) < prev {
			t.Fatalf("out of order: %s after %s", k, prev)
		}
		prev = string(k)
		n++
	}
	if n != records || it.Err() != nil {
		t.Fatalf("%d records back, %v", n, it.Err())
	}
	t.Logf("%d runs", s.Runs())
}

// TestKeyPrefixOrder: comparing by prefix first orders keys exactly as
// bytes.Compare does, also for keys shorter than the prefix and for keys
// that differ only past it.
func TestKeyPrefixOrder(t *testing.T) {
	keys := []string{"", "a", "a\x00", "ab", "abcdefgh", "abcdefgh\x00", "abcdefghi", "abcdefgi", "b", "\xff\xff\xff\xff\xff\xff\xff\xff\xff", "abcdefgh1", "abcdefgh0"}
	for _, a := range keys {
		for _, b := range keys {
			arena := []byte(a + b)
			ra := record{prefix: keyPrefix([]byte(a)), off: 0, keyLen: int32(len(a)), len: int32(len(a))}
			rb := record{prefix: keyPrefix([]byte(b)), off: int32(len(a)), keyLen: int32(len(b)), len: int32(len(b))}
			got := compareRecords(arena, ra, rb)
			want := strings.Compare(a, b)
			if got != want {
				t.Errorf("compare(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// TestEqualKeysOneOrder: records of one key come out ordered by their
// payloads, so a merge of many runs gives the order an in-memory sort does,
// whatever the budget; payloads longer than a run file's read buffer too.
func TestEqualKeysOneOrder(t *testing.T) {
	var orders [][]string
	for _, budget := range []int{1 << 16, 1 << 20, 1 << 30} {
		s := New(t.TempDir(), "t", budget)
		r := rand.New(rand.NewPCG(5, 6))
		for i := 0; i < 20000; i++ {
			k := fmt.Sprintf("k%02d", r.IntN(30))
			p := fmt.Sprintf("p%06d", r.IntN(1000000))
			if i%5000 == 0 {
				p += strings.Repeat("x", 70000) // past the 64 KiB reader
			}
			if err := s.Add([]byte(k), []byte(p)); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for _, r := range merged(t, s) {
			got = append(got, r[0]+"|"+r[1])
		}
		if !slices.IsSorted(got) || len(got) != 20000 {
			t.Fatalf("budget %d (%d runs): %d records, sorted %v", budget, s.Runs(), len(got), slices.IsSorted(got))
		}
		orders = append(orders, got)
	}
	for i := 1; i < len(orders); i++ {
		if !slices.Equal(orders[i], orders[0]) {
			t.Errorf("budget %d gave another order than budget %d", i, 0)
		}
	}
}

// merged returns s's records as Merge replays them: key and payload.
func merged(t *testing.T, s *Sorter) [][2]string {
	t.Helper()
	it, err := s.Merge()
	return collect(t, it, err)
}

// collect returns the records of a pass: key and payload.
func collect(t *testing.T, it Records, err error) [][2]string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var recs [][2]string
	for {
		k, p, ok := it.Next()
		if !ok {
			break
		}
		recs = append(recs, [2]string{string(k), string(p)})
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestMergeEveryRunCount: the merge's tournament gives the records in
// order whatever the number of runs, a power of two or not, and with runs
// of different lengths (the last one short), each pass alike.
func TestMergeEveryRunCount(t *testing.T) {
	payload := make([]byte, 1<<14)
	for runs := 1; runs <= 13; runs++ {
		s := New(t.TempDir(), "t", 1<<16)
		r := rand.New(rand.NewPCG(uint64(runs), 7))
		var want []string
		// Records of 15,000 bytes fill a 64 KiB run with four, so runs*4-1
		// records make runs runs, the last one of three.
		for i := range runs*4 - 1 {
			k := fmt.Sprintf("%06d-%d", r.IntN(50), i)
			want = append(want, k)
			if err := s.Add([]byte(k), payload[:15000]); err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(want)
		for pass := range 2 {
			var got []string
			for _, r := range merged(t, s) {
				got = append(got, r[0])
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%d runs, pass %d: got %q, want %q", runs, pass, got, want)
			}
		}
		if runs > 1 && s.Runs() != runs {
			t.Errorf("%d runs wanted, %d written", runs, s.Runs())
		}
	}
}
