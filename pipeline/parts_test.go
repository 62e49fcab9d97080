package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/verify"
	"github.com/billcons/billcons/writers"
	"github.com/parquet-go/parquet-go"
)

// TestPartsSameTree: a Parquet usage file read in parts of whole row groups
// by several readers at once (one file as DuckDB writes it) gives
// the tree it gives read whole, byte for byte: every line's place in the
// read order is its file and row, whichever reader read it.
func TestPartsSameTree(t *testing.T) {
	dir := t.TempDir()
	// 200 lines in row groups of 50: a line_id first read in the first
	// group and again in the third (the first stays), a malformed amount
	// in the fourth (rejected as row 170), and lines held back by a change
	// in their cycle. Each reader remembers the tags it has read, and the
	// zone offset of the times it read, on its own (-race checks it).
	type line struct {
		LineID           string `parquet:"line_id"`
		AccountID        string `parquet:"account_id"`
		ProductCode      string `parquet:"product_code"`
		BillingCycle     string `parquet:"billing_cycle"`
		SubscriptionType string `parquet:"subscription_type"`
		UsageStart       string `parquet:"usage_start"`
		UsageEnd         string `parquet:"usage_end"`
		ListAmount       string `parquet:"list_amount"`
		Currency         string `parquet:"currency"`
		PaymentStatus    string `parquet:"payment_status"`
		IssuedAt         string `parquet:"issued_at"`
		SettledAt        string `parquet:"settled_at"`
		Tags             string `parquet:"tags"`
	}
	var lines []line
	for i := 1; i <= 200; i++ {
		l := line{LineID: fmt.Sprintf("L%03d", i), AccountID: fmt.Sprintf("m%d", i%7), ProductCode: "ecs", BillingCycle: "2023-01",
			SubscriptionType: "payg", UsageStart: fmt.Sprintf("2023-01-%02dT00:00:00+08:00", 1+i%28), UsageEnd: fmt.Sprintf("2023-01-%02dT01:00:00+08:00", 1+i%28),
			ListAmount: fmt.Sprintf("%d.5", i), Currency: "CNY", PaymentStatus: []string{"settled", "unsettled"}[i%2], IssuedAt: "2023-01-02T00:00:00+08:00",
			Tags: fmt.Sprintf("env:prod;team:t%d", i%9)}
		switch i {
		case 120:
			l.LineID = "L010"
		case 170:
			l.ListAmount = "12,5"
		}
		lines = append(lines, l)
	}
	writePartsInputs(t, dir, lines, 50, "k1,m1,trusteeship,MA,2023-01-10T00:00:00+08:00\nk2,m2,trusteeship,MA,2022-12-01T00:00:00+08:00\n")
	run := func(name string, partRows int64) *writers.Manifest {
		res, err := Run(context.Background(), Config{Usage: []string{filepath.Join(dir, "usage")}, Changes: []string{filepath.Join(dir, "changes.csv")},
			Out: filepath.Join(dir, name), MaxRejectRatio: -1, PartRows: partRows})
		if err != nil {
			t.Fatalf("%s: Run() = %v", name, err)
		}
		return res.Manifest
	}
	whole, parts := run("whole", 1<<40), run("parts", 1)
	if len(whole.Outputs) != len(parts.Outputs) {
		t.Fatalf("whole wrote %d files, parts %d", len(whole.Outputs), len(parts.Outputs))
	}
	for i := range whole.Outputs {
		if whole.Outputs[i].Path == "views.sql" { // names its own folder
			continue
		}
		if whole.Outputs[i] != parts.Outputs[i] {
			t.Errorf("read whole: %+v; read in parts: %+v", whole.Outputs[i], parts.Outputs[i])
		}
	}
	if whole.Counts != parts.Counts || parts.Counts.UsageRejected != 2 || parts.Counts.UsageBilled != 198 {
		t.Errorf("counts: whole %+v, parts %+v; want 2 rejected, 198 billed", whole.Counts, parts.Counts)
	}
	for i := range parts.Inputs {
		if parts.Inputs[i].Kind == "usage" && parts.Inputs[i].Rows != 200 {
			t.Errorf("input %s: %d rows read in parts, want 200", parts.Inputs[i].Path, parts.Inputs[i].Rows)
		}
	}
	var rejects []string
	err := parquetio.Read(filepath.Join(dir, "parts", "rejects/usage.parquet"), func(cols []string, v map[string]parquet.Value) error {
		rejects = append(rejects, v["source_row"].String()+" "+v["reason_code"].String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"120 duplicate_line_id", "170 invalid_amount"}; !slices.Equal(rejects, want) {
		t.Errorf("rejects read in parts: %v, want %v", rejects, want)
	}
	if problems, err := verify.Dir(filepath.Join(dir, "parts")); err != nil || len(problems) > 0 {
		t.Errorf("Verify(parts) = %v, %v", problems, err)
	}
	// The file given twice is read twice, in parts each time: each of its
	// two entries in the manifest holds its own 200 rows, not one 400.
	res, err := Run(context.Background(), Config{Usage: []string{filepath.Join(dir, "usage"), filepath.Join(dir, "usage")},
		Changes: []string{filepath.Join(dir, "changes.csv")}, Out: filepath.Join(dir, "twice"), MaxRejectRatio: -1, PartRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	var rows []int64
	for _, in := range res.Manifest.Inputs {
		if in.Kind == "usage" {
			rows = append(rows, in.Rows)
		}
	}
	if !slices.Equal(rows, []int64{200, 200}) || res.Manifest.Counts.UsageRead != 400 {
		t.Errorf("the file given twice: rows %v, %d read; want [200 200], 400", rows, res.Manifest.Counts.UsageRead)
	}
	// And the run says so, once.
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "names the file") || !strings.Contains(res.Warnings[0], "read twice") {
		t.Errorf("the file given twice: warnings %q; want one saying its rows are read twice", res.Warnings)
	}
}

// TestPartsZoneClock: an Alibaba export's times have no offset and are
// read in --tz, by a clock that remembers the offset it last found. Read
// in parts at once, each reader has its own clock: lines on both sides of
// a daylight-saving change, in turn, give the tree read whole (-race
// reports a clock shared by the readers).
func TestPartsZoneClock(t *testing.T) {
	dir := t.TempDir()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	type line struct {
		RecordID          string `parquet:"RecordID"`
		OwnerID           string `parquet:"OwnerID"`
		ProductCode       string `parquet:"ProductCode"`
		BillingCycle      string `parquet:"BillingCycle"`
		SubscriptionType  string `parquet:"SubscriptionType"`
		UsageStartTime    string `parquet:"UsageStartTime"`
		UsageEndTime      string `parquet:"UsageEndTime"`
		PretaxGrossAmount string `parquet:"PretaxGrossAmount"`
		Currency          string `parquet:"Currency"`
		Status            string `parquet:"Status"`
		PaymentTime       string `parquet:"PaymentTime"`
	}
	var lines []line
	for i := 1; i <= 200; i++ {
		day := 2 + 20*(i%2) // March 2 and 22, 2024: before and after the clocks go forward
		lines = append(lines, line{RecordID: fmt.Sprintf("r%03d", i), OwnerID: fmt.Sprintf("m%d", i%7), ProductCode: "ecs",
			BillingCycle: "2024-03", SubscriptionType: "PayAsYouGo",
			UsageStartTime: fmt.Sprintf("2024-03-%02d %02d:00:00", day, i%23), UsageEndTime: fmt.Sprintf("2024-03-%02d %02d:00:00", day, i%23+1),
			PretaxGrossAmount: fmt.Sprintf("%d.25", i), Currency: "USD", Status: "PayFinish", PaymentTime: "2024-04-02 00:00:00"})
	}
	writePartsInputs(t, dir, lines, 10, "k1,m1,trusteeship,MA,2024-03-12T00:00:00-04:00\n")
	run := func(name string, partRows int64) *writers.Manifest {
		res, err := Run(context.Background(), Config{Usage: []string{filepath.Join(dir, "usage")}, Changes: []string{filepath.Join(dir, "changes.csv")},
			Out: filepath.Join(dir, name), Profile: readers.ProfileAlibaba, Zone: ny, PartRows: partRows, Jobs: 4})
		if err != nil {
			t.Fatalf("%s: Run() = %v", name, err)
		}
		return res.Manifest
	}
	whole, parts := run("whole", 1<<40), run("parts", 1)
	for i := range whole.Outputs {
		if whole.Outputs[i].Path != "views.sql" && whole.Outputs[i] != parts.Outputs[i] {
			t.Errorf("read whole: %+v; read in parts: %+v", whole.Outputs[i], parts.Outputs[i])
		}
	}
	if parts.Counts.UsageBilled != 200 {
		t.Errorf("counts %+v; want 200 billed", parts.Counts)
	}
}

// writePartsInputs writes dir/usage/part-0.parquet, rows in row groups of
// groupRows, and dir/changes.csv with the given rows under its header.
func writePartsInputs[T any](t *testing.T, dir string, rows []T, groupRows int64, changes string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "usage"), 0o755)
	f, err := os.Create(filepath.Join(dir, "usage", "part-0.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := parquet.NewGenericWriter[T](f, parquet.MaxRowsPerRowGroup(groupRows))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	changes = "change_id,account_id,policy,management_account_id,changed_at\n" + changes
	if err := os.WriteFile(filepath.Join(dir, "changes.csv"), []byte(changes), 0o644); err != nil {
		t.Fatal(err)
	}
}
