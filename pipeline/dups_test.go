package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/verify"
	"github.com/billcons/billcons/writers"
	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"
)

// TestDuplicatesAcrossFiles checks the contract's "a second line with an id
// already seen (the first stays)" over several usage files read at once:
// the first in read order (file, then row) is billed, every later one is
// rejected with its own row's raw values, in its own file's column order,
// whether the lines were sorted in memory or spilled to many runs.
func TestDuplicatesAcrossFiles(t *testing.T) {
	const header = "line_id,account_id,product_code,billing_cycle,subscription_type,usage_start,usage_end,list_amount,currency,payment_status,issued_at,settled_at"
	// m1's lines wait for the holds (its change is in their cycle); m2's
	// are decided while reading: duplicates must be found on both paths.
	row := func(id, member, amount string) string {
		return id + "," + member + ",ecs,2023-01,payg,2023-01-05T00:00:00+08:00,2023-01-06T00:00:00+08:00," + amount + ",CNY,settled,2023-01-06T01:00:00+08:00,"
	}
	dir := t.TempDir()
	files := map[string]string{
		"usage/a.csv": header + "\n" + row("L1", "m2", "1") + "\n" + row("L2", "m1", "2") + "\n" + row("L3", "m1", "3") + "\n",
		"usage/b.csv": header + "\n" + row("L2", "m1", "20") + "\n" + row("L4", "m2", "4") + "\n" + row("L1", "m2", "10") + "\n",
		// Another column order, an extra column, and a bad row before the
		// duplicate: the rows still number as read.
		"usage/c.csv": "note,currency,list_amount,line_id,account_id,product_code,billing_cycle,subscription_type,usage_start,usage_end,payment_status,issued_at,settled_at\n" +
			"x,CNY,5,L5,m1,ecs,2023-01,payg,2023-01-05T00:00:00+08:00,2023-01-06T00:00:00+08:00,settled,2023-01-06T01:00:00+08:00,\n" +
			"y,CNY,oops,L6,m1,ecs,2023-01,payg,2023-01-05T00:00:00+08:00,2023-01-06T00:00:00+08:00,settled,2023-01-06T01:00:00+08:00,\n" +
			"\"z, q\",CNY,40.5,L4,m2,ecs,2023-01,PAYG,2023-01-05T00:00:00+08:00,2023-01-06T00:00:00+08:00,Settled,2023-01-06T01:00:00+08:00,\n",
		"changes.csv": "change_id,account_id,policy,management_account_id,changed_at\nk1,m1,trusteeship,MA,2023-01-05T12:00:00+08:00\n",
	}
	for name, text := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, b, c := filepath.Join(dir, "usage/a.csv"), filepath.Join(dir, "usage/b.csv"), filepath.Join(dir, "usage/c.csv")
	type reject struct{ File, Row, Code, Reason, Record string }
	want := []reject{
		{b, "1", "duplicate_line_id", "line_id L2 was already read at " + a + ":2; the first stays",
			`{"line_id":"L2","account_id":"m1","product_code":"ecs","billing_cycle":"2023-01","subscription_type":"payg","usage_start":"2023-01-05T00:00:00+08:00","usage_end":"2023-01-06T00:00:00+08:00","list_amount":"20","currency":"CNY","payment_status":"settled","issued_at":"2023-01-06T01:00:00+08:00","settled_at":""}`},
		{b, "3", "duplicate_line_id", "line_id L1 was already read at " + a + ":1; the first stays",
			`{"line_id":"L1","account_id":"m2","product_code":"ecs","billing_cycle":"2023-01","subscription_type":"payg","usage_start":"2023-01-05T00:00:00+08:00","usage_end":"2023-01-06T00:00:00+08:00","list_amount":"10","currency":"CNY","payment_status":"settled","issued_at":"2023-01-06T01:00:00+08:00","settled_at":""}`},
		{c, "2", "invalid_amount", "", ""},
		{c, "3", "duplicate_line_id", "line_id L4 was already read at " + b + ":2; the first stays",
			`{"note":"z, q","currency":"CNY","list_amount":"40.5","line_id":"L4","account_id":"m2","product_code":"ecs","billing_cycle":"2023-01","subscription_type":"PAYG","usage_start":"2023-01-05T00:00:00+08:00","usage_end":"2023-01-06T00:00:00+08:00","payment_status":"Settled","issued_at":"2023-01-06T01:00:00+08:00","settled_at":""}`},
	}
	for _, spill := range []int{1 << 30, 1} { // in memory; a run per line
		out := filepath.Join(dir, "out")
		res, err := Run(context.Background(), Config{Usage: []string{filepath.Join(dir, "usage")}, Changes: []string{filepath.Join(dir, "changes.csv")},
			Out: out, MaxRejectRatio: -1, SpillBytes: spill})
		if err != nil {
			t.Fatalf("spill %d: Run() = %v", spill, err)
		}
		var got []reject
		err = parquetio.Read(filepath.Join(out, "rejects/usage.parquet"), func(cols []string, v map[string]parquet.Value) error {
			x := reject{File: v["source_file"].String(), Row: v["source_row"].String(), Code: v["reason_code"].String()}
			if x.Code == "duplicate_line_id" {
				x.Reason, x.Record = v["reason"].String(), v["record"].String()
			}
			got = append(got, x)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("spill %d: usage rejects (-want +got):\n%s", spill, diff)
		}
		billed := map[string]string{}
		err = writers.ReadBills(out, func(b *writers.BillRecord) error {
			billed[b.LineID] = b.Amount.String()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"L1": "1.000000000", "L2": "2.000000000", "L3": "3.000000000", "L4": "4.000000000", "L5": "5.000000000"}, billed); diff != "" {
			t.Errorf("spill %d: billed amounts by line_id (-want +got):\n%s", spill, diff)
		}
		m := res.Manifest
		if m.Counts.UsageRejected != 4 || m.Totals["CNY"].Rejected != "70.500000000" || m.Totals["CNY"].Billed != "15.000000000" {
			t.Errorf("spill %d: rejected %d rows, CNY totals %+v; want 4 rows, 70.500000000 rejected, 15.000000000 billed", spill, m.Counts.UsageRejected, m.Totals["CNY"])
		}
		if problems, err := verify.Dir(out); err != nil || len(problems) > 0 {
			t.Errorf("spill %d: Verify() = %v, %v", spill, problems, err)
		}
	}
}
