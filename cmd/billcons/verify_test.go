package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/writers"
	"github.com/parquet-go/parquet-go"
)

// TestVerifyCatchesDamage damages a finished tree in each way a disk, a
// person or a partial copy can, and checks verify fails naming the file.
func TestVerifyCatchesDamage(t *testing.T) {
	part := "bills/billing_cycle=2024-02/part-00000.parquet"
	tests := []struct {
		name   string
		damage func(t *testing.T)
		want   string
	}{
		{"a byte flipped in a bills file", func(t *testing.T) {
			b, err := os.ReadFile("out/" + part)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			os.WriteFile("out/"+part, b, 0o644)
		}, part + ": content differs from manifest.json"},
		{"a bills file deleted", func(t *testing.T) {
			os.Remove("out/" + part)
		}, part + ": listed in manifest.json but missing"},
		{"a bills file added", func(t *testing.T) {
			b, _ := os.ReadFile("out/" + part)
			os.WriteFile("out/bills/billing_cycle=2024-02/part-00001.parquet", b, 0o644)
		}, "bills/billing_cycle=2024-02/part-00001.parquet: file is not listed in manifest.json"},
		{"a bills file truncated", func(t *testing.T) {
			os.Truncate("out/"+part, 100)
		}, part + ": content differs from manifest.json"},
		{"the manifest's totals edited", func(t *testing.T) {
			b, _ := os.ReadFile("out/manifest.json")
			os.WriteFile("out/manifest.json", []byte(strings.Replace(string(b), `"usage_billed": 1`, `"usage_billed": 2`, 1)), 0o644)
		}, "bills hold 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			args := append(inputs(t, "in", false), "--out", "out")
			billcons(t, 0, args...)
			billcons(t, 0, "verify", "out")
			tt.damage(t)
			msg := billcons(t, exitFailed, "verify", "out")
			if !strings.Contains(msg, tt.want) {
				t.Errorf("verify said %q, want %q", msg, tt.want)
			}
		})
	}
}

// TestVerifyInputs: verify --inputs tells whether a tree still matches its
// inputs, and names each file new, changed or gone since the run.
func TestVerifyInputs(t *testing.T) {
	t.Chdir(t.TempDir())
	args := append(inputs(t, "in", false), "--out", "out")
	billcons(t, 0, args...)
	if msg := billcons(t, 0, "verify", "out", "--inputs"); !strings.Contains(msg, "out: ok, and its inputs are unchanged") {
		t.Fatalf("verify --inputs said %q", msg)
	}

	inputs(t, "in", true) // more usage arrives: in/usage/b.csv
	f, _ := os.OpenFile("in/changes.csv", os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("late,1000000000000001,none,,2024-03-20T00:00:00+08:00\n")
	f.Close()
	os.Remove("in/accounts.csv")
	msg := billcons(t, exitFailed, "verify", "--inputs", "out")
	wd, _ := os.Getwd()
	if strings.Count(msg, "accounts.csv") != 1 {
		t.Errorf("verify --inputs named the removed accounts file more than once: %q", msg)
	}
	for _, want := range []string{
		"inputs: " + filepath.Join("in", "usage", "b.csv") + ": new since the run (--usage in/usage)",
		"inputs: in/changes.csv: changed since the run",
		"inputs: in/accounts.csv (in " + wd + ", where the run started): read by the run as accounts, but no longer there: moved or removed",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("verify --inputs said %q, want %q", msg, want)
		}
	}
	// The tree itself is still sound: without --inputs verify passes.
	billcons(t, 0, "verify", "out")
}

// TestVerifyCatchesSettlementDamage rewrites a settlement file consistently
// with the manifest's checksums, as a buggy writer would, and checks verify
// still finds the broken invariant (CONTRACT.md: applied = amount -
// remaining, no credit pays more than its amount, due = effective - credits).
func TestVerifyCatchesSettlementDamage(t *testing.T) {
	t.Chdir(t.TempDir())
	billcons(t, 0, append(inputs(t, "in", false), "--out", "out")...)
	billcons(t, 0, "verify", "out")

	var credits []*rules.CreditBalance
	err := parquetio.Read("out/credits/balances.parquet", func(_ []string, v map[string]parquet.Value) error {
		c := &rules.CreditBalance{}
		c.CreditID, c.Owner, c.Currency = string(v["credit_id"].ByteArray()), string(v["owner_account_id"].ByteArray()), string(v["currency"].ByteArray())
		c.Kind, _ = billing.ParseCreditKind(string(v["kind"].ByteArray()))
		c.Amount, c.Applied = billing.Amount(v["amount"].Int64()), billing.Amount(v["applied"].Int64())
		credits = append(credits, c)
		return nil
	})
	if err != nil || len(credits) == 0 {
		t.Fatalf("reading balances: %v, %d credits", err, len(credits))
	}
	credits[0].Applied++ // one unit of 10^-9 more than credits/applied.parquet applies
	tmp := t.TempDir()
	out, err := writers.WriteCreditBalances(tmp, credits)
	if err != nil {
		t.Fatal(err)
	}
	replaceOutput(t, "out", tmp, out, func(*writers.Manifest) {})
	msg := billcons(t, exitFailed, "verify", "out")
	if want := "credit " + credits[0].CreditID + ": credits/balances.parquet says"; !strings.Contains(msg, want) {
		t.Errorf("verify said %q, want %q", msg, want)
	}
}

// TestVerifyCatchesSummaryDamage rewrites the summary consistently with the
// manifest's checksums and row count, as a buggy writer would, and checks
// verify still finds each statement row that does not match its bills
// (CONTRACT.md: the summary holds one row per cycle, payer, member, product
// and currency, the sums of its bills). Verify meets the bills and the
// summary rows in a sort, not a map: each case is a way that join can go
// wrong.
func TestVerifyCatchesSummaryDamage(t *testing.T) {
	tests := []struct {
		name   string
		damage func(rows []writers.SummaryRow) []writers.SummaryRow
		want   string
	}{
		{"a row's line count", func(rows []writers.SummaryRow) []writers.SummaryRow {
			rows[1].LineCount++
			return rows
		}, "; the bills hold"},
		{"a row's discount", func(rows []writers.SummaryRow) []writers.SummaryRow {
			rows[0].Discount.Add(1)
			return rows
		}, "says discount"},
		{"a row dropped", func(rows []writers.SummaryRow) []writers.SummaryRow {
			return append(rows[:1], rows[2:]...)
		}, "have no summary row"},
		{"a row twice", func(rows []writers.SummaryRow) []writers.SummaryRow {
			return append(rows[:len(rows)-1], rows[0])
		}, "appears more than once"},
		{"a row of a member without bills", func(rows []writers.SummaryRow) []writers.SummaryRow {
			rows[0].AccountID = "1999999999999999"
			return rows
		}, "1999999999999999 " /* the row's key, printed */},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			billcons(t, 0, append(inputs(t, "in", false), "--out", "out")...)
			var rows []writers.SummaryRow
			if err := writers.ReadSummary("out/summary/summary.parquet", func(r *writers.SummaryRow) error {
				rows = append(rows, *r)
				return nil
			}); err != nil || len(rows) < 3 {
				t.Fatalf("reading the summary: %v, %d rows", err, len(rows))
			}
			rows = tt.damage(rows)
			tmp := t.TempDir()
			s, err := writers.NewSummary(tmp)
			if err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				if err := s.Write(&rows[i]); err != nil {
					t.Fatal(err)
				}
			}
			out, err := s.Close()
			if err != nil {
				t.Fatal(err)
			}
			replaceOutput(t, "out", tmp, out, func(m *writers.Manifest) { m.Counts.SummaryRows = int64(len(rows)) })
			msg := billcons(t, exitFailed, "verify", "out")
			if !strings.Contains(msg, tt.want) {
				t.Errorf("verify said %q, want %q", msg, tt.want)
			}
		})
	}
}

// replaceOutput puts output out, written under tmp, into the tree at dir
// in place of the file of the same path, with the manifest's checksum of
// it, and edits the manifest with edit.
func replaceOutput(t *testing.T, dir, tmp string, out writers.Output, edit func(*writers.Manifest)) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tmp, out.Path))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, out.Path), b, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := writers.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Outputs {
		if m.Outputs[i].Path == out.Path {
			m.Outputs[i] = out
		}
	}
	edit(m)
	if err := writers.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
}
