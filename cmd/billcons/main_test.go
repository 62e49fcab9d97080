package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/billcons/billcons/fixtures"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	if os.Getenv("BILLCONS_TEST_MAIN") == "1" {
		main() // a child of the crash tests
	}
	testscript.Main(m, map[string]func(){
		"billcons": func() { os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the command-line scripts in testdata/script: help, usage
// errors, exit statuses, verify catching damage and the lock on DIR.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *fixtures.Update,
	})
}

// TestExitStatuses pins the exit statuses of CONTRACT.md, Command line.
func TestExitStatuses(t *testing.T) {
	dir := t.TempDir()
	u := dir + "/usage.csv"
	c := dir + "/changes.csv"
	os.WriteFile(u, []byte("line_id,account_id,product_code,billing_cycle,subscription_type,usage_start,usage_end,list_amount,currency,payment_status,issued_at,settled_at\n"+
		"L1,m1,ecs,2023-01,payg,2023-01-05T00:00:00+08:00,2023-01-06T00:00:00+08:00,bad,CNY,settled,2023-01-06T01:00:00+08:00,\n"), 0o644)
	os.WriteFile(c, []byte("change_id,account_id,policy,management_account_id,changed_at\n"), 0o644)
	tests := []struct {
		Name string
		Args []string
		Want int
	}{
		{"completed with rejects", []string{"run", "--usage", u, "--changes", c, "--out", dir + "/a", "--quiet", "--max-reject-ratio", "1"}, exitOK},
		{"rejects above the default ratio", []string{"run", "--usage", u, "--changes", c, "--out", dir + "/d", "--quiet"}, exitDataQuality},
		{"usage error", []string{"run", "--usage", u}, exitUsage},
		{"unreadable input", []string{"run", "--usage", dir + "/none.csv", "--changes", c, "--out", dir + "/b"}, exitFailed},
		{"data quality", []string{"run", "--usage", u, "--changes", c, "--out", dir + "/c", "--max-reject-ratio", "0.5"}, exitDataQuality},
		{"verify of nothing", []string{"verify", dir + "/none"}, exitFailed},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			var out, errb strings.Builder
			if got := Main(context.Background(), tt.Args, &out, &errb); got != tt.Want {
				t.Errorf("Main(%v) = %d, want %d; stderr: %s", tt.Args, got, tt.Want, errb.String())
			}
		})
	}
}
