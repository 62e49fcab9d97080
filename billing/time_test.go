package billing

import (
	"fmt"
	"testing"
)

// TestCycleString: the cycle's name without fmt is the one fmt gives, for
// every month of years 0 to 9999 and beyond.
func TestCycleString(t *testing.T) {
	for c := Cycle(-13); c < 10001*12; c++ {
		y, m := int(c)/12, int(c)%12+1
		if got, want := c.String(), fmt.Sprintf("%04d-%02d", y, m); got != want {
			t.Fatalf("Cycle(%d).String() = %q, want %q", int(c), got, want)
		}
	}
}
