package billing

import "testing"

// TestParseSum: a sum's text (as the manifest's totals and a sharded run's
// shard records hold it) parses back to the same 128-bit sum, and text that
// is no sum is refused rather than rounded.
func TestParseSum(t *testing.T) {
	var big Sum
	for range 40 {
		big.Add(999999999999999999) // beyond 64 bits
	}
	neg := Sum{}
	neg.SubSum(big)
	for _, s := range []Sum{{}, SumOf(1), SumOf(-1), SumOf(123456789012345678), big, neg} {
		got, err := ParseSum(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSum(%s) = %s, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "1.0000000001", "x", "1e400"} {
		if _, err := ParseSum(bad); err == nil {
			t.Errorf("ParseSum(%q) accepted", bad)
		}
	}
}
