package query

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billcons/billcons/pipeline"
	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/writers"
)

var demoOnce sync.Once
var demoTree string

// demo runs billcons on the demo quarter once, into a folder of its own, and
// returns the tree.
func demo(t *testing.T) string {
	t.Helper()
	demoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "billcons-query-")
		if err != nil {
			t.Fatal(err)
		}
		in, _ := filepath.Abs("../fixtures/demo")
		demoTree = filepath.Join(dir, "out")
		loc, _ := time.LoadLocation("Asia/Shanghai")
		if _, err := pipeline.Run(context.Background(), pipeline.Config{
			Usage: []string{in + "/usage.csv"}, Changes: []string{in + "/changes.csv"}, Accounts: []string{in + "/accounts.csv"},
			Discounts: []string{in + "/discounts.csv"}, Credits: []string{in + "/credits.csv"},
			Enterprises: []string{in + "/enterprises.csv"}, Balances: []string{in + "/balances.csv"},
			Out: demoTree, Zone: loc, ZoneName: "Asia/Shanghai", MaxRejectRatio: -1}); err != nil {
			t.Fatal(err)
		}
	})
	return demoTree
}

func open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func one[T any](t *testing.T, db *DB, q string, args ...any) T {
	t.Helper()
	rows, err := db.Rows(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var v T
	if !rows.Next() {
		t.Fatalf("%s: no row", q)
	}
	if err := rows.Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// TestViewsSQLAfterMoving executes views.sql through DuckDB itself, as an
// analyst's shell would, from another working folder: first where the run
// wrote the tree, then after the tree was moved, setting billcons_dir as
// docs/output.md says.
func TestViewsSQLAfterMoving(t *testing.T) {
	base := t.TempDir()
	in, _ := filepath.Abs("../fixtures/demo")
	orig := filepath.Join(base, "written", "out")
	if _, err := pipeline.Run(context.Background(), pipeline.Config{Usage: []string{in + "/usage.csv"}, Changes: []string{in + "/changes.csv"},
		Out: orig, MaxRejectRatio: -1}); err != nil {
		t.Fatal(err)
	}
	m, err := writers.ReadManifest(orig)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(base, "elsewhere")
	os.MkdirAll(elsewhere, 0o755)
	t.Chdir(elsewhere)

	count := func(setup string, viewsFile string) (int64, error) {
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		conn, _ := db.Conn(context.Background())
		defer conn.Close()
		views, err := os.ReadFile(viewsFile)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(context.Background(), setup+string(views)); err != nil {
			return 0, err
		}
		var n int64
		err = conn.QueryRowContext(context.Background(), "SELECT (SELECT count(*) FROM bills) + (SELECT count(*) FROM summary) * 0").Scan(&n)
		return n, err
	}
	if n, err := count("", filepath.Join(orig, "views.sql")); err != nil || n != m.Counts.UsageBilled {
		t.Fatalf("views.sql where it was written: %d bills, %v; want %d", n, err, m.Counts.UsageBilled)
	}

	moved := filepath.Join(base, "mounted", "elsewhere", "tree")
	os.MkdirAll(filepath.Dir(moved), 0o755)
	if err := os.Rename(orig, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := count("", filepath.Join(moved, "views.sql")); err == nil {
		t.Fatal("views.sql of a moved tree worked without billcons_dir: the test does not test the move")
	}
	n, err := count("SET VARIABLE billcons_dir = "+Literal(moved)+";\n", filepath.Join(moved, "views.sql"))
	if err != nil || n != m.Counts.UsageBilled {
		t.Fatalf("views.sql after moving, billcons_dir set: %d bills, %v; want %d", n, err, m.Counts.UsageBilled)
	}
	// billcons query sets it by itself.
	db := open(t, moved)
	if n := one[int64](t, db, "SELECT count(*) FROM bills"); n != m.Counts.UsageBilled {
		t.Fatalf("Open(moved tree): %d bills, want %d", n, m.Counts.UsageBilled)
	}
}

// focus12NonMandatory are the FOCUS 1.2 columns the view has beyond the
// Mandatory ones (FOCUS 1.2, Column Glossary).
var focus12NonMandatory = map[string]bool{"ChargeFrequency": true, "CommitmentDiscountStatus": true, "ConsumedQuantity": true, "ConsumedUnit": true,
	"InvoiceId": true, "RegionId": true, "RegionName": true, "ResourceId": true, "ResourceName": true, "ResourceType": true,
	"ServiceSubcategory": true, "SubAccountId": true, "SubAccountName": true, "Tags": true}

// TestFocusConformance checks the focus view against FOCUS 1.2: every
// Mandatory column is there with the type FOCUS gives it, a column FOCUS
// says must not be null holds no null, allowed values are respected, and
// the costs add up to the bills.
func TestFocusConformance(t *testing.T) {
	db := open(t, demo(t))
	ctx := context.Background()
	types := map[string]string{}
	rows, err := db.Rows(ctx, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'focus'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, typ string
		rows.Scan(&name, &typ)
		types[name] = typ
	}
	rows.Close()
	mandatory := 0
	for _, c := range writers.FocusColumns {
		if c.Mandatory {
			mandatory++
		}
		got, ok := types[c.Name]
		if !ok {
			t.Errorf("focus has no column %s", c.Name)
			continue
		}
		if got != c.Type {
			t.Errorf("focus.%s is %s, want %s", c.Name, got, c.Type)
		}
		if !c.Nullable {
			if n := one[int64](t, db, `SELECT count(*) FROM focus WHERE "`+c.Name+`" IS NULL`); n > 0 {
				t.Errorf("focus.%s: %d nulls; FOCUS 1.2 allows none", c.Name, n)
			}
		}
		if focusColumn := c.Mandatory || focus12NonMandatory[c.Name]; strings.HasPrefix(c.Name, "x_") == focusColumn {
			t.Errorf("%s: custom columns must start with x_, FOCUS columns must not", c.Name)
		}
	}
	if mandatory != 21 {
		t.Errorf("%d Mandatory columns listed; FOCUS 1.2 has 21", mandatory)
	}
	checks := map[string]string{
		"ChargeCategory outside the allowed values":                                             "SELECT count(*) FROM focus WHERE ChargeCategory NOT IN ('Adjustment', 'Credit', 'Purchase', 'Tax', 'Usage')",
		"ChargeClass other than null or Correction":                                             "SELECT count(*) FROM focus WHERE ChargeClass IS NOT NULL AND ChargeClass <> 'Correction'",
		"BillingCurrency not ISO 4217":                                                          "SELECT count(*) FROM focus WHERE NOT regexp_full_match(BillingCurrency, '[A-Z]{3}')",
		"billing period not a month, end exclusive":                                             "SELECT count(*) FROM focus WHERE BillingPeriodEnd <= BillingPeriodStart OR date_diff('day', BillingPeriodStart, BillingPeriodEnd) NOT BETWEEN 28 AND 31",
		"billing period not cut in the run's zone":                                              "SELECT count(*) FROM focus WHERE strftime(timezone('Asia/Shanghai', BillingPeriodStart), '%d %H:%M:%S') <> '01 00:00:00' OR strftime(timezone('Asia/Shanghai', BillingPeriodStart), '%Y-%m') <> x_BillingCycle",
		"charge period not later than its start (CONTRACT: ChargePeriodEnd later on every row)": "SELECT count(*) FROM focus WHERE ChargePeriodEnd <= ChargePeriodStart",
		"ServiceCategory outside the allowed values": `SELECT count(*) FROM focus WHERE ServiceCategory NOT IN ('AI and Machine Learning', 'Analytics', 'Business Applications', 'Compute', 'Databases',
			'Developer Tools', 'Multicloud', 'Identity', 'Integration', 'Internet of Things', 'Management and Governance', 'Media', 'Migration', 'Mobile',
			'Networking', 'Security', 'Storage', 'Web', 'Other')`,
		"ChargeFrequency outside the allowed values": "SELECT count(*) FROM focus WHERE ChargeFrequency NOT IN ('One-Time', 'Recurring', 'Usage-Based')",
		"ChargeCategory or ChargeFrequency not from charge_type": `SELECT count(*) FROM focus f JOIN bills b ON f.x_LineId = b.line_id
			WHERE (f.ChargeCategory, f.ChargeFrequency) IS DISTINCT FROM (CASE b.charge_type WHEN 'usage' THEN ('Usage', 'Usage-Based')
				WHEN 'purchase' THEN ('Purchase', 'One-Time') WHEN 'adjustment' THEN ('Adjustment', 'One-Time')
				WHEN 'refund' THEN CASE b.subscription_type WHEN 'subscription' THEN ('Purchase', 'One-Time') ELSE ('Usage', 'Usage-Based') END END)`,
		"charge rows: ListCost is not the list amount": `SELECT count(*) FROM focus f JOIN bills b ON f.x_LineId = b.line_id
			WHERE f.ListCost <> b.list_amount OR f.ChargeCategory = 'Credit'`,
		"charge rows: Contracted, Effective and BilledCost are not the effective amount": `SELECT count(*) FROM focus f JOIN bills b ON f.x_LineId = b.line_id
			WHERE NOT (f.BilledCost = b.effective_amount AND f.ContractedCost = b.effective_amount AND f.x_EffectiveAmount = b.effective_amount
				AND f.EffectiveCost = CASE f.ChargeCategory WHEN 'Purchase' THEN 0 ELSE b.effective_amount END)`,
		// Requirements of FOCUS 1.2 the validator does not check, or checks wrongly.
		"PricingQuantity-C-005-C: no quantity on a Usage or Purchase row that is not a correction": `SELECT count(*) FROM focus
			WHERE ChargeCategory IN ('Usage', 'Purchase') AND ChargeClass IS NULL AND (PricingQuantity IS NULL OR PricingUnit IS NULL)`,
		"PricingQuantity and ConsumedQuantity are not the input's usage_quantity": `SELECT count(*) FROM focus f JOIN bills b ON f.x_LineId = b.line_id
			WHERE f.PricingQuantity IS DISTINCT FROM (CASE WHEN f.ChargeCategory IN ('Usage', 'Purchase') THEN b.usage_quantity::DECIMAL(38,9) END)
			OR f.ConsumedQuantity IS DISTINCT FROM (CASE WHEN f.ChargeCategory = 'Usage' THEN b.usage_quantity::DECIMAL(38,9) END)
			OR f.PricingUnit IS DISTINCT FROM (CASE WHEN f.ChargeCategory IN ('Usage', 'Purchase') THEN b.usage_unit END)`,
		"ConsumedQuantity-C-004-C: a quantity consumed on a row that is not Usage":      "SELECT count(*) FROM focus WHERE ChargeCategory <> 'Usage' AND (ConsumedQuantity IS NOT NULL OR ConsumedUnit IS NOT NULL)",
		"ResourceType-C-005-C: a resource without a type":                               "SELECT count(*) FROM focus WHERE ResourceId IS NOT NULL AND ResourceType IS NULL",
		"ResourceName-C-004-C, ResourceType-C-004-C: a name or type without a resource": "SELECT count(*) FROM focus WHERE ResourceId IS NULL AND (ResourceName IS NOT NULL OR ResourceType IS NOT NULL)",
		"RegionName-C-005-C: a region without a name":                                   "SELECT count(*) FROM focus WHERE (RegionId IS NULL) <> (RegionName IS NULL)",
		"ServiceName-C-008-C: a ServiceName with more than one ServiceSubcategory":      "SELECT count(*) FROM (SELECT ServiceName FROM focus GROUP BY 1 HAVING count(DISTINCT ServiceSubcategory) > 1)",
		"Tags: not a JSON object of strings": `SELECT count(*) FROM focus WHERE Tags IS NOT NULL AND (json_type(Tags) <> 'OBJECT'
			OR list_count(list_filter(json_keys(Tags), k -> json_type(Tags -> k) <> 'VARCHAR')) > 0)`,
		"InvoiceId: null, or not the cycle's invoice id": `SELECT count(*) FROM focus
			WHERE InvoiceId IS DISTINCT FROM replace(x_BillingCycle, '-', '') || '-' || BillingAccountId || '-' || BillingCurrency`,
		"BillingAccountName, SubAccountName: not the account_name the accounts give": `SELECT count(*) FROM focus f
			LEFT JOIN accounts p ON p.account_id = f.BillingAccountId LEFT JOIN accounts m ON m.account_id = f.SubAccountId
			WHERE f.BillingAccountName IS DISTINCT FROM p.account_name OR f.SubAccountName IS DISTINCT FROM m.account_name OR f.BillingAccountName IS NULL`,
		"credit rows: a cost column is not the negated amount": `SELECT count(*) FROM focus WHERE ChargeCategory = 'Credit'
			AND NOT (BilledCost < 0 AND ListCost = BilledCost AND EffectiveCost = BilledCost AND ContractedCost = BilledCost AND x_CreditId IS NOT NULL)`,
		"rows other than the bills and the credits applied": "SELECT abs((SELECT count(*) FROM focus) - (SELECT count(*) FROM bills) - (SELECT count(*) FROM credits_applied))",
		"a credit applied has no Credit row": `SELECT count(*) FROM credits_applied c ANTI JOIN focus f ON f.x_CreditId = c.credit_id
			AND f.SubAccountId = c.account_id AND f.ServiceName = coalesce((SELECT service_name FROM focus_products WHERE product_code = lower(c.product_code)), c.product_code) AND f.x_BillingCycle = c.billing_cycle AND f.BilledCost = -c.amount`,
		"per payer and currency, BilledCost over all rows is not the amount due": `SELECT count(*) FROM
			(SELECT BillingAccountId AS payer_account_id, BillingCurrency AS currency, x_BillingCycle AS billing_cycle, sum(BilledCost) AS s FROM focus GROUP BY ALL) f
			FULL JOIN (SELECT payer_account_id, currency, billing_cycle, sum(due_amount) AS s FROM summary GROUP BY ALL) d
			USING (payer_account_id, currency, billing_cycle) WHERE f.s IS DISTINCT FROM d.s`,
	}
	for what, q := range checks {
		if n := one[int64](t, db, q); n != 0 {
			t.Errorf("%s: %d rows", what, n)
		}
	}
	for what, q := range map[string]string{
		"Usage":             "ChargeCategory = 'Usage' AND ChargeFrequency = 'Usage-Based'",
		"Purchase":          "ChargeCategory = 'Purchase' AND ChargeFrequency = 'One-Time' AND BilledCost > 0",
		"refund (Purchase)": "ChargeCategory = 'Purchase' AND ChargeFrequency = 'One-Time' AND BilledCost < 0",
		"refund (Usage)":    "ChargeCategory = 'Usage' AND ChargeFrequency = 'Usage-Based' AND BilledCost < 0",
		"tags":              "Tags IS NOT NULL",
		"resource":          "ResourceName IS NOT NULL AND ResourceType IS NOT NULL",
		"non-ASCII name kept in x_ResourceName only": "ResourceName IS NULL AND x_ResourceName IS NOT NULL AND ResourceId IS NOT NULL",
		"Adjustment": "ChargeCategory = 'Adjustment' AND ChargeFrequency = 'One-Time'",
		"Credit":     "ChargeCategory = 'Credit' AND ChargeFrequency = 'One-Time'",
	} {
		if n := one[int64](t, db, "SELECT count(*) FROM focus WHERE "+q); n == 0 {
			t.Errorf("focus has no %s row; the checks above prove nothing for them", what)
		}
	}
	if n := one[int64](t, db, "SELECT count(*) FROM focus WHERE ContractedCost <> ListCost AND ChargeCategory <> 'Credit'"); n == 0 {
		t.Error("no charge row has a discount; the demo has discounts, so the checks above prove nothing for them")
	}

	// The export holds the same rows and columns.
	out := filepath.Join(t.TempDir(), "focus.parquet")
	n, gaps, err := db.ExportFOCUS(ctx, out, false)
	if err != nil || len(gaps) > 0 {
		t.Fatal(err, gaps)
	}
	if want := one[int64](t, db, "SELECT count(*) FROM focus"); n != want {
		t.Errorf("export wrote %d rows, want %d", n, want)
	}
	if c := one[int64](t, db, "SELECT count(*) FROM (DESCRIBE SELECT * FROM read_parquet("+Literal(out)+"))"); c != int64(len(writers.FocusColumns)) {
		t.Errorf("export has %d columns, want %d", c, len(writers.FocusColumns))
	}
	// CONTRACT, FOCUS export: every column FOCUS says is not null is
	// REQUIRED in the file's schema; and the file says who wrote it in the
	// form parquet-java parses.
	rep := map[string]string{}
	rows, err = db.Rows(ctx, "SELECT name, repetition_type FROM parquet_schema("+Literal(out)+")")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, r string
		rows.Scan(&name, &r)
		rep[name] = r
	}
	rows.Close()
	for _, c := range writers.FocusColumns {
		if want := map[bool]string{true: "OPTIONAL", false: "REQUIRED"}[c.Nullable]; rep[c.Name] != want {
			t.Errorf("export: %s is %q, want %s", c.Name, rep[c.Name], want)
		}
	}
	if cb := one[string](t, db, "SELECT created_by FROM parquet_file_metadata("+Literal(out)+")"); !regexp.MustCompile(`^billcons version \d+\.\d+\.\d+ ?\(build [^)]+\)$`).MatchString(cb) {
		t.Errorf("export: created_by %q", cb)
	}
	// The values survive the rewrite: the file and the view agree row for row.
	var names []string
	for _, c := range writers.FocusColumns {
		names = append(names, c.Name)
	}
	cols := strings.Join(names, ", ")
	if n := one[int64](t, db, "SELECT count(*) FROM (SELECT "+cols+" FROM focus EXCEPT ALL SELECT "+cols+" FROM read_parquet("+Literal(out)+"))"); n != 0 {
		t.Errorf("export: %d rows of the view are not in the file as they are", n)
	}
}

// TestFocusGaps: where the input lacks a value FOCUS requires, export
// --focus writes nothing and names the column and the rows; lenient writes
// the file anyway and reports the gap (CONTRACT.md, FOCUS export).
func TestFocusGaps(t *testing.T) {
	in, _ := filepath.Abs("../fixtures/demo")
	data, err := os.ReadFile(filepath.Join(in, "usage.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")[:40]
	for i, l := range lines { // no usage_quantity on two lines
		if strings.HasPrefix(l, "L000003,") || strings.HasPrefix(l, "L000007,") {
			f := strings.Split(l, ",")
			f[len(f)-3] = ""
			lines[i] = strings.Join(f, ",")
		}
	}
	dir := t.TempDir()
	usage := filepath.Join(dir, "usage.csv")
	os.WriteFile(usage, []byte(strings.Join(lines, "")), 0o644)
	tree := filepath.Join(dir, "out")
	if _, err := pipeline.Run(context.Background(), pipeline.Config{Usage: []string{usage}, Changes: []string{in + "/changes.csv"},
		Accounts: []string{in + "/accounts.csv"}, Out: tree, Zone: time.UTC, ZoneName: "UTC", MaxRejectRatio: -1}); err != nil {
		t.Fatal(err)
	}
	db := open(t, tree)
	out := filepath.Join(dir, "focus.parquet")
	_, gaps, err := db.ExportFOCUS(context.Background(), out, false)
	if !errors.Is(err, ErrFocusGaps) || !strings.Contains(err.Error(), "PricingQuantity needs usage_quantity, which 2 rows lack (L000003, L000007)") {
		t.Fatalf("export without quantities: %v", err)
	}
	if _, serr := os.Stat(out); serr == nil {
		t.Fatal("export wrote the file although the input lacks quantities")
	}
	if len(gaps) != 1 {
		t.Errorf("gaps %v, want the one column", gaps)
	}
	n, gaps, err := db.ExportFOCUS(context.Background(), out, true)
	if err != nil || len(gaps) != 1 || n == 0 {
		t.Fatalf("lenient: %d rows, %v, %v", n, gaps, err)
	}
}

// TestInvoice checks the statement against the bills it is built from: the
// statements of every payer of a cycle add up to the cycle's bills, each
// statement's reasons cover its lines, and a change held back by an
// unsettled bill is explained.
func TestInvoice(t *testing.T) {
	db := open(t, demo(t))
	ctx := context.Background()
	rows, err := db.Rows(ctx, "SELECT DISTINCT payer_account_id, billing_cycle FROM bills ORDER BY ALL")
	if err != nil {
		t.Fatal(err)
	}
	type pc struct{ payer, cycle string }
	var all []pc
	for rows.Next() {
		var x pc
		rows.Scan(&x.payer, &x.cycle)
		all = append(all, x)
	}
	rows.Close()
	linesPerCycle := map[string]int64{}
	sawHeld := false
	for _, x := range all {
		inv, err := db.Invoice(ctx, x.payer, x.cycle)
		if err != nil {
			t.Fatal(err)
		}
		var items, reasons, totals int64
		for _, it := range inv.Items {
			items += it.Lines
		}
		for _, r := range inv.Reasons {
			reasons += r.Lines
			if r.HeldBy != "" && strings.Contains(r.Words, r.HeldBy) && strings.Contains(r.Words, "unsettled bill") {
				sawHeld = true
			}
		}
		for _, tt := range inv.Totals {
			totals += tt.Lines
		}
		if items != reasons || items != totals {
			t.Errorf("%s %s: items %d lines, reasons %d, totals %d", x.payer, x.cycle, items, reasons, totals)
		}
		// The totals, summed in Go, are DuckDB's sums of the summary.
		r, err := db.Rows(ctx, `SELECT currency, count(DISTINCT account_id), sum(line_count)::BIGINT,
				sum(list_amount)::VARCHAR, sum(discount_amount)::VARCHAR, sum(effective_amount)::VARCHAR, sum(coupon_amount)::VARCHAR,
				sum(voucher_amount)::VARCHAR, sum(stored_value_amount)::VARCHAR, sum(due_amount)::VARCHAR
			FROM summary WHERE payer_account_id = ? AND billing_cycle = ? GROUP BY ALL ORDER BY ALL`, x.payer, x.cycle)
		if err != nil {
			t.Fatal(err)
		}
		var want []InvoiceTotal
		for r.Next() {
			var w InvoiceTotal
			a := w.Amounts.all()
			if err := r.Scan(&w.Currency, &w.Members, &w.Lines, a[0], a[1], a[2], a[3], a[4], a[5], a[6]); err != nil {
				t.Fatal(err)
			}
			want = append(want, w)
		}
		r.Close()
		if !reflect.DeepEqual(inv.Totals, want) {
			t.Errorf("%s %s: totals %+v; DuckDB sums %+v", x.payer, x.cycle, inv.Totals, want)
		}
		linesPerCycle[x.cycle] += items
		var text, js bytes.Buffer
		inv.WriteText(&text)
		if !strings.Contains(text.String(), "Consolidated statement of "+x.payer+" for billing cycle "+x.cycle) {
			t.Errorf("text statement: %q", text.String())
		}
		if err := inv.WriteJSON(&js); err != nil || !json.Valid(js.Bytes()) {
			t.Errorf("json statement: %v", err)
		}
	}
	for cycle, n := range linesPerCycle {
		if want := one[int64](t, db, "SELECT count(*) FROM bills WHERE billing_cycle = ?", cycle); n != want {
			t.Errorf("%s: the statements hold %d lines, the bills %d", cycle, n, want)
		}
	}
	if !sawHeld {
		t.Error("no statement explains a change held back by an unsettled bill; the demo has one (move-03)")
	}
	// The demo's chain-ma2 would have put 2000000000000002 into
	// 2000000000000001's trusteeship and was rejected: both statements of
	// 2024-01 say so; February's does not.
	for _, p := range []string{"2000000000000001", "2000000000000002"} {
		inv, err := db.Invoice(ctx, p, "2024-01")
		if err != nil {
			t.Fatal(err)
		}
		if len(inv.Rejected) != 1 || inv.Rejected[0].ChangeID != "chain-ma2" || inv.Rejected[0].Code != "member_is_management" {
			t.Errorf("%s 2024-01: rejected changes %+v; want chain-ma2", p, inv.Rejected)
		}
	}
	if inv, err := db.Invoice(ctx, "2000000000000001", "2024-02"); err != nil || len(inv.Rejected) != 0 {
		t.Errorf("2000000000000001 2024-02: rejected changes %+v (%v); want none", inv.Rejected, err)
	}
	if _, err := db.Invoice(ctx, "nobody", "2024-01"); err == nil || !strings.Contains(err.Error(), "payer nobody has no bills in this tree") {
		t.Errorf("Invoice(unknown payer) = %v", err)
	}
}

// TestDuckDBSeesStatistics: DuckDB reads the min/max statistics of every
// bills row group on payer_account_id (the first sort column), and the
// files' created_by, in each bills file of the demo tree: what its row
// group pruning needs.
func TestDuckDBSeesStatistics(t *testing.T) {
	dir := demo(t)
	db := open(t, dir)
	files, err := writers.BillFiles(dir)
	if err != nil || len(files) == 0 {
		t.Fatalf("bills files: %v %v", files, err)
	}
	real, err := storage.Resolve(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		p := Literal(filepath.Join(real, f))
		groups := one[int64](t, db, "SELECT count(*) FROM parquet_metadata("+p+") WHERE path_in_schema = 'payer_account_id'")
		withStats := one[int64](t, db, "SELECT count(*) FROM parquet_metadata("+p+") WHERE path_in_schema = 'payer_account_id' AND stats_min_value IS NOT NULL AND stats_max_value IS NOT NULL")
		if groups == 0 || withStats != groups {
			t.Errorf("%s: %d of %d row groups have payer statistics DuckDB reads", f, withStats, groups)
		}
		if cb := one[string](t, db, "SELECT created_by FROM parquet_file_metadata("+p+")"); !strings.HasPrefix(cb, "billcons version ") {
			t.Errorf("%s: created_by %q", f, cb)
		}
	}
}
