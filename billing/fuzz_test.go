package billing

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// The value parsers take text straight from input files. Properties: they
// never panic; what they accept they print back to text that parses to the
// same value; and they accept only what the contract allows.

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"0", "1.25", "-0.000000001", "+7", "9223372036.854775807", "9223372036.854775808",
		"-9223372036.854775808", "1e5", "1.0000000001", "1234567890123456789012345678901234567890", ".5", "5.", "--1", "１", " 1", "1_000", "NaN", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAmount(s)
		if err != nil {
			return
		}
		d, derr := decimal.NewFromString(s)
		if derr != nil {
			t.Fatalf("ParseAmount(%q) = %s, but it is not a decimal: %v", s, a, derr)
		}
		if !d.Equal(decimal.New(int64(a), -Scale)) {
			t.Fatalf("ParseAmount(%q) = %s, want exactly %s", s, a, d)
		}
		if strings.ContainsAny(s, "eE") {
			t.Fatalf("ParseAmount(%q) accepted an exponent", s)
		}
		b, err := ParseAmount(a.String())
		if err != nil || b != a {
			t.Fatalf("ParseAmount(%q) = %s; its text parses to %s, %v", s, a, b, err)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-01-31T16:00:00Z", "2024-02-29T23:59:59.999999+08:00", "2023-02-29T00:00:00Z",
		"2024-01-01T00:00:00", "2024-01-01 00:00:00Z", "9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00Z",
		"10000-01-01T00:00:00Z", "2024-01-01T00:00:00.0000001Z", "2024-01-01T00:00:00.1234560Z", "2024-01-01T24:00:00Z",
		"2024-13-01T00:00:00Z", "2024-01-01T00:00:60Z", "2024-01-01T00:00:00+24:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := ParseTime(s)
		if err != nil {
			return
		}
		// What we accept, Go's RFC 3339 parser accepts as the same instant
		// (Go allows a few forms we refuse, never the other way round).
		g, gerr := time.Parse(time.RFC3339Nano, asGoRFC3339(s))
		if gerr != nil {
			t.Fatalf("ParseTime(%q) = %s, but it is not RFC 3339: %v", s, x, gerr)
		}
		if g.UnixMicro() != int64(x) || g.Nanosecond()%1000 != 0 {
			t.Fatalf("ParseTime(%q) = %s, want %s", s, x, g.UTC())
		}
		y, err := ParseTime(x.String())
		if err != nil || y != x {
			t.Fatalf("ParseTime(%q) = %s; its text parses to %s, %v", s, x, y, err)
		}
	})
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1000000000000001", "MA-1", "a_b.c:d@e", "..", ".", "a/b", "../../etc", "a\x00b", strings.Repeat("x", 64),
		strings.Repeat("x", 65), "", " a", "é", "a\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		if id != s || len(id) == 0 || len(id) > 64 || id == "." || id == ".." ||
			strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
			t.Fatalf("ParseID(%q) accepted it", s)
		}
	})
}

func FuzzParseCycle(f *testing.F) {
	for _, s := range []string{"2024-01", "2024-1", "2024-13", "0000-01", "9999-12", "2024-01-01", "+2024-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCycle(s)
		if err != nil {
			return
		}
		if c.String() != s {
			t.Fatalf("ParseCycle(%q) prints as %q", s, c)
		}
	})
}

// asGoRFC3339 spells an RFC 3339 timestamp the way Go's parser wants it: a
// space or 't' for the T (RFC 3339 §5.6 allows both) and 'z' for Z are not
// accepted by Go.
func asGoRFC3339(s string) string {
	b := []byte(s)
	b[10] = 'T'
	if b[len(b)-1] == 'z' {
		b[len(b)-1] = 'Z'
	}
	return string(b)
}
