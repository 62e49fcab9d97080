package readers

import (
	"bytes"
	"compress/gzip"
	"context"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billcons/billcons/billing"
)

const header = "line_id,account_id,product_code,billing_cycle,subscription_type,usage_start,usage_end,list_amount,currency,payment_status,issued_at,settled_at"

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func decodeAll(t *testing.T, path string) (lines []billing.UsageLine, errs []*billing.RowError) {
	t.Helper()
	_, lines, errs = decodeFile(t, path)
	return lines, errs
}

// decodeFile is decodeAll, with the decoder it read with.
func decodeFile(t *testing.T, path string) (dec *UsageDecoder, lines []billing.UsageLine, errs []*billing.RowError) {
	t.Helper()
	tab, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	var extras ExtraColumns
	dec, err = NewUsageDecoder(tab, &extras)
	if err != nil {
		t.Fatal(err)
	}
	err = Each(context.Background(), tab, func(r *Row) error {
		var l billing.UsageLine
		if e := dec.Decode(r, &l); e != nil {
			errs = append(errs, e)
		} else {
			lines = append(lines, l)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dec, lines, errs
}

func TestCSVVariants(t *testing.T) {
	row := "L1,m1,ecs,2023-01,payg,2023-01-01T00:00:00+08:00,2023-01-02T00:00:00+08:00,1.5,CNY,settled,2023-01-02T01:00:00+08:00,"
	plain := []byte(header + "\n" + row + "\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	tests := []struct {
		Name string
		File string
		Data []byte
	}{
		{"plain", "u.csv", plain},
		{"gzip", "u.csv.gz", gz.Bytes()},
		{"bom", "u.csv", append([]byte("\uFEFF"), plain...)},
		{"crlf", "u.csv", bytes.ReplaceAll(plain, []byte("\n"), []byte("\r\n"))},
		{"upper-case extension", "U.CSV", plain},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			lines, errs := decodeAll(t, writeFile(t, tt.File, tt.Data))
			if len(errs) != 0 || len(lines) != 1 || lines[0].LineID != "L1" || lines[0].ListAmount != 1_500_000_000 {
				t.Errorf("decoding %s: lines %v, errors %v; want line L1 of 1.5", tt.Name, lines, errs)
			}
		})
	}
}

func TestRowPositions(t *testing.T) {
	// A quoted newline spans two lines; rows are counted as data rows.
	data := header + "\n" +
		"L1,m1,ecs,2023-01,payg,2023-01-01T00:00:00+08:00,2023-01-02T00:00:00+08:00,1,CNY,settled,2023-01-02T01:00:00+08:00,\n" +
		"\"L\n2\",m1,ecs,2023-01,payg,2023-01-01T00:00:00+08:00,2023-01-02T00:00:00+08:00,1,CNY,settled,2023-01-02T01:00:00+08:00,\n" +
		"L3,m1,ecs,2023-01,payg,2023-01-01T00:00:00+08:00,2023-01-02T00:00:00+08:00,§,CNY,settled,2023-01-02T01:00:00+08:00,\n"
	_, errs := decodeAll(t, writeFile(t, "u.csv", []byte(data)))
	if len(errs) != 2 {
		t.Fatalf("got %d row errors, want 2: %v", len(errs), errs)
	}
	if errs[0].Pos.Row != 2 || errs[0].Field != "line_id" || errs[0].Code != "invalid_id" {
		t.Errorf("first error = %v (code %s), want row 2 line_id invalid_id", errs[0], errs[0].Code)
	}
	if errs[1].Pos.Row != 3 || errs[1].Pos.Col != 8 || errs[1].Field != "list_amount" {
		t.Errorf("second error = %v, want u.csv:3:8 list_amount", errs[1])
	}
}

func TestFileErrors(t *testing.T) {
	if _, err := Open(writeFile(t, "u.txt", []byte(header))); err == nil {
		t.Error("Open(u.txt) = nil error, want unknown format")
	}
	if _, err := Open(writeFile(t, "u.csv.gz", []byte("not gzip"))); err == nil {
		t.Error("Open(bad gzip) = nil error")
	}
	if _, err := Open(writeFile(t, "u.parquet", []byte("not parquet"))); err == nil {
		t.Error("Open(bad parquet) = nil error")
	}
	if _, err := Open(writeFile(t, "u.csv", nil)); err == nil {
		t.Error("Open(empty csv) = nil error, want no header")
	}
	tab, err := Open(writeFile(t, "u.csv", []byte("line_id,line_id\n")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewUsageDecoder(tab, &ExtraColumns{}); err == nil {
		t.Error("NewUsageDecoder(repeated column) = nil error")
	}
	if _, err := Expand(filepath.Join(t.TempDir(), "*.csv")); err == nil {
		t.Error("Expand(glob matching nothing) = nil error")
	}
}

// TestFastRenderers: the hand-written renderers of Parquet timestamps and
// decimals give exactly what the library formatting they replace gives
// (decimals with their scale: 1.50 for DECIMAL(3,2) 150).
func TestFastRenderers(t *testing.T) {
	for _, us := range []int64{0, 1, -1, 1704038400000000, 1704038400123456, 1704038400100000, 253402300799999999, -62135596800000000, 86399999999} {
		tm := time.UnixMicro(us)
		if got, want := string(appendUTC([]byte("x"), tm)), "x"+tm.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"); got != want {
			t.Errorf("appendUTC(%d) = %s, want %s", us, got, want)
		}
	}
	tm := time.Unix(0, 1704038400123456789)
	if got, want := string(appendUTC([]byte("x"), tm)), "x"+tm.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"); got != want {
		t.Errorf("appendUTC(ns) = %s, want %s", got, want)
	}
	for _, c := range []struct {
		u     int64
		scale int32
	}{{0, 9}, {1, 9}, {-1, 9}, {1250000000, 9}, {-12500000000, 9}, {123456789012345678, 9}, {5, 0}, {100, 2}, {-100, 2}, {7, 18}, {math.MaxInt64, 9}, {math.MinInt64, 9}, {10, 1}, {123, 9}, {-123, 9}, {1, 18}, {-999999999999999999, 18}} {
		want := "x" + decimal.NewFromBigInt(big.NewInt(c.u), -c.scale).String()
		if c.scale > 0 { // exactly with its scale (CONTRACT.md, Values)
			want = "x" + decimal.NewFromBigInt(big.NewInt(c.u), -c.scale).StringFixed(c.scale)
		}
		if got := string(appendDecimal([]byte("x"), c.u, c.scale)); got != want {
			t.Errorf("appendDecimal(%d, %d) = %s, want %s", c.u, c.scale, got, want)
		}
	}
}

// TestAccount: the account a sharded run splits a row by is the one Decode
// reads, in both profiles: for an Alibaba export OwnerID, else AccountID
// (CONTRACT.md, Input profiles), and "" for a row without one.
func TestAccount(t *testing.T) {
	for _, tt := range []struct {
		profile, csv string
		want         []string
	}{
		{ProfileBillcons, header + "\nl1,m1,ecs,2024-01,payg,2024-01-01T00:00:00+08:00,2024-01-02T00:00:00+08:00,1,CNY,settled,2024-01-03T00:00:00+08:00,\nl2,,ecs\n", []string{"m1", ""}},
		{ProfileAlibaba, "RecordID,OwnerID,AccountID,ProductCode,BillingCycle,SubscriptionType,UsageStartTime,UsageEndTime,PretaxGrossAmount,Currency,Status,PaymentTime\n" +
			"r1,o1,a1,ecs,2024-01,PayAsYouGo,2024-01-01 00:00:00,2024-01-02 00:00:00,1,CNY,PayOff,2024-01-03 00:00:00\n" +
			"r2,,a2,ecs,2024-01,PayAsYouGo,2024-01-01 00:00:00,2024-01-02 00:00:00,1,CNY,PayOff,2024-01-03 00:00:00\n" +
			"r3,,,ecs,2024-01,PayAsYouGo,2024-01-01 00:00:00,2024-01-02 00:00:00,1,CNY,PayOff,2024-01-03 00:00:00\n", []string{"o1", "a2", ""}},
	} {
		tab, err := Open(writeFile(t, "u.csv", []byte(tt.csv)))
		if err != nil {
			t.Fatal(err)
		}
		var extras ExtraColumns
		dec, err := NewUsageDecoderWith(tab, &extras, UsageOptions{Profile: tt.profile, Zone: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := Each(context.Background(), tab, func(r *Row) error {
			got = append(got, dec.Account(r))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		tab.Close()
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: accounts %q; want %q", tt.profile, got, tt.want)
		}
	}
}
