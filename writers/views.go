package writers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/billcons/billcons/billing"
)

// Views describes what DIR/views.sql needs to know about a tree.
type Views struct {
	Dir         string         // where the tree will live, made absolute
	Zone        *time.Location // the billing time zone of the run
	ZoneName    string         // as given to --tz
	Cycles      []billing.Cycle
	BillFiles   []string // the bills files, relative to the tree, in path order
	HasIndex    bool     // index/payers.parquet exists
	HasAccounts bool     // rejects/accounts.parquet exists
	Extras      []string // the extra (carried-through) bill columns
	// SettlementRejects names the settlement inputs given, whose rejects
	// files exist: discounts, enterprises, credits, balances.
	SettlementRejects []string
}

// FocusColumns are the FOCUS 1.2 columns the focus view provides, with their
// DuckDB types and whether FOCUS lets them be null. The first 21 are the
// columns FOCUS 1.2 marks Mandatory; SubAccountId is Conditional (present
// because billcons has sub accounts: the members). Custom columns follow,
// prefixed x_ as FOCUS requires.
var FocusColumns = []struct {
	Name, Type string
	Nullable   bool
	Mandatory  bool
}{
	{"BilledCost", "DECIMAL(18,9)", false, true},
	{"BillingAccountId", "VARCHAR", false, true},
	{"BillingAccountName", "VARCHAR", true, true},
	{"BillingCurrency", "VARCHAR", false, true},
	{"BillingPeriodEnd", "TIMESTAMP WITH TIME ZONE", false, true},
	{"BillingPeriodStart", "TIMESTAMP WITH TIME ZONE", false, true},
	{"ChargeCategory", "VARCHAR", false, true},
	{"ChargeClass", "VARCHAR", true, true},
	{"ChargeFrequency", "VARCHAR", false, false}, // Recommended
	{"ChargeDescription", "VARCHAR", true, true},
	{"ChargePeriodEnd", "TIMESTAMP WITH TIME ZONE", false, true},
	{"ChargePeriodStart", "TIMESTAMP WITH TIME ZONE", false, true},
	{"ContractedCost", "DECIMAL(18,9)", false, true},
	{"EffectiveCost", "DECIMAL(18,9)", false, true},
	{"InvoiceIssuerName", "VARCHAR", false, true},
	{"ListCost", "DECIMAL(18,9)", false, true},
	{"PricingQuantity", "DECIMAL(18,9)", true, true},
	{"PricingUnit", "VARCHAR", true, true},
	{"ProviderName", "VARCHAR", false, true},
	{"PublisherName", "VARCHAR", false, true},
	{"ServiceCategory", "VARCHAR", false, true},
	{"ServiceName", "VARCHAR", false, true},
	{"SubAccountId", "VARCHAR", false, false},
	{"InvoiceId", "VARCHAR", true, false}, // closed cycles only
	{"x_LineId", "VARCHAR", true, false},  // null on Credit rows
	{"x_BillingCycle", "VARCHAR", false, false},
	{"x_SubscriptionType", "VARCHAR", true, false}, // null on Credit rows
	{"x_PaymentStatus", "VARCHAR", true, false},    // null on Credit rows
	{"x_DecidedBy", "VARCHAR", true, false},
	{"x_HeldBy", "VARCHAR", true, false},
	{"x_DiscountOwner", "VARCHAR", true, false},
	{"x_DiscountRule", "VARCHAR", true, false},
	{"x_DiscountId", "VARCHAR", true, false},
	{"x_CreditId", "VARCHAR", true, false},
	{"x_CreditKind", "VARCHAR", true, false},
	{"x_CreditOwner", "VARCHAR", true, false},
}

// WriteViews writes DIR/views.sql: DuckDB views over the tree, for
// "billcons query" and for analysts' own DuckDB shells (.read DIR/views.sql).
//
// The tree's folder is the DuckDB variable billcons_dir, read when a view is
// queried. The file sets it to v.Dir unless it is already set, so that a tree
// moved or mounted elsewhere is read with
//
//	SET VARIABLE billcons_dir = '/new/place';
//	.read /new/place/views.sql
func WriteViews(root string, v Views) (Output, error) {
	var b strings.Builder
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	fmt.Fprintf(&b, `-- DuckDB views over one billcons output tree. In the duckdb shell:
--     .read %[1]s/views.sql
-- The tree's folder is the variable billcons_dir; this file sets it to where
-- the run wrote the tree, unless it is set already. For a tree that was
-- moved or is mounted elsewhere (or a second tree in the same session), set
-- it first:
--     SET VARIABLE billcons_dir = '/new/place/of/the/tree';
--     .read /new/place/of/the/tree/views.sql
-- Views: bills, payers (the index of each payer's rows in the bills files),
-- summary, changes (accepted), rejects_usage, rejects_changes,
-- rejects_accounts (with --accounts), billing_periods, focus (FOCUS 1.2);
-- settlement: credits_applied, credit_balances, alerts, discounts,
-- enterprises and accounts (the accepted inputs), and rejects_discounts,
-- rejects_enterprises, rejects_credits, rejects_balances for the inputs given.
SET VARIABLE billcons_dir = coalesce(getvariable('billcons_dir'), %[2]s);
`, v.Dir, q(v.Dir))
	path := func(rel string) string { return "getvariable('billcons_dir') || " + q("/"+rel) }

	var extras strings.Builder
	for _, x := range v.Extras {
		fmt.Fprintf(&extras, ", NULL::VARCHAR AS %s", ident(x))
	}
	if len(v.BillFiles) > 0 {
		// The files the manifest lists, by name: opening the views lists
		// no folder, and a query reads only the files it needs.
		// union_by_name reads files of older layouts beside new ones.
		b.WriteString("\nCREATE OR REPLACE VIEW bills AS\nSELECT * FROM read_parquet([\n")
		for i, f := range v.BillFiles {
			sep := ","
			if i == len(v.BillFiles)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "    %s%s\n", path(f), sep)
		}
		b.WriteString("], hive_partitioning = true, hive_types = {'billing_cycle': VARCHAR}, hive_types_autocast = false, union_by_name = true);\n")
	} else {
		// No bills: an empty view of the same columns, so queries still bind.
		fmt.Fprintf(&b, "\nCREATE OR REPLACE VIEW bills AS\nSELECT NULL::VARCHAR AS line_id, NULL::VARCHAR AS account_id, NULL::VARCHAR AS product_code,\n"+
			"    NULL::VARCHAR AS subscription_type, NULL::TIMESTAMPTZ AS usage_start, NULL::TIMESTAMPTZ AS usage_end,\n"+
			"    NULL::DECIMAL(18,9) AS list_amount, NULL::VARCHAR AS currency, NULL::VARCHAR AS payment_status,\n"+
			"    NULL::TIMESTAMPTZ AS issued_at, NULL::TIMESTAMPTZ AS settled_at, NULL::VARCHAR AS decided_by,\n"+
			"    NULL::VARCHAR AS held_by, NULL::VARCHAR AS charge_type, NULL::VARCHAR AS resource_id,\n"+
			"    NULL::VARCHAR AS discount_owner, NULL::VARCHAR AS discount_rule, NULL::VARCHAR AS discount_id,\n"+
			"    NULL::DECIMAL(18,9) AS discount_amount, NULL::DECIMAL(18,9) AS effective_amount%s,\n"+
			"    NULL::VARCHAR AS billing_cycle, NULL::VARCHAR AS payer_account_id\nWHERE false;\n", extras.String())
	}
	if v.HasIndex {
		fmt.Fprintf(&b, "\nCREATE OR REPLACE VIEW payers AS SELECT * FROM read_parquet(%s);\n", path(IndexPath))
	}
	for _, t := range []struct{ view, rel string }{
		{"summary", "summary/summary.parquet"},
		{"changes", "changes/accepted.parquet"},
		{"rejects_usage", "rejects/usage.parquet"},
		{"rejects_changes", "rejects/changes.parquet"},
		{"credits_applied", "credits/applied.parquet"},
		{"credit_balances", "credits/balances.parquet"},
		{"alerts", "alerts/alerts.parquet"},
		{"discounts", "settlement/discounts.parquet"},
		{"enterprises", "settlement/enterprises.parquet"},
		{"accounts", "settlement/accounts.parquet"},
	} {
		fmt.Fprintf(&b, "\nCREATE OR REPLACE VIEW %s AS SELECT * FROM read_parquet(%s);\n", t.view, path(t.rel))
	}
	for _, kind := range v.SettlementRejects {
		fmt.Fprintf(&b, "\nCREATE OR REPLACE VIEW rejects_%s AS SELECT * FROM read_parquet(%s);\n", kind, path("rejects/"+kind+".parquet"))
	}
	if v.HasAccounts {
		fmt.Fprintf(&b, "\nCREATE OR REPLACE VIEW rejects_accounts AS SELECT * FROM read_parquet(%s);\n", path("rejects/accounts.parquet"))
	}

	// Billing periods: each cycle's first instant and the next cycle's, cut
	// in the run's time zone (computed here, so DST zones come out right).
	cycles := append([]billing.Cycle(nil), v.Cycles...)
	sort.Slice(cycles, func(i, j int) bool { return cycles[i] < cycles[j] })
	fmt.Fprintf(&b, "\n-- The billing cycles of the bills, cut in the run's time zone (%s).\nCREATE OR REPLACE VIEW billing_periods AS\n", v.ZoneName)
	if len(cycles) == 0 {
		b.WriteString("SELECT NULL::VARCHAR AS billing_cycle, NULL::TIMESTAMPTZ AS period_start, NULL::TIMESTAMPTZ AS period_end WHERE false;\n")
	} else {
		b.WriteString("SELECT billing_cycle, period_start::TIMESTAMPTZ AS period_start, period_end::TIMESTAMPTZ AS period_end FROM (VALUES\n")
		for i, c := range cycles {
			start, end := c.Start(v.Zone), (c + 1).Start(v.Zone)
			sep := ","
			if i == len(cycles)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "    ('%s', '%s', '%s')%s\n", c, start.UTC().Format("2006-01-02 15:04:05+00"), end.UTC().Format("2006-01-02 15:04:05+00"), sep)
		}
		b.WriteString(") AS p(billing_cycle, period_start, period_end);\n")
	}

	b.WriteString(focusView)

	return writeText(root, "views.sql", []byte(b.String()))
}

// writeText writes a small text file of the tree, synced, and describes it.
func writeText(root, rel string, data []byte) (Output, error) {
	f, err := os.OpenFile(filepath.Join(root, filepath.FromSlash(rel)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return Output{}, fmt.Errorf("writing %s: %w", rel, unwrapPath(err))
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return Output{}, fmt.Errorf("writing %s: %w", rel, unwrapPath(err))
	}
	if err := f.Close(); err != nil {
		return Output{}, fmt.Errorf("writing %s: %w", rel, unwrapPath(err))
	}
	sum := sha256.Sum256(data)
	return Output{Path: rel, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}, nil
}

// focusView maps the bills and the credits applied onto FOCUS 1.2 (see
// docs/output.md, FOCUS): a charge row per bill (ListCost the list amount, the other
// costs the effective amount after its discount) and a Credit row per credit
// applied (every cost the negated amount). Correction rows, and credits a
// correction gave back, are ChargeClass Correction; a closed cycle's rows
// carry its InvoiceId. Provider, publisher and invoice
// issuer come from the variables focus_provider, focus_publisher and
// focus_invoice_issuer when set, else "Alibaba Cloud", the cloud whose
// financial trusteeship the seeds describe.
const focusView = `
CREATE OR REPLACE MACRO focus_service_category(product) AS
    CASE lower(product)
        WHEN 'ecs' THEN 'Compute' WHEN 'fc' THEN 'Compute' WHEN 'ack' THEN 'Compute'
        WHEN 'oss' THEN 'Storage' WHEN 'nas' THEN 'Storage'
        WHEN 'rds' THEN 'Databases' WHEN 'polardb' THEN 'Databases' WHEN 'redis' THEN 'Databases'
        WHEN 'slb' THEN 'Networking' WHEN 'cdn' THEN 'Networking' WHEN 'vpc' THEN 'Networking' WHEN 'eip' THEN 'Networking'
        WHEN 'alicom' THEN 'Business Applications'
        ELSE 'Other' END;

-- FOCUS 1.2: the 21 Mandatory columns, SubAccountId, then x_ custom columns.
CREATE OR REPLACE VIEW focus AS
SELECT
    b.effective_amount                              AS BilledCost,
    b.payer_account_id                              AS BillingAccountId,
    NULL::VARCHAR                                   AS BillingAccountName,
    b.currency                                      AS BillingCurrency,
    p.period_end                                    AS BillingPeriodEnd,
    p.period_start                                  AS BillingPeriodStart,
    CASE b.charge_type WHEN 'purchase' THEN 'Purchase' WHEN 'refund' THEN 'Purchase'
        WHEN 'adjustment' THEN 'Adjustment' ELSE 'Usage' END AS ChargeCategory,
    CASE WHEN b.charge_class = 'correction' THEN 'Correction' END AS ChargeClass,
    CASE b.charge_type WHEN 'usage' THEN 'Usage-Based' ELSE 'One-Time' END AS ChargeFrequency,
    b.product_code || ' ' || b.subscription_type || ' of ' || b.account_id AS ChargeDescription,
    b.usage_end                                     AS ChargePeriodEnd,
    b.usage_start                                   AS ChargePeriodStart,
    b.effective_amount                              AS ContractedCost,
    b.effective_amount                              AS EffectiveCost,
    coalesce(getvariable('focus_invoice_issuer'), 'Alibaba Cloud') AS InvoiceIssuerName,
    b.list_amount                                   AS ListCost,
    NULL::DECIMAL(18,9)                             AS PricingQuantity,
    NULL::VARCHAR                                   AS PricingUnit,
    coalesce(getvariable('focus_provider'), 'Alibaba Cloud') AS ProviderName,
    coalesce(getvariable('focus_publisher'), 'Alibaba Cloud') AS PublisherName,
    focus_service_category(b.product_code)          AS ServiceCategory,
    b.product_code                                  AS ServiceName,
    b.account_id                                    AS SubAccountId,
    b.invoice_id                                    AS InvoiceId,
    b.line_id                                       AS x_LineId,
    b.billing_cycle                                 AS x_BillingCycle,
    b.subscription_type                             AS x_SubscriptionType,
    b.payment_status                                AS x_PaymentStatus,
    b.decided_by                                    AS x_DecidedBy,
    b.held_by                                       AS x_HeldBy,
    b.discount_owner                                AS x_DiscountOwner,
    b.discount_rule                                 AS x_DiscountRule,
    b.discount_id                                   AS x_DiscountId,
    NULL::VARCHAR                                   AS x_CreditId,
    NULL::VARCHAR                                   AS x_CreditKind,
    NULL::VARCHAR                                   AS x_CreditOwner
FROM bills b JOIN billing_periods p USING (billing_cycle)
UNION ALL
SELECT
    -c.amount                                       AS BilledCost,
    c.payer_account_id                              AS BillingAccountId,
    NULL::VARCHAR                                   AS BillingAccountName,
    c.currency                                      AS BillingCurrency,
    p.period_end                                    AS BillingPeriodEnd,
    p.period_start                                  AS BillingPeriodStart,
    'Credit'                                        AS ChargeCategory,
    CASE WHEN c.amount < 0 THEN 'Correction' END    AS ChargeClass, -- a credit given back by a correction
    'One-Time'                                      AS ChargeFrequency,
    c.kind || ' ' || c.credit_id || ' of ' || c.owner_account_id || ' on ' || c.product_code || ' of ' || c.account_id AS ChargeDescription,
    p.period_end                                    AS ChargePeriodEnd,
    p.period_start                                  AS ChargePeriodStart,
    -c.amount                                       AS ContractedCost,
    -c.amount                                       AS EffectiveCost,
    coalesce(getvariable('focus_invoice_issuer'), 'Alibaba Cloud') AS InvoiceIssuerName,
    -c.amount                                       AS ListCost,
    NULL::DECIMAL(18,9)                             AS PricingQuantity,
    NULL::VARCHAR                                   AS PricingUnit,
    coalesce(getvariable('focus_provider'), 'Alibaba Cloud') AS ProviderName,
    coalesce(getvariable('focus_publisher'), 'Alibaba Cloud') AS PublisherName,
    focus_service_category(c.product_code)          AS ServiceCategory,
    c.product_code                                  AS ServiceName,
    c.account_id                                    AS SubAccountId,
    i.invoice_id                                    AS InvoiceId,
    NULL::VARCHAR                                   AS x_LineId,
    c.billing_cycle                                 AS x_BillingCycle,
    NULL::VARCHAR                                   AS x_SubscriptionType,
    NULL::VARCHAR                                   AS x_PaymentStatus,
    NULL::VARCHAR                                   AS x_DecidedBy,
    NULL::VARCHAR                                   AS x_HeldBy,
    NULL::VARCHAR                                   AS x_DiscountOwner,
    NULL::VARCHAR                                   AS x_DiscountRule,
    NULL::VARCHAR                                   AS x_DiscountId,
    c.credit_id                                     AS x_CreditId,
    c.kind                                          AS x_CreditKind,
    c.owner_account_id                              AS x_CreditOwner
FROM credits_applied c JOIN billing_periods p USING (billing_cycle)
LEFT JOIN (SELECT DISTINCT billing_cycle, payer_account_id, currency, invoice_id FROM summary WHERE invoice_id IS NOT NULL) i
    USING (billing_cycle, payer_account_id, currency);
`

// ident quotes a column name for SQL.
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
