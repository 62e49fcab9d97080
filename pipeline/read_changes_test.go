package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/billcons/billcons/parquetio"
	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"
)

// TestChangeRejectsReadAgain: the raw record of a change a rule rejects is
// read again from its file after the rules have judged every change (issue
// 13: keeping every row's record was most of a million changes' memory).
// Over three change files in other column orders, with a malformed row and
// a file with no rejected change between them, each reject must carry its
// own row's values, in its own file's column order: seed 001 rule 7 (no
// chains, one payer at a time) and CONTRACT.md's change rejections.
func TestChangeRejectsReadAgain(t *testing.T) {
	dir := t.TempDir()
	const usage = "line_id,account_id,product_code,billing_cycle,subscription_type,usage_start,usage_end,list_amount,currency,payment_status,issued_at,settled_at\n" +
		"L1,m1,ecs,2023-01,payg,2023-01-05T00:00:00+08:00,2023-01-06T00:00:00+08:00,1,CNY,settled,2023-01-06T01:00:00+08:00,\n"
	files := map[string]string{
		"usage.csv": usage,
		"changes/a.csv": "change_id,account_id,policy,management_account_id,changed_at\n" +
			"k1,m1,trusteeship,MA,2023-01-01T00:00:00+08:00\n" +
			"k2,m2,trusteeship,m2,2023-01-02T00:00:00+08:00\n", // self
		"changes/b.csv": "account_id,change_id,changed_at,policy,management_account_id\n" +
			"m3,k3,2023-01-03T00:00:00+08:00,trusteeship,MB\n",
		"changes/c.csv": "changed_at,management_account_id,policy,account_id,change_id,note\n" +
			"2023-01-04T00:00:00+08:00,MA,trusteeship,m4,k4,x\n" +
			"yesterday,MA,trusteeship,m5,k5,y\n" + // malformed: rejected while reading
			"2023-01-05T00:00:00+08:00,MA,trusteeship,MB,k6,\"z, q\"\n" + // MB manages m3: a chain
			"2023-01-01T00:00:00+08:00,MB,trusteeship,m1,k1,w\n", // k1 again, another change: ambiguous
	}
	for name, text := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, c := filepath.Join(dir, "changes/a.csv"), filepath.Join(dir, "changes/c.csv")
	out := filepath.Join(dir, "out")
	if _, err := Run(context.Background(), Config{Usage: []string{filepath.Join(dir, "usage.csv")}, Changes: []string{filepath.Join(dir, "changes")},
		Out: out, MaxRejectRatio: -1}); err != nil {
		t.Fatal(err)
	}
	type reject struct{ File, Row, Code, Record string }
	var got []reject
	err := parquetio.Read(filepath.Join(out, "rejects/changes.parquet"), func(cols []string, v map[string]parquet.Value) error {
		got = append(got, reject{v["source_file"].String(), v["source_row"].String(), v["reason_code"].String(), v["record"].String()})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []reject{
		{a, "1", "ambiguous_change_id", `{"change_id":"k1","account_id":"m1","policy":"trusteeship","management_account_id":"MA","changed_at":"2023-01-01T00:00:00+08:00"}`},
		{a, "2", "self_trusteeship", `{"change_id":"k2","account_id":"m2","policy":"trusteeship","management_account_id":"m2","changed_at":"2023-01-02T00:00:00+08:00"}`},
		{c, "2", "invalid_timestamp", `{"changed_at":"yesterday","management_account_id":"MA","policy":"trusteeship","account_id":"m5","change_id":"k5","note":"y"}`},
		{c, "3", "member_is_management", `{"changed_at":"2023-01-05T00:00:00+08:00","management_account_id":"MA","policy":"trusteeship","account_id":"MB","change_id":"k6","note":"z, q"}`},
		{c, "4", "ambiguous_change_id", `{"changed_at":"2023-01-01T00:00:00+08:00","management_account_id":"MB","policy":"trusteeship","account_id":"m1","change_id":"k1","note":"w"}`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("change rejects (-want +got):\n%s", diff)
	}
}
