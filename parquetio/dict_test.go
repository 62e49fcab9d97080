package parquetio

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/rle"
)

// TestHybridRoundTrip: dictionary indexes in the RLE/bit-packing hybrid
// (parquet-format's Encodings.md) decode, by parquet-go's decoder, to the
// indexes given: runs shorter and longer than 8, at and off a group's
// start, bit widths 1 to 20, lengths not a multiple of 8.
func TestHybridRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for w := 1; w <= 20; w++ {
		for trial := range 20 {
			var vals []uint32
			n := r.IntN(300) + 1
			for len(vals) < n {
				v := uint32(r.Int64N(1 << w))
				run := 1 + r.IntN(3)
				if r.IntN(3) == 0 {
					run = 1 + r.IntN(40)
				}
				for range run {
					vals = append(vals, v)
				}
			}
			if trial == 0 {
				vals = slices.Repeat([]uint32{uint32(1<<w - 1)}, 8*(w%3)+w) // one value only
			}
			enc := append([]byte{byte(w)}, appendHybrid(nil, vals, w)...)
			got, err := new(rle.DictionaryEncoding).DecodeInt32(nil, enc)
			if err != nil {
				t.Fatalf("width %d, %d values: %v", w, len(vals), err)
			}
			if len(got) < len(vals) || len(got) > len(vals)+7 {
				t.Fatalf("width %d: %d values decoded for %d", w, len(got), len(vals))
			}
			for i, v := range vals {
				if uint32(got[i]) != v {
					t.Fatalf("width %d, %d values: value %d decoded %d, want %d", w, len(vals), i, got[i], v)
				}
			}
		}
	}
}
