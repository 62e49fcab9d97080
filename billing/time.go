package billing

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Time is an instant in microseconds since 1970-01-01T00:00:00Z, the unit the
// bills store (Parquet TIMESTAMP(MICROS, isAdjustedToUTC=true), which DuckDB
// reads as TIMESTAMPTZ).
type Time int64

const (
	// MinTime is earlier than every timestamp ParseTime returns.
	MinTime Time = math.MinInt64
	// MaxTime is later than every timestamp ParseTime returns.
	MaxTime Time = math.MaxInt64
)

// UTC returns t as a time.Time in UTC.
func (t Time) UTC() time.Time { return time.UnixMicro(int64(t)).UTC() }

// String formats t as RFC 3339 in UTC with microseconds when they are not zero.
func (t Time) String() string { return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00") }

// Errors returned by ParseTime.
var (
	ErrTimeSyntax    = errors.New("not an RFC 3339 timestamp")
	ErrTimeNoOffset  = errors.New("timestamp has no UTC offset")
	ErrTimeRange     = errors.New("timestamp field out of range")
	ErrTimePrecision = errors.New("timestamp is more precise than a microsecond")
)

// ParseTime parses an RFC 3339 timestamp with an offset ("Z" or ±hh:mm), such
// as 2023-01-03T09:23:00+08:00. The date and time may be separated by 'T', 't'
// or a space (RFC 3339 §5.6 allows it); fractions of a second up to nine digits
// are read, but digits past the sixth must be zero: bills store microseconds
// and nothing is rounded.
func ParseTime(s string) (Time, error) {
	t, naive, err := parseTime(s, false)
	if naive {
		return 0, fmt.Errorf("%w: %q", ErrTimeNoOffset, s)
	}
	return t, err
}

// parseTime is ParseTime; with allowNaive, a timestamp without an offset is
// not an error: naive is true and t is its wall time read as if in UTC.
func parseTime(s string, allowNaive bool) (t Time, naive bool, err error) {
	t, naive, err = parseTimeFields(s, allowNaive)
	return
}

func parseTimeFields(s string, allowNaive bool) (Time, bool, error) {
	if len(s) < 19 {
		return 0, false, fmt.Errorf("%w: %q", ErrTimeSyntax, s)
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for j := i; j < i+n; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	min, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || s[4] != '-' || s[7] != '-' ||
		(s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return 0, false, fmt.Errorf("%w: %q", ErrTimeSyntax, s)
	}
	i := 19
	var micros int64
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			d := int64(s[i] - '0')
			switch n := i - start; {
			case n < 6:
				micros = micros*10 + d
			case n < 9:
				if d != 0 {
					return 0, false, fmt.Errorf("%w: %q", ErrTimePrecision, s)
				}
			default:
				return 0, false, fmt.Errorf("%w: %q has more than nine fractional digits", ErrTimeSyntax, s)
			}
			i++
		}
		n := i - start
		if n == 0 {
			return 0, false, fmt.Errorf("%w: %q", ErrTimeSyntax, s)
		}
		for ; n < 6; n++ {
			micros *= 10
		}
	}
	naive := i == len(s)
	if naive && !allowNaive {
		return 0, true, nil
	}
	var offset int
	switch {
	case naive:
	default:
		switch s[i] {
		case 'Z', 'z':
			i++
		case '+', '-':
			if len(s)-i != 6 || s[i+3] != ':' {
				return 0, false, fmt.Errorf("%w: %q", ErrTimeSyntax, s)
			}
			oh, ok1 := num(i+1, 2)
			om, ok2 := num(i+4, 2)
			if !ok1 || !ok2 {
				return 0, false, fmt.Errorf("%w: %q", ErrTimeSyntax, s)
			}
			if oh > 23 || om > 59 {
				return 0, false, fmt.Errorf("%w: offset in %q", ErrTimeRange, s)
			}
			offset = oh*3600 + om*60
			if s[i] == '-' {
				offset = -offset
			}
			i += 6
		default:
			return 0, false, fmt.Errorf("%w: %q", ErrTimeSyntax, s)
		}
	}
	if i != len(s) {
		return 0, false, fmt.Errorf("%w: %q", ErrTimeSyntax, s)
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || min > 59 || sec > 59 {
		return 0, false, fmt.Errorf("%w: %q", ErrTimeRange, s)
	}
	secs := daysFromCivil(year, month, day)*86400 + int64(hour*3600+min*60+sec) - int64(offset)
	if naive {
		return Time(secs*1e6 + micros), true, nil // the wall time, checked once placed in a zone
	}
	if secs < minTimeSecs || secs > maxTimeSecs {
		// An offset can carry 0000-01-01 or 9999-12-31 out of the years
		// every reader (DuckDB, RFC 3339 itself) can print.
		return 0, false, fmt.Errorf("%w: %q is outside the years 0001 to 9999 in UTC", ErrTimeRange, s)
	}
	return Time(secs*1e6 + micros), false, nil
}

// The instants ParseTime accepts: 0001-01-01T00:00:00Z to the last second of
// 9999-12-31 UTC, in seconds since the Unix epoch.
var (
	minTimeSecs = daysFromCivil(1, 1, 1) * 86400
	maxTimeSecs = daysFromCivil(9999, 12, 31)*86400 + 86399
)

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// Cycle is a monthly billing cycle, counted in months since year 0:
// year*12 + month - 1. Cycles compare with < and >.
type Cycle int32

// ErrCycle is returned by ParseCycle for anything but YYYY-MM.
var ErrCycle = errors.New("billing cycle is not YYYY-MM")

// ParseCycle parses "YYYY-MM" (year 0001 to 9999).
func ParseCycle(s string) (Cycle, error) {
	if len(s) != 7 || s[4] != '-' {
		return 0, fmt.Errorf("%w: %q", ErrCycle, s)
	}
	y, err1 := strconv.Atoi(s[:4])
	m, err2 := strconv.Atoi(s[5:])
	if err1 != nil || err2 != nil || s[0] == '+' || s[0] == '-' || s[5] == '+' || s[5] == '-' || y < 1 || m < 1 || m > 12 {
		return 0, fmt.Errorf("%w: %q", ErrCycle, s)
	}
	return Cycle(y*12 + m - 1), nil
}

// Start is the first instant of cycle c in loc: midnight of its first day.
func (c Cycle) Start(loc *time.Location) time.Time {
	return time.Date(int(c)/12, time.Month(int(c)%12+1), 1, 0, 0, 0, 0, loc)
}

// StartUTC is the first instant of cycle c in UTC, by integer arithmetic:
// what a check run on every line compares times with.
func (c Cycle) StartUTC() Time {
	return Time(daysFromCivil(int(c)/12, int(c)%12+1, 1) * 86400_000_000)
}

// String formats c as YYYY-MM.
func (c Cycle) String() string {
	y, m := int(c)/12, int(c)%12+1
	if c < 0 || y > 9999 {
		return fmt.Sprintf("%04d-%02d", y, m)
	}
	// Every summary row and partition names its cycle: no fmt for them.
	b := [7]byte{byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-', byte('0' + m/10), byte('0' + m%10)}
	return string(b[:])
}

// CycleOf returns the billing cycle (calendar month) that contains t in loc.
func CycleOf(t Time, loc *time.Location) Cycle {
	u := t.UTC().In(loc)
	return Cycle(u.Year()*12 + int(u.Month()) - 1)
}

// ParseZone parses a billing time zone: a fixed offset "+08:00", "-05:30",
// "Z" or "UTC", or an IANA name such as "Asia/Shanghai".
func ParseZone(s string) (*time.Location, error) {
	if s == "Z" || s == "UTC" {
		return time.UTC, nil
	}
	if len(s) == 6 && (s[0] == '+' || s[0] == '-') && s[3] == ':' {
		h, err1 := strconv.Atoi(s[1:3])
		m, err2 := strconv.Atoi(s[4:])
		if err1 != nil || err2 != nil || h > 23 || m > 59 || s[1] == '+' || s[1] == '-' || s[4] == '+' || s[4] == '-' {
			return nil, fmt.Errorf("invalid offset %q", s)
		}
		off := h*3600 + m*60
		if s[0] == '-' {
			off = -off
		}
		return time.FixedZone(s, off), nil
	}
	if s == "" || s == "Local" {
		return nil, fmt.Errorf("invalid time zone %q: give an offset like +08:00 or an IANA name", s)
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: give an offset like +08:00 or an IANA name", s)
	}
	return loc, nil
}

// ParseLocalTime parses a timestamp as Alibaba Cloud's bill exports write
// it, "YYYY-MM-DD HH:MM:SS" with no offset, as a wall time in loc (CONTRACT.md,
// Input profiles). A timestamp with an offset is read as ParseTime reads it.
// A wall time that a daylight-saving change skips is read with the offset in
// force after the change (02:30 on New York's spring-forward night is read
// at -04:00: 06:30 UTC, the same instant as 01:30 EST); one the change repeats is the earlier of its two
// instants (01:30 on the fall-back night is read at -04:00), as [time.Date]
// resolves them; TestParseLocalTime pins both.
func ParseLocalTime(s string, loc *time.Location) (Time, error) {
	c := LocalClock{Loc: loc}
	return c.Parse(s)
}

// LocalClock is ParseLocalTime for many timestamps in one zone: it keeps the
// offset of the zone period it last met, so that timestamps of one period
// (nearly all of a bill export) cost no zone lookup. Within a day of a
// transition it asks time.Date, so it reads every wall time exactly as
// ParseLocalTime does. Not safe for concurrent use.
type LocalClock struct {
	Loc    *time.Location
	lo, hi int64 // the wall seconds (as if UTC) where off is sure to hold
	off    int64
}

// Parse reads s as ParseLocalTime(s, c.Loc) does.
func (c *LocalClock) Parse(s string) (Time, error) {
	wall, naive, err := parseTime(s, true)
	if err != nil || !naive {
		return wall, err
	}
	wsecs, micros := int64(wall)/1e6, int64(wall)%1e6
	if micros < 0 {
		wsecs, micros = wsecs-1, micros+1e6
	}
	var secs int64
	if c.hi > c.lo && wsecs >= c.lo && wsecs < c.hi {
		secs = wsecs - c.off
	} else {
		w := time.Unix(wsecs, 0).UTC()
		local := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, c.Loc)
		secs = local.Unix()
		_, off := local.Zone()
		start, end := local.ZoneBounds()
		c.off, c.lo, c.hi = int64(off), math.MinInt64, math.MaxInt64
		if !start.IsZero() {
			c.lo = start.Unix() + c.off + 86400
		}
		if !end.IsZero() {
			c.hi = end.Unix() + c.off - 86400
		}
	}
	if secs < minTimeSecs || secs > maxTimeSecs {
		return 0, fmt.Errorf("%w: %q in %s is outside the years 0001 to 9999 in UTC", ErrTimeRange, s, c.Loc)
	}
	return Time(secs*1e6 + micros), nil
}
