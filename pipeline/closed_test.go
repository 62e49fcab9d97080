package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/verify"
	"github.com/billcons/billcons/writers"
)

const usageHeader = "line_id,account_id,product_code,billing_cycle,subscription_type,usage_start,usage_end,list_amount,currency,payment_status,issued_at,settled_at\n"

// usageRow is one usage line of a test: a day of usage in its cycle.
func usageRow(id, member, product, cycle string, day int, amount string) string {
	return fmt.Sprintf("%s,%s,%s,%s,payasyougo,%s-%02dT00:00:00+08:00,%s-%02dT01:00:00+08:00,%s,CNY,settled,%s-%02dT02:00:00+08:00,\n",
		id, member, product, cycle, cycle, day, cycle, day, amount, cycle, day)
}

// heldRows are m4's lines of January: h1, issued January 5 and unsettled
// when January was invoiced, holds back k4 (m4 into MA's trusteeship on
// January 20) for ecs, so h2, used after k4, stays m4's (seed 000,
// Scenario 1). settled gives h1 as paid on January 10, before k4: a
// payment reported after the close.
func heldRows(settled bool) string {
	h1 := usageRow("h1", "m4", "ecs", "2024-01", 5, "40")
	if settled {
		h1 = strings.Replace(h1, ",settled,2024-01-05T02:00:00+08:00,\n", ",settled,2024-01-05T02:00:00+08:00,2024-01-10T00:00:00+08:00\n", 1)
	} else {
		h1 = strings.Replace(h1, ",settled,", ",unsettled,", 1)
	}
	return h1 + usageRow("h2", "m4", "ecs", "2024-01", 25, "15")
}

// closedTree is a tree and the inputs of its runs.
type closedTree struct {
	t              *testing.T
	dir, out       string
	usage, changes string
	credits        string
}

func newClosedTree(t *testing.T) *closedTree {
	dir := t.TempDir()
	c := &closedTree{t: t, dir: dir, out: filepath.Join(dir, "out"), usage: filepath.Join(dir, "usage.csv"),
		changes: filepath.Join(dir, "changes.csv"), credits: filepath.Join(dir, "credits.csv")}
	c.write(c.credits, "credit_id,owner_account_id,kind,currency,amount,valid_from,valid_to,product_code,shared_with\n"+
		"v-ma,MA,voucher,CNY,1000,2023-01-01T00:00:00+08:00,,,\n")
	return c
}

func (c *closedTree) write(p, text string) {
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *closedTree) run(restate ...billing.Cycle) *Result {
	c.t.Helper()
	res, err := Run(context.Background(), Config{Usage: []string{c.usage}, Changes: []string{c.changes}, Credits: []string{c.credits},
		Out: c.out, MaxRejectRatio: -1, Restate: restate})
	if err != nil {
		c.t.Fatal(err)
	}
	return res
}

func (c *closedTree) close(cycle string) {
	c.t.Helper()
	cy, _ := billing.ParseCycle(cycle)
	if _, _, err := writers.CloseCycle(context.Background(), c.out, cy, 7, 0); err != nil {
		c.t.Fatal(err)
	}
}

// corrections renders the correction rows of the latest version, in file
// order: cycle payer line reason corrects list discount.
func (c *closedTree) corrections() []string {
	c.t.Helper()
	var out []string
	files, err := writers.BillFiles(c.out)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, f := range files {
		cy, _ := billing.ParseCycle(strings.TrimPrefix(filepath.Base(filepath.Dir(f)), "billing_cycle="))
		err := writers.ReadBillRows(filepath.Join(c.out, f), cy, func(l *billing.UsageLine, d *writers.Decided, _ []string) error {
			if d.ChargeClass != "" {
				out = append(out, fmt.Sprintf("%s %s %s %s %s %s %s", l.Cycle, d.Payer, l.LineID, d.CorrectionReason, d.CorrectsCycle, l.ListAmount, d.DiscountAmount))
			}
			return nil
		})
		if err != nil {
			c.t.Fatal(err)
		}
	}
	return out
}

func (c *closedTree) verify() {
	c.t.Helper()
	problems, err := verify.Dir(c.out)
	if err != nil {
		c.t.Fatal(err)
	}
	if len(problems) > 0 {
		c.t.Fatalf("verify:\n%s", strings.Join(problems, "\n"))
	}
}

func (c *closedTree) fileSHA(cycle string) map[string]string {
	m, err := writers.ReadManifest(c.out)
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range m.Outputs {
		if strings.HasPrefix(o.Path, "bills/billing_cycle="+cycle+"/") {
			out[o.Path] = o.SHA256
		}
	}
	return out
}

func (c *closedTree) summary(cycle string) []string {
	var rows []string
	err := writers.ReadSummary(filepath.Join(c.out, "summary", "summary.parquet"), func(r *writers.SummaryRow) error {
		if r.Cycle.String() == cycle {
			rows = append(rows, fmt.Sprintf("%s %s %s %s lines=%d list=%s eff=%s voucher=%s due=%s corr=%s inv=%s", r.Cycle, r.Payer, r.AccountID, r.Product,
				r.LineCount, r.ListAmount, r.Effective, r.Voucher, r.Due, r.Correction, r.InvoiceID))
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return rows
}

func (c *closedTree) applied() []string {
	var rows []string
	err := writers.ReadApplied(filepath.Join(c.out, "credits", "applied.parquet"), func(r *rules.StatementRow, a *rules.Application, from string) error {
		row := fmt.Sprintf("%s %s %s %s %s %s", r.Cycle, r.Payer, r.Member, r.Product, a.CreditID, a.Amount)
		if from != "" {
			row += " from " + from
		}
		rows = append(rows, row)
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return rows
}

func wantLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// TestCorrections walks the contract's "Nightly runs over months: close,
// corrections" on a small history: January closed, then a night whose
// inputs bring each reason a correction has, and the runs after it.
func TestCorrections(t *testing.T) {
	c := newClosedTree(t)
	jan := usageRow("a1", "m1", "ecs", "2024-01", 5, "100") + // MA pays; its voucher pays the row
		usageRow("a2", "m2", "ecs", "2024-01", 5, "50") + // m2 pays itself
		usageRow("a3", "m3", "ecs", "2024-01", 5, "30") + // archived later
		usageRow("a4", "m1", "oss", "2024-01", 5, "20")
	feb := usageRow("b1", "m1", "ecs", "2024-02", 5, "10")
	c.write(c.usage, usageHeader+jan+heldRows(false)+feb)
	c.write(c.changes, "change_id,account_id,policy,management_account_id,changed_at\nk1,m1,trusteeship,MA,2023-12-01T00:00:00+08:00\n"+
		"k4,m4,trusteeship,MA,2024-01-20T00:00:00+08:00\n")
	c.run()
	c.close("2024-01")
	janFiles := c.fileSHA("2024-01")
	janSummary := c.summary("2024-01")
	if len(janFiles) == 0 || !strings.Contains(janSummary[0], "inv=202401-") {
		t.Fatalf("closing January: files %v, summary %v", janFiles, janSummary)
	}
	c.verify()

	// The night after the close: a1 now malformed (withdrawn: rejected),
	// a2 moved to MB by a late change of January (payer_changed, though
	// its amount changed too: the first reason that applies), a3 absent
	// (carried as invoiced), a4's amount corrected (amount_changed), a5
	// late (late_line). h1 is reported paid before k4: January invoiced it
	// unsettled, so it still holds k4 back and h2 is not corrected.
	c.write(c.usage, usageHeader+strings.Replace(usageRow("a1", "m1", "ecs", "2024-01", 5, "100"), ",100,", ",1OO,", 1)+
		usageRow("a2", "m2", "ecs", "2024-01", 5, "55")+usageRow("a4", "m1", "oss", "2024-01", 5, "25")+
		usageRow("a5", "m3", "ecs", "2024-01", 9, "7")+heldRows(true)+feb)
	c.write(c.changes, "change_id,account_id,policy,management_account_id,changed_at\nk1,m1,trusteeship,MA,2023-12-01T00:00:00+08:00\n"+
		"k4,m4,trusteeship,MA,2024-01-20T00:00:00+08:00\nk0,m2,trusteeship,MB,2024-01-01T00:00:00+08:00\n")
	res := c.run()
	want := []string{
		"2024-02 MA a1 line_withdrawn 2024-01 -100.000000000 0.000000000",
		"2024-02 MA a4 amount_changed 2024-01 -20.000000000 0.000000000",
		"2024-02 MA a4 amount_changed 2024-01 25.000000000 0.000000000",
		"2024-02 MB a2 payer_changed 2024-01 55.000000000 0.000000000",
		"2024-02 m2 a2 payer_changed 2024-01 -50.000000000 0.000000000",
		"2024-02 m3 a5 late_line 2024-01 7.000000000 0.000000000",
	}
	wantLines(t, "correction rows", c.corrections(), want)
	if got := c.fileSHA("2024-01"); fmt.Sprint(got) != fmt.Sprint(janFiles) {
		t.Errorf("January's files changed after its close:\n got %v\nwant %v", got, janFiles)
	}
	wantLines(t, "January's summary", c.summary("2024-01"), janSummary)
	if res.Manifest.Counts.LinesCarried != 1 {
		t.Errorf("%d lines carried as invoiced, want 1 (a3)", res.Manifest.Counts.LinesCarried)
	}
	// The reversals give the voucher back what it paid on January's rows
	// (a1: 100; a4: 20), in the order of the − rows, on February's rows
	// of MA; those rows then owe 10 - 100 + 100 = 10 and 5 + 20 = 25,
	// which the voucher pays again.
	wantLines(t, "credits applied", c.applied(), []string{
		"2024-01 MA m1 ecs v-ma 100.000000000",
		"2024-01 MA m1 oss v-ma 20.000000000",
		"2024-02 MA m1 ecs v-ma -100.000000000 from 2024-01",
		"2024-02 MA m1 oss v-ma -20.000000000 from 2024-01",
		"2024-02 MA m1 ecs v-ma 10.000000000",
		"2024-02 MA m1 oss v-ma 25.000000000",
	})
	wantLines(t, "February's summary", c.summary("2024-02"), []string{
		"2024-02 MA m1 ecs lines=2 list=-90.000000000 eff=-90.000000000 voucher=-90.000000000 due=0.000000000 corr=-100.000000000 inv=",
		"2024-02 MA m1 oss lines=2 list=5.000000000 eff=5.000000000 voucher=5.000000000 due=0.000000000 corr=5.000000000 inv=",
		"2024-02 MB m2 ecs lines=1 list=55.000000000 eff=55.000000000 voucher=0.000000000 due=55.000000000 corr=55.000000000 inv=",
		"2024-02 m2 m2 ecs lines=1 list=-50.000000000 eff=-50.000000000 voucher=0.000000000 due=-50.000000000 corr=-50.000000000 inv=",
		"2024-02 m3 m3 ecs lines=1 list=7.000000000 eff=7.000000000 voucher=0.000000000 due=7.000000000 corr=7.000000000 inv=",
	})
	c.verify()

	// The same inputs again: the open cycle's corrections are recomputed,
	// not added twice.
	c.run()
	wantLines(t, "correction rows, rerun", c.corrections(), want)

	// February closes with its corrections; the same inputs then correct
	// nothing more: the net invoiced states already match.
	c.close("2024-02")
	febFiles := c.fileSHA("2024-02")
	c.run()
	wantLines(t, "correction rows after February's close", c.corrections(), want)
	if got := c.fileSHA("2024-02"); fmt.Sprint(got) != fmt.Sprint(febFiles) {
		t.Errorf("February's files changed after its close")
	}
	c.verify()

	// January's exports archived: the run reads none of its lines, so it
	// reads none of its files either and carries its six standing lines
	// (a2, a3, a4, a5, h1, h2; a1 is withdrawn) from the manifest's net
	// totals.
	all := readFileT(t, c.usage)
	c.write(c.usage, usageHeader+feb)
	res = c.run()
	wantLines(t, "correction rows with January archived", c.corrections(), want)
	if n := res.Manifest.Counts.LinesCarried; n != 6 {
		t.Errorf("%d lines carried with January archived, want 6", n)
	}
	c.verify()
	c.write(c.usage, all)

	// Restating January: its inputs are whole, so a3, absent, is withdrawn
	// in March; a1 stays withdrawn (once).
	jan24, _ := billing.ParseCycle("2024-01")
	c.run(jan24)
	wantLines(t, "correction rows after restating January", c.corrections(), append(slices.Clone(want),
		"2024-03 m3 a3 line_withdrawn 2024-01 -30.000000000 0.000000000"))
	c.verify()
}

func readFileT(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMovedLine: a line January invoiced that tonight's export puts in
// February (its billing_cycle corrected) has one net state: withdrawn
// from January in February, and billed as February's own line. (January's
// export is read too; with it archived, the run does not look for moved
// lines there: docs/nightly.md.)
func TestMovedLine(t *testing.T) {
	c := newClosedTree(t)
	c.write(c.changes, "change_id,account_id,policy,management_account_id,changed_at\nk1,m1,trusteeship,MA,2023-12-01T00:00:00+08:00\n")
	jan := usageRow("a1", "m1", "ecs", "2024-01", 3, "5")
	c.write(c.usage, usageHeader+jan+usageRow("x1", "m1", "ecs", "2024-01", 30, "12")+usageRow("b1", "m1", "ecs", "2024-02", 5, "10"))
	c.run()
	c.close("2024-01")
	c.write(c.usage, usageHeader+jan+usageRow("x1", "m1", "ecs", "2024-02", 1, "12")+usageRow("b1", "m1", "ecs", "2024-02", 5, "10"))
	res := c.run()
	wantLines(t, "correction rows", c.corrections(), []string{"2024-02 MA x1 line_withdrawn 2024-01 -12.000000000 0.000000000"})
	if n := res.Manifest.Counts.LinesCarried; n != 0 {
		t.Errorf("%d lines carried, want 0: x1 is February's now", n)
	}
	c.verify()
}

// TestVerifyNetAgainstRecomputed: verify checks what the bills hold of a
// closed month, net of its corrections, against what the run recomputed:
// a recomputation that says one cent more for one payer is named.
func TestVerifyNetAgainstRecomputed(t *testing.T) {
	c := newClosedTree(t)
	c.write(c.changes, "change_id,account_id,policy,management_account_id,changed_at\nk1,m1,trusteeship,MA,2023-12-01T00:00:00+08:00\n")
	c.write(c.usage, usageHeader+usageRow("a1", "m1", "ecs", "2024-01", 3, "5")+usageRow("b1", "m1", "ecs", "2024-02", 5, "10"))
	c.run()
	c.close("2024-01")
	c.write(c.usage, usageHeader+usageRow("a1", "m1", "ecs", "2024-01", 3, "6")+usageRow("b1", "m1", "ecs", "2024-02", 5, "10"))
	c.run()
	c.verify()

	dir, err := storage.Resolve(c.out, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rows []writers.RecomputedRow
	if err := writers.ReadRecomputed(filepath.Join(dir, writers.RecomputedPath), func(r *writers.RecomputedRow) error {
		rows = append(rows, *r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].List.String() != "6.000000000" {
		t.Fatalf("recomputed %+v, want January's a1 at 6", rows)
	}
	rows[0].List.Add(10_000_000) // one cent
	tmp := t.TempDir()
	w, err := writers.NewRecomputed(tmp)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(&rows[0])
	out, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(tmp, writers.RecomputedPath), filepath.Join(dir, writers.RecomputedPath)); err != nil {
		t.Fatal(err)
	}
	m, err := writers.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Outputs {
		if m.Outputs[i].Path == writers.RecomputedPath {
			m.Outputs[i] = out
		}
	}
	os.Remove(filepath.Join(dir, "manifest.json"))
	if err := writers.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	problems, err := verify.Dir(c.out)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "closed cycle 2024-01, payer MA, CNY: the bills hold 1 lines, list 6.000000000") {
		t.Errorf("verify said %q", problems)
	}
}

// TestDiscountChanged: a discount of m3's found after January closed
// (its rate valid since 2023) changes what January's line should have
// cost: discount_changed, − the invoiced amounts and + the discounted
// ones, to the same payer.
func TestDiscountChanged(t *testing.T) {
	c := newClosedTree(t)
	c.write(c.changes, "change_id,account_id,policy,management_account_id,changed_at\n")
	c.write(c.usage, usageHeader+usageRow("d1", "m3", "ecs", "2024-01", 3, "10")+usageRow("d2", "m3", "ecs", "2024-02", 3, "20"))
	discounts := filepath.Join(c.dir, "discounts.csv")
	c.write(discounts, "discount_id,account_id,product_code,rate,valid_from,valid_to\n")
	run := func() {
		t.Helper()
		if _, err := Run(context.Background(), Config{Usage: []string{c.usage}, Changes: []string{c.changes}, Discounts: []string{discounts},
			Out: c.out, MaxRejectRatio: -1}); err != nil {
			t.Fatal(err)
		}
	}
	run()
	c.close("2024-01")
	c.write(discounts, "discount_id,account_id,product_code,rate,valid_from,valid_to\nx1,m3,ecs,0.1,2023-01-01T00:00:00+08:00,\n")
	run()
	wantLines(t, "correction rows", c.corrections(), []string{
		"2024-02 m3 d1 discount_changed 2024-01 -10.000000000 0.000000000",
		"2024-02 m3 d1 discount_changed 2024-01 10.000000000 1.000000000",
	})
	c.verify()
}

// TestReturnsNetOfEarlier: a voucher that paid 60 of January's 150 on
// MA's m1 ecs row gives back only those 60, however many corrections
// reverse that row's lines: a1 (100) withdrawn in February gets 60 back;
// after February closes, a7 (50) withdrawn in March gets nothing back, as
// the voucher has nothing left to give there (CONTRACT.md, Corrections:
// "up to what each paid there, net of earlier returns").
func TestReturnsNetOfEarlier(t *testing.T) {
	c := newClosedTree(t)
	c.write(c.credits, "credit_id,owner_account_id,kind,currency,amount,valid_from,valid_to,product_code,shared_with\n"+
		"v-ma,MA,voucher,CNY,60,2023-01-01T00:00:00+08:00,2024-02-01T00:00:00+08:00,,\n")
	c.write(c.changes, "change_id,account_id,policy,management_account_id,changed_at\nk1,m1,trusteeship,MA,2023-12-01T00:00:00+08:00\n")
	a1, a7 := usageRow("a1", "m1", "ecs", "2024-01", 5, "100"), usageRow("a7", "m1", "ecs", "2024-01", 6, "50")
	spoil := func(row string) string { return strings.Replace(row, "CNY,settled", "XYZZ,settled", 1) }
	feb, mar := usageRow("b1", "m1", "ecs", "2024-02", 5, "10"), usageRow("c1", "m1", "ecs", "2024-03", 5, "10")
	c.write(c.usage, usageHeader+a1+a7+feb+mar)
	c.run()
	c.close("2024-01")
	c.write(c.usage, usageHeader+spoil(a1)+a7+feb+mar)
	c.run()
	c.close("2024-02")
	c.write(c.usage, usageHeader+spoil(a1)+spoil(a7)+feb+mar)
	c.run()
	wantLines(t, "credits applied", c.applied(), []string{
		"2024-01 MA m1 ecs v-ma 60.000000000",
		"2024-02 MA m1 ecs v-ma -60.000000000 from 2024-01",
	})
	c.verify()
}
