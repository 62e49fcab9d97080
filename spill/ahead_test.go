package spill

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// addRandom adds n records of random keys (some repeated) and payloads,
// with long ones a few of them longer than a batch merged ahead.
func addRandom(t *testing.T, s *Sorter, n int, long bool) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 8))
	for i := range n {
		k := fmt.Sprintf("%06d", r.IntN(n/2))
		p := fmt.Sprintf("p%d-%s", i, strings.Repeat("y", r.IntN(300)))
		if long && i%10000 == 0 {
			p += strings.Repeat("z", aheadBytes+1000)
		}
		if err := s.Add([]byte(k), []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMergeAheadSameRecords: a pass merged ahead gives the records Merge
// does, in its order, across many batches, with runs and all in memory.
func TestMergeAheadSameRecords(t *testing.T) {
	for _, budget := range []int{1 << 16, 1 << 20, 1 << 30} {
		t.Run(fmt.Sprintf("budget=%d", budget), func(t *testing.T) {
			s := New(t.TempDir(), "t", budget)
			addRandom(t, s, 50000, true)
			want := merged(t, s)
			recs, err := s.MergeAhead()
			if _, ahead := recs.(*Ahead); ahead != (s.Runs() > 0) {
				t.Fatalf("%d runs: merged ahead %v", s.Runs(), ahead)
			}
			got := collect(t, recs, err)
			if len(got) != len(want) {
				t.Fatalf("%d records merged ahead, %d by Merge", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("record %d: %.40q merged ahead, %.40q by Merge", i, got[i], want[i])
				}
			}
			if budget == 1<<16 && s.Runs() < 2 {
				t.Fatalf("%d runs: the ahead path is not tried", s.Runs())
			}
		})
	}
}

// TestMergeAheadClose: a pass given up early stops its goroutine (Close
// returns), and the next pass replays every record.
func TestMergeAheadClose(t *testing.T) {
	s := New(t.TempDir(), "t", 1<<16)
	addRandom(t, s, 20000, true)
	recs, err := s.MergeAhead()
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, _, ok := recs.Next(); !ok {
			t.Fatal(recs.Err())
		}
	}
	recs.Close()
	recs.Close()
	recs, err = s.MergeAhead()
	if got := collect(t, recs, err); len(got) != 20000 {
		t.Fatalf("%d records after a pass given up, want 20000", len(got))
	}
}

// TestMergeAheadReadError: a run cut short stops the pass with the error,
// after the records read before it, never with a silent end.
func TestMergeAheadReadError(t *testing.T) {
	s := New(t.TempDir(), "t", 1<<16)
	addRandom(t, s, 20000, false)
	if _, err := s.Merge(); err != nil { // writes the last run
		t.Fatal(err)
	}
	fi, err := os.Stat(s.runs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(s.runs[0], fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	recs, err := s.MergeAhead()
	if err != nil {
		t.Fatal(err)
	}
	defer recs.Close()
	var keys []string
	for {
		k, _, ok := recs.Next()
		if !ok {
			break
		}
		keys = append(keys, string(k))
	}
	if recs.Err() == nil {
		t.Fatalf("a truncated run ended the pass after %d records without an error", len(keys))
	}
	if !slices.IsSorted(keys) || len(keys) == 0 || len(keys) >= 20000 {
		t.Fatalf("%d records before the error, sorted %v", len(keys), slices.IsSorted(keys))
	}
	if _, _, ok := recs.Next(); ok {
		t.Fatal("Next after the error gave a record")
	}
}
