package readers

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/gen"
)

// benchRead decodes every usage row of a generated file and reports rows/s.
func benchRead(b *testing.B, format string) {
	dir := b.TempDir()
	const lines = 200_000
	if _, err := gen.Write(context.Background(), gen.Options{Lines: lines, Out: dir, Seed: 1, Format: format}); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "usage", "part-00000."+format)
	b.ResetTimer()
	for b.Loop() {
		benchDecode(b, path, UsageOptions{}, lines)
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkReadCSV(b *testing.B)     { benchRead(b, "csv") }
func BenchmarkReadParquet(b *testing.B) { benchRead(b, "parquet") }

// BenchmarkReadProfile reads the same lines as the billcons profile writes
// them and as an Alibaba Cloud export writes them (field names, timestamps
// without an offset, Status and Item vocabularies), both as CSV, so that
// benchstat shows what --profile alibaba costs (the target: at most 15%).
func BenchmarkReadProfile(b *testing.B) {
	dir := b.TempDir()
	const lines = 200_000
	if _, err := gen.Write(context.Background(), gen.Options{Lines: lines, Out: dir, Seed: 1, Format: "csv"}); err != nil {
		b.Fatal(err)
	}
	native := filepath.Join(dir, "usage", "part-00000.csv")
	alibaba := filepath.Join(dir, "alibaba.csv")
	toAlibaba(b, native, alibaba)
	for _, c := range []struct {
		profile, path string
	}{{ProfileBillcons, native}, {ProfileAlibaba, alibaba}} {
		b.Run("profile="+c.profile, func(b *testing.B) {
			opts := UsageOptions{Profile: c.profile, Zone: time.FixedZone("+08:00", 8*3600)}
			for b.Loop() {
				benchDecode(b, c.path, opts, lines)
			}
			b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// benchDecode decodes every usage row of path, which must hold lines rows.
func benchDecode(b *testing.B, path string, opts UsageOptions, lines int) {
	t, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer t.Close()
	var extras ExtraColumns
	dec, err := NewUsageDecoderWith(t, &extras, opts)
	if err != nil {
		b.Fatal(err)
	}
	DeliverTyped(t, dec.TypedColumns())
	var l billing.UsageLine
	n := 0
	if err := Each(context.Background(), t, func(r *Row) error {
		if e := dec.Decode(r, &l); e != nil {
			return e
		}
		n++
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	if n != lines {
		b.Fatalf("%d rows", n)
	}
}

// toAlibaba rewrites a billcons usage CSV as an Alibaba Cloud export of the
// same lines.
func toAlibaba(b *testing.B, from, to string) {
	in, err := os.Open(from)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	recs, err := csv.NewReader(in).ReadAll()
	if err != nil {
		b.Fatal(err)
	}
	names := map[string]string{"line_id": "RecordID", "account_id": "OwnerID", "product_code": "ProductCode",
		"billing_cycle": "BillingCycle", "subscription_type": "SubscriptionType", "usage_start": "UsageStartTime",
		"usage_end": "UsageEndTime", "list_amount": "PretaxGrossAmount", "currency": "Currency",
		"payment_status": "Status", "issued_at": "PaymentTime"}
	header := recs[0]
	out, err := os.Create(to)
	if err != nil {
		b.Fatal(err)
	}
	w := csv.NewWriter(out)
	var keep []int // every column but settled_at, which exports do not have
	var row []string
	for i, h := range header {
		if h == "settled_at" {
			continue
		}
		keep = append(keep, i)
		if n, ok := names[h]; ok {
			h = n
		}
		row = append(row, h)
	}
	w.Write(append(row, "Item"))
	loc := time.FixedZone("+08:00", 8*3600)
	for _, r := range recs[1:] {
		row = row[:0]
		for _, i := range keep {
			v := r[i]
			switch header[i] {
			case "usage_start", "usage_end", "issued_at":
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					b.Fatal(err)
				}
				v = t.In(loc).Format("2006-01-02 15:04:05")
			case "payment_status":
				v = map[string]string{"settled": "PayFinish", "unsettled": "PayUnsettle"}[v]
			case "subscription_type":
				v = map[string]string{"subscription": "Subscription", "payasyougo": "PayAsYouGo"}[v]
			}
			row = append(row, v)
		}
		w.Write(append(row, "PayAsYouGoBill"))
	}
	w.Flush()
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}
