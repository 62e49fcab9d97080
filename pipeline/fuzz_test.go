package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/verify"
)

// FuzzRun runs the whole job on fuzzed usage rows under a valid header. The
// property is CONTRACT.md's: the run either stops with an error naming the
// file, or completes with every row read billed or rejected (rows read =
// billed + rejected), amounts conserved to the last digit, and a tree that
// billcons verify accepts.
func FuzzRun(f *testing.F) {
	const hdr = "line_id,account_id,product_code,billing_cycle,subscription_type,usage_start,usage_end,list_amount,currency,payment_status,issued_at,settled_at,note\n"
	for _, s := range []string{
		"L1,m1,ecs,2023-01,payg,2023-01-05T00:00:00+08:00,2023-01-06T00:00:00+08:00,1.25,CNY,settled,2023-01-06T01:00:00+08:00,,\"a, b\"\n",
		"L1,m1,ecs,2023-01,payg,2023-01-05T00:00:00+08:00,2023-01-06T00:00:00+08:00,1.25,CNY,unsettled,2023-01-06T01:00:00+08:00,,x\nL1,m2,oss,2023-02,subscription,2023-02-05T00:00:00+08:00,2023-02-06T00:00:00+08:00,-3,USD,settled,2023-02-06T01:00:00+08:00,2023-03-01T00:00:00Z,y\n",
		"L2,m1,ecs,2023-01,payg,2023-01-05T00:00:00+08:00,2023-01-06T00:00:00+08:00,1e3,CNY,settled,2023-01-06T01:00:00+08:00,\n",
		"L3,m1,ecs,2023-01,payg,2023-01-05T00:00:00+08:00,2023-01-06T00:00:00+08:00,1,CNY,settled,2023-01-06T01:00:00+08:00,,x,extra,\"more\"\n",
		"\"L4\n",
		"L5,m\xff,ecs,2023-01,payg,2023-01-05T00:00:00+08:00,2023-01-06T00:00:00+08:00,1,CNY,settled,2023-01-06T01:00:00+08:00,,\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	changes := filepath.Join(dir, "changes.csv")
	os.WriteFile(changes, []byte("change_id,account_id,policy,management_account_id,changed_at\n"+
		"k1,m1,trusteeship,MA,2023-01-05T12:00:00+08:00\nk2,m2,trusteeship,MB,2023-01-01T00:00:00+08:00\nk3,m1,none,,2023-02-01T00:00:00+08:00\n"), 0o644)
	f.Fuzz(func(t *testing.T, body []byte) {
		usage := filepath.Join(dir, "usage.csv")
		out := filepath.Join(dir, "out")
		if err := os.WriteFile(usage, append([]byte(hdr), body...), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Run(context.Background(), Config{Usage: []string{usage}, Changes: []string{changes}, Out: out,
			Timing: rules.TimingEndTime, MaxRejectRatio: -1, SpillBytes: 1 << 16})
		if err != nil {
			if !strings.HasPrefix(err.Error(), usage+":") {
				t.Fatalf("run failed without naming the file: %v", err)
			}
			return
		}
		c := res.Manifest.Counts
		if c.UsageRead != c.UsageBilled+c.UsageRejected {
			t.Fatalf("read %d, billed %d, rejected %d", c.UsageRead, c.UsageBilled, c.UsageRejected)
		}
		problems, err := verify.Dir(out)
		if err != nil || len(problems) > 0 {
			t.Fatalf("verify: %v %v", err, problems)
		}
	})
}
