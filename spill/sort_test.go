package spill

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// compareRecords is the order of the spill's records, as its comparison
// sort defined it before sortFrom: by the keys' first 8 bytes as a
// number, then by the whole key, then by payload. It is the reference
// sortFrom is tested against.
func compareRecords(arena []byte, a, b record) int {
	if a.prefix != b.prefix {
		if a.prefix < b.prefix {
			return -1
		}
		return 1
	}
	return compareTie(arena[a.off:a.off+a.keyLen], arena[b.off:b.off+b.keyLen],
		arena[a.off+a.keyLen:a.off+a.len], arena[b.off+b.keyLen:b.off+b.len])
}

// arenaOf lays records of keys and payloads out as Add does.
func arenaOf(keys, payloads [][]byte) ([]byte, []record) {
	var arena []byte
	var recs []record
	for i, k := range keys {
		off := len(arena)
		arena = append(append(arena, k...), payloads[i]...)
		recs = append(recs, record{prefix: keyPrefix(k), off: int32(off), keyLen: int32(len(k)), len: int32(len(k) + len(payloads[i]))})
	}
	return arena, recs
}

func recordText(arena []byte, recs []record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, fmt.Sprintf("%q|%q", arena[r.off:r.off+r.keyLen], arena[r.off+r.keyLen:r.off+r.len]))
	}
	return out
}

// TestSortFromOrder: sortFrom orders records exactly as compareRecords
// does (bytes.Compare of keys, then of payloads), on keys made to trip a
// sort by 8-byte chunks: zero bytes that pad alike, keys that end inside a
// chunk and are prefixes of others, equal keys with other payloads, long
// shared starts, and empty keys.
func TestSortFromOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	alphabet := []byte{0, 0, 1, 'a', 'b', 0xff}
	for round := range 300 {
		n := 1 + r.IntN(400)
		shared := bytes.Repeat([]byte{byte(round)}, r.IntN(20))
		var keys, payloads [][]byte
		for range n {
			k := append([]byte(nil), shared[:r.IntN(len(shared)+1)]...)
			for range r.IntN(20) {
				k = append(k, alphabet[r.IntN(len(alphabet))])
			}
			if len(keys) > 0 && r.IntN(4) == 0 { // a key again, or one of its prefixes
				prev := keys[r.IntN(len(keys))]
				k = append([]byte(nil), prev[:r.IntN(len(prev)+1)]...)
			}
			keys = append(keys, k)
			payloads = append(payloads, []byte{alphabet[r.IntN(len(alphabet))], byte(r.IntN(3))}[:r.IntN(3)])
		}
		arena, recs := arenaOf(keys, payloads)
		want := slices.Clone(recs)
		slices.SortFunc(want, func(a, b record) int { return compareRecords(arena, a, b) })
		sortFrom(arena, recs, 0)
		if got, w := recordText(arena, recs), recordText(arena, want); !slices.Equal(got, w) {
			t.Fatalf("round %d: sortFrom\n%v\nwant\n%v", round, got, w)
		}
	}
}

// billKeys are keys shaped as the pipeline's bills keys at many payers: a
// cycle, then payer, member, product, currency and line id, each ended by
// NUL, over ids of one form ("1" and 15 digits).
func billKeys(n int) (keys, payloads [][]byte) {
	r := rand.New(rand.NewPCG(1, 2))
	products := []string{"ecs", "oss", "cdn", "rds", "slb", "alicom"}
	for i := range n {
		member := 1 + r.IntN(100_000)
		payer := fmt.Sprintf("1%015d", member)
		if r.IntN(10) < 3 {
			payer = fmt.Sprintf("2%015d", 1+member%1000)
		}
		k := binary.BigEndian.AppendUint32(nil, uint32(2024*12+r.IntN(3)))
		k = fmt.Appendf(k, "%s\x00%s\x00%s\x00CNY\x00L%d\x00", payer, fmt.Sprintf("1%015d", member), products[r.IntN(len(products))], i)
		keys = append(keys, k)
		payloads = append(payloads, make([]byte, 60))
	}
	return keys, payloads
}

// BenchmarkSortBillKeys sorts a spill buffer of bills keys by sortFrom and,
// as before it, by a comparison sort of whole keys (compareRecords).
func BenchmarkSortBillKeys(b *testing.B) {
	keys, payloads := billKeys(500_000)
	arena, recs := arenaOf(keys, payloads)
	work := make([]record, len(recs))
	b.Run("sortFrom", func(b *testing.B) {
		for b.Loop() {
			copy(work, recs)
			sortFrom(arena, work, 0)
		}
	})
	b.Run("compare", func(b *testing.B) {
		for b.Loop() {
			copy(work, recs)
			slices.SortFunc(work, func(x, y record) int { return compareRecords(arena, x, y) })
		}
	})
}

// BenchmarkMergeBillKeys merges 64 runs of bills keys (the many-payers
// shape at 10M lines spills about 90).
func BenchmarkMergeBillKeys(b *testing.B) {
	keys, payloads := billKeys(1_000_000)
	s := New(b.TempDir(), "bench", 1<<16)
	s.budget = len(keys) * (len(keys[0]) + 60) / 64
	for i := range keys {
		if err := s.Add(keys[i], payloads[i]); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.Merge(); err != nil { // writes the last run
		b.Fatal(err)
	}
	b.Logf("%d runs", s.Runs())
	for b.Loop() {
		it, err := s.Merge()
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, _, ok := it.Next(); ok; _, _, ok = it.Next() {
			n++
		}
		it.Close()
		if n != len(keys) {
			b.Fatalf("%d records, want %d", n, len(keys))
		}
	}
}
