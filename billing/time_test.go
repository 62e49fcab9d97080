package billing

import (
	"fmt"
	"testing"
	"time"
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

// TestCycleStartUTC: the integer first instant of a cycle is time.Date's,
// across leap years, centuries and the years bills can have.
func TestCycleStartUTC(t *testing.T) {
	for c := Cycle(1900 * 12); c < Cycle(2200*12); c++ {
		if got, want := c.StartUTC(), Time(c.Start(time.UTC).UnixMicro()); got != want {
			t.Fatalf("%s: StartUTC %s, want %s", c, got, want)
		}
	}
}
