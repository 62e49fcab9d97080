package spill

import (
	"fmt"
	"math/rand/v2"
	"slices"
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
				it, err := s.Merge()
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for {
					k, p, ok := it.Next()
					if !ok {
						break
					}
					if string(p) != "payload-"+string(k) {
						t.Fatalf("payload %q for key %q", p, k)
					}
					got = append(got, string(k))
				}
				it.Close()
				if err := it.Err(); err != nil {
					t.Fatal(err)
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
