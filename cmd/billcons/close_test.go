package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lateLine is the late January line of the README's walk-through: 5,000
// CNY of a member 2000000000000001 pays for, exported after January and
// February were invoiced.
const lateLine = "L900001,1000000000000001,oss,2024-01,payasyougo,2024-01-20T00:00:00+08:00,2024-01-21T00:00:00+08:00,5000,CNY,settled,2024-01-21T02:00:00+08:00,2024-01-22T02:00:00+08:00,ap-southeast-1,late,,oss-01,42500.000,GB-Hours,env:prod;team:web\n"

// TestCloseWalkthrough is the README's "Closing a month" as a user types
// it (CONTRACT.md, "Nightly runs over months": Close, Corrections): the
// closed months' statements do not move when a late line arrives; the
// first open month carries it as a correction, with its reason.
func TestCloseWalkthrough(t *testing.T) {
	t.Chdir(t.TempDir())
	args := append(inputs(t, "in", false), "--out", "out")
	billcons(t, 0, args...)

	// Cycles close in order.
	if msg := billcons(t, exitFailed, "close", "out", "--cycle", "2024-02"); !strings.Contains(msg, "close 2024-01 first") {
		t.Errorf("closing February first said %q", msg)
	}
	billcons(t, 0, "close", "out", "--cycle", "2024-01")
	billcons(t, 0, "close", "out", "--cycle", "2024-02")
	if msg := billcons(t, exitFailed, "close", "out", "--cycle", "2024-02"); !strings.Contains(msg, "closed already") {
		t.Errorf("closing February twice said %q", msg)
	}
	feb := billcons(t, 0, "invoice", "out", "--payer", "2000000000000001", "--cycle", "2024-02")
	if !strings.Contains(feb, "invoice 202402-2000000000000001-CNY") {
		t.Errorf("February's statement names no invoice id:\n%s", feb)
	}

	// The late line arrives in the usage folder: the file the README's
	// walk-through copies.
	late := readFile(t, filepath.Join(demo, "late", "late-2024-01.csv"))
	if !strings.HasSuffix(late, lateLine) {
		t.Fatalf("fixtures/demo/late/late-2024-01.csv is not the walk-through's line:\n%s", late)
	}
	os.WriteFile("in/usage/late-2024-01.csv", []byte(late), 0o644)
	billcons(t, 0, args...)
	if got := billcons(t, 0, "invoice", "out", "--payer", "2000000000000001", "--cycle", "2024-02"); got != feb {
		t.Errorf("February's statement changed after its close:\n%s\nwas\n%s", got, feb)
	}
	mar := billcons(t, 0, "invoice", "out", "--payer", "2000000000000001", "--cycle", "2024-03")
	for _, want := range []string{"Corrections to closed cycles", "2024-01, late_line", "L900001  1000000000000001  oss  CNY  list 5000.000000000"} {
		if !strings.Contains(mar, want) {
			t.Errorf("March's statement lacks %q:\n%s", want, mar)
		}
	}
	billcons(t, 0, "verify", "out")
	// In FOCUS: a Correction in March's billing period, charged for the
	// line's own period in January; January's rows carry their invoice.
	focus := billcons(t, 0, "query", "out", "--format", "csv", `SELECT ChargeClass AS class, strftime(BillingPeriodStart, '%Y-%m') AS billed,
		strftime(ChargePeriodStart AT TIME ZONE 'Asia/Shanghai', '%Y-%m-%d') AS charged, BilledCost AS cost, InvoiceId AS invoice
		FROM focus WHERE x_LineId = 'L900001'`)
	if want := "class,billed,charged,cost,invoice\nCorrection,2024-03,2024-01-20,4250.000000000,202403-2000000000000001-CNY\n"; focus != want {
		t.Errorf("the late line in FOCUS:\n%s\nwant\n%s", focus, want)
	}
	if n := billcons(t, 0, "query", "out", "--format", "csv", `SELECT count(*) FROM focus WHERE x_BillingCycle = '2024-01' AND InvoiceId IS NULL`); n != "count_star()\n0\n" {
		t.Errorf("January's FOCUS rows without an InvoiceId: %s", n)
	}

	// Rolling back past a close would reopen February: refused.
	if msg := billcons(t, exitFailed, "rollback", "out", "1"); !strings.Contains(msg, "never reopened") {
		t.Errorf("rollback past the close said %q", msg)
	}
	// --restate names a closed cycle.
	billcons(t, exitUsage, append(args, "--restate", "2024-03")...)

	// A January line the export now spoils is a loss: the guard trips
	// (exit 3); published on purpose, it is withdrawn in March.
	rewrite(t, "usage/a.csv", `(?m)^L000001,(.*?),58.3505,`, "L000001,$1,58.35O5,")
	if msg := billcons(t, exitDataQuality, args...); !strings.Contains(msg, "invoiced in a closed cycle are rejected now") || !strings.Contains(msg, "L000001") {
		t.Errorf("a closed line rejected now said %q", msg)
	}
	billcons(t, 0, append(args, "--accept-missing")...)
	out := billcons(t, 0, "query", "out", "--format", "csv", "SELECT billing_cycle, payer_account_id, line_id, correction_reason, list_amount FROM bills WHERE charge_class = 'correction' ORDER BY ALL")
	want := "billing_cycle,payer_account_id,line_id,correction_reason,list_amount\n" +
		"2024-03,2000000000000001,L000001,line_withdrawn,-58.350500000\n" +
		"2024-03,2000000000000001,L900001,late_line,5000.000000000\n"
	if out != want {
		t.Errorf("correction rows:\n%s\nwant\n%s", out, want)
	}
	// The − row is the invoiced row, its carried-through columns too.
	if got := billcons(t, 0, "query", "out", "--format", "csv", "SELECT region, resource_name FROM bills WHERE line_id = 'L000001' ORDER BY charge_class NULLS FIRST"); got != "region,resource_name\nap-southeast-1,\"db \"\"primary\"\"\"\nap-southeast-1,\"db \"\"primary\"\"\"\n" {
		t.Errorf("L000001's own and − rows:\n%s", got)
	}
	billcons(t, 0, "verify", "out")
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
