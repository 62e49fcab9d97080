package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/billcons/billcons/verify"
	"github.com/billcons/billcons/writers"
)

// TestOptionalColumnsRejected runs the job end to end on lines whose
// optional columns are bad (a usage_quantity that is not an exact decimal,
// tags that are not key:value pairs) and an account whose account_name is
// too long: each lands in its rejects with its reason and row, the rest is
// billed, the counts add up, and verify passes (docs/inputs.md).
func TestOptionalColumnsRejected(t *testing.T) {
	const header = "line_id,account_id,product_code,billing_cycle,subscription_type,usage_start,usage_end,list_amount,currency,payment_status,issued_at,settled_at,usage_quantity,usage_unit,tags"
	row := func(id, qty, tags string) string {
		return id + ",m1,ecs,2023-01,payg,2023-01-05T00:00:00+08:00,2023-01-06T00:00:00+08:00,1.5,CNY,settled,2023-01-06T01:00:00+08:00,," + qty + ",Hours," + tags
	}
	dir := t.TempDir()
	files := map[string]string{
		"usage.csv": header + "\n" + row("L1", "24", "env:prod") + "\n" + row("L2", "2.4e1", "env:prod") + "\n" +
			row("L3", "24", "env") + "\n" + row("L4", "", "") + "\n",
		"changes.csv":  "change_id,account_id,policy,management_account_id,changed_at\nk1,m1,trusteeship,MA,2022-12-05T12:00:00+08:00\n",
		"accounts.csv": "account_id,enterprise_id,account_name\nm1,e1,Team one\nMA,e1,Holdings\nm9,e1," + strings.Repeat("x", 257) + "\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	res, err := Run(context.Background(), Config{Usage: []string{filepath.Join(dir, "usage.csv")}, Changes: []string{filepath.Join(dir, "changes.csv")},
		Accounts: []string{filepath.Join(dir, "accounts.csv")}, Out: out, MaxRejectRatio: -1})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Manifest.Counts
	if c.UsageRead != 4 || c.UsageBilled != 2 || c.UsageRejected != 2 || c.AccountsRejected != 1 {
		t.Errorf("counts %+v: want 4 read, 2 billed, 2 rejected, 1 account rejected", c)
	}
	got := map[string]string{}
	for _, f := range []string{"rejects/usage.parquet", "rejects/accounts.parquet"} {
		if err := writers.ReadRejects(filepath.Join(out, f), func(x *writers.Reject) error {
			got[x.Code] = x.Reason
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for code, field := range map[string]string{"invalid_usage_quantity": "usage_quantity", "invalid_tags": "tags", "invalid_account_name": "account_name"} {
		if !strings.HasPrefix(got[code], field+": ") {
			t.Errorf("%s: reason %q, want one naming %s", code, got[code], field)
		}
	}
	if problems, err := verify.Dir(out); err != nil || len(problems) > 0 {
		t.Errorf("verify: %v %v", err, problems)
	}
}
