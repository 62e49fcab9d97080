package billing

import (
	"errors"
	"testing"
	"time"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		Name    string
		In      string
		Want    Amount
		WantErr error
		Reason  string
	}{
		{"integer", "12", 12_000_000_000, nil, "CONTRACT.md Values: exact decimals"},
		{"negative refund", "-0.5", -500_000_000, nil, "CONTRACT.md usage: negative for refunds"},
		{"nine digits", "+3.141592653", 3_141_592_653, nil, "up to 9 fractional digits"},
		{"leading point", ".5", 500_000_000, nil, "a plain decimal"},
		{"leading zeros", "000000000012.5", 12_500_000_000, nil, "leading zeros are not significant"},
		{"trailing zeros past nine", "1.5000000000", 1_500_000_000, nil, "exact, so nothing is rounded"},
		{"largest", "999999999.999999999", 999_999_999_999_999_999, nil, "abs below 10^9 fits DECIMAL(18,9)"},
		{"ten digits", "0.0000000001", 0, ErrAmountPrecision, "never rounded"},
		{"too large", "1000000000", 0, ErrAmountRange, "abs must be below 10^9"},
		{"forty digits", "1234567890123456789012345678901234567890", 0, ErrAmountRange, "rejected, never rounded"},
		{"comma", "12,5", 0, ErrAmountSyntax, "no grouping or decimal comma"},
		{"exponent", "1e3", 0, ErrAmountSyntax, "plain decimals only"},
		{"space", " 1", 0, ErrAmountSyntax, "no trimming"},
		{"empty", "", 0, ErrAmountSyntax, "required"},
		{"sign only", "-", 0, ErrAmountSyntax, "needs digits"},
		{"point only", ".", 0, ErrAmountSyntax, "needs digits"},
		{"nan", "NaN", 0, ErrAmountSyntax, "no floats"},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			got, err := ParseAmount(tt.In)
			if !errors.Is(err, tt.WantErr) || (err == nil && got != tt.Want) {
				t.Errorf("ParseAmount(%q) = %d, %v; want %d, %v (%s)", tt.In, got, err, tt.Want, tt.WantErr, tt.Reason)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		Name    string
		In      string
		Want    string // RFC 3339 in UTC
		WantErr error
	}{
		{"offset", "2023-01-03T09:23:00+08:00", "2023-01-03T01:23:00Z", nil},
		{"zulu", "2023-01-03T01:23:00Z", "2023-01-03T01:23:00Z", nil},
		{"space and micros", "2023-01-03 01:23:00.000001-05:30", "2023-01-03T06:53:00.000001Z", nil},
		{"nanos that are zero", "2023-01-03T01:23:00.123456000Z", "2023-01-03T01:23:00.123456Z", nil},
		{"leap day", "2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z", nil},
		{"no offset", "2023-01-03T09:23:00", "", ErrTimeNoOffset},
		{"sub-microsecond", "2023-01-03T09:23:00.0000001Z", "", ErrTimePrecision},
		{"not a leap year", "2023-02-29T00:00:00Z", "", ErrTimeRange},
		{"hour 24", "2023-01-03T24:00:00Z", "", ErrTimeRange},
		{"date only", "2023-01-03", "", ErrTimeSyntax},
		{"junk after", "2023-01-03T09:23:00Zjunk", "", ErrTimeSyntax},
		{"bad offset", "2023-01-03T09:23:00+0800", "", ErrTimeSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			got, err := ParseTime(tt.In)
			if !errors.Is(err, tt.WantErr) {
				t.Fatalf("ParseTime(%q) error = %v, want %v", tt.In, err, tt.WantErr)
			}
			if err == nil {
				want, _ := time.Parse(time.RFC3339Nano, tt.Want)
				if got.UTC() != want || got.String() != tt.Want {
					t.Errorf("ParseTime(%q) = %s, want %s", tt.In, got, tt.Want)
				}
			}
		})
	}
}

func TestCycleOf(t *testing.T) {
	// CONTRACT.md rule 1: the cycle of t is its month in the billing time zone.
	t0, _ := ParseTime("2023-01-31T17:30:00Z")
	cst, _ := ParseZone("+08:00")
	sh, _ := ParseZone("Asia/Shanghai")
	if got := CycleOf(t0, cst).String(); got != "2023-02" {
		t.Errorf("CycleOf(+08:00) = %s, want 2023-02", got)
	}
	if got := CycleOf(t0, sh).String(); got != "2023-02" {
		t.Errorf("CycleOf(Asia/Shanghai) = %s, want 2023-02", got)
	}
	if got := CycleOf(t0, time.UTC).String(); got != "2023-01" {
		t.Errorf("CycleOf(UTC) = %s, want 2023-01", got)
	}
	for _, bad := range []string{"", "Local", "+8", "+25:00", "Mars/Olympus"} {
		if _, err := ParseZone(bad); err == nil {
			t.Errorf("ParseZone(%q) = nil error, want one", bad)
		}
	}
}

func TestParseID(t *testing.T) {
	long := string(make([]byte, 65))
	for _, bad := range []string{"", "a/b", "..", ".", "../x", "a b", "ä", long, "a\x00"} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) = nil error, want one (ids become paths)", bad)
		}
	}
	for _, ok := range []string{"m1", "1234567890123456", "a.b_c-d", "...", "A"} {
		if _, err := ParseID(ok); err != nil {
			t.Errorf("ParseID(%q) = %v, want nil", ok, err)
		}
	}
}

func TestSum(t *testing.T) {
	// Sums are DECIMAL(38,9): far past int64 without loss.
	var s Sum
	for i := 0; i < 100; i++ {
		s.Add(999_999_999_999_999_999)
	}
	if got, want := s.String(), "99999999999.999999900"; got != want {
		t.Errorf("Sum = %s, want %s", got, want)
	}
	s.Add(-999_999_999_999_999_999)
	var neg Sum
	neg.Add(-1)
	if neg.String() != "-0.000000001" || SumFromBytes16(neg.Bytes16()) != neg || SumFromBytes16(s.Bytes16()) != s {
		t.Errorf("Sum round trip through 16 bytes failed: %s, %s", neg, s)
	}
}

// TestParseLocalTime: Alibaba exports' timestamps carry no offset and are
// read in --tz (CONTRACT.md, Input profiles), across daylight-saving changes.
func TestParseLocalTime(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	cst := time.FixedZone("+08:00", 8*3600)
	for _, c := range []struct {
		in   string
		loc  *time.Location
		want string
	}{
		{"2024-02-01 09:23:00", cst, "2024-02-01T01:23:00Z"},
		{"2024-02-01T09:23:00+09:00", cst, "2024-02-01T00:23:00Z"}, // an offset wins
		{"2024-03-10 01:59:59", ny, "2024-03-10T06:59:59Z"},        // EST, before the change
		{"2024-03-10 02:30:00", ny, "2024-03-10T06:30:00Z"},        // skipped: the offset after the change
		{"2024-03-10 03:00:00", ny, "2024-03-10T07:00:00Z"},        // EDT
		{"2024-11-03 01:30:00", ny, "2024-11-03T05:30:00Z"},        // repeated: the earlier instant (EDT)
		{"2024-11-03 02:00:00", ny, "2024-11-03T07:00:00Z"},        // EST
	} {
		got, err := ParseLocalTime(c.in, c.loc)
		if err != nil || got.String() != c.want {
			t.Errorf("ParseLocalTime(%q, %s) = %v, %v; want %s", c.in, c.loc, got, err, c.want)
		}
		clock := LocalClock{Loc: c.loc}
		for range 2 { // a cold clock, then one that has met the period
			if got, err := clock.Parse(c.in); err != nil || got.String() != c.want {
				t.Errorf("LocalClock.Parse(%q, %s) = %v, %v; want %s", c.in, c.loc, got, err, c.want)
			}
		}
	}
	if _, err := ParseLocalTime("2024-13-01 00:00:00", cst); err == nil {
		t.Error("ParseLocalTime(month 13) did not fail")
	}
}

// TestLocalClockAgrees: a LocalClock reads every wall time of a year in a
// zone with daylight saving, hour by hour and around each transition minute
// by minute, as ParseLocalTime does, however warm its cache.
func TestLocalClockAgrees(t *testing.T) {
	for _, name := range []string{"America/New_York", "Europe/London", "Asia/Shanghai", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		clock := LocalClock{Loc: loc}
		for w := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC); w.Year() == 2024; w = w.Add(17 * time.Minute) {
			s := w.Format("2006-01-02 15:04:05")
			want, err1 := ParseLocalTime(s, loc)
			got, err2 := clock.Parse(s)
			if got != want || (err1 == nil) != (err2 == nil) {
				t.Fatalf("%s %s: LocalClock.Parse = %v, %v; ParseLocalTime = %v, %v", name, s, got, err2, want, err1)
			}
		}
	}
}

// TestParseEnums: subscription_type, payment_status and charge_type are
// read case-insensitively (CONTRACT.md, usage columns), whether a value is
// already the lower-case word or not; anything else is an ErrEnum, the
// long s (U+017F) included, which simple case folding would take for an s.
func TestParseEnums(t *testing.T) {
	for _, tt := range []struct {
		in   string
		sub  SubscriptionType
		pay  PaymentStatus
		kind ChargeType
	}{
		{"subscription", Subscription, 0, 0}, {"Subscription", Subscription, 0, 0},
		{"payasyougo", PayAsYouGo, 0, 0}, {"PayAsYouGo", PayAsYouGo, 0, 0}, {"payg", PayAsYouGo, 0, 0}, {"PAYG", PayAsYouGo, 0, 0},
		{"settled", 0, Settled, 0}, {"SETTLED", 0, Settled, 0}, {"unsettled", 0, Unsettled, 0}, {"UnSettled", 0, Unsettled, 0},
		{"", 0, 0, ChargeUsage}, {"usage", 0, 0, ChargeUsage}, {"Usage", 0, 0, ChargeUsage}, {"refund", 0, 0, ChargeRefund},
		{"PURCHASE", 0, 0, ChargePurchase}, {"adjustment", 0, 0, ChargeAdjustment},
		{"ſettled", 0, 0, 0}, {"settled ", 0, 0, 0}, {"sub", 0, 0, 0},
	} {
		sub, err := ParseSubscriptionType(tt.in)
		if (tt.sub == 0) != errors.Is(err, ErrEnum) || sub != tt.sub {
			t.Errorf("ParseSubscriptionType(%q) = %v, %v; want %v", tt.in, sub, err, tt.sub)
		}
		pay, err := ParsePaymentStatus(tt.in)
		if (tt.pay == 0) != errors.Is(err, ErrEnum) || pay != tt.pay {
			t.Errorf("ParsePaymentStatus(%q) = %v, %v; want %v", tt.in, pay, err, tt.pay)
		}
		kind, err := ParseChargeType(tt.in)
		want := tt.kind
		if (want == 0 && tt.in != "") != errors.Is(err, ErrEnum) || kind != want {
			t.Errorf("ParseChargeType(%q) = %v, %v; want %v", tt.in, kind, err, want)
		}
	}
}
