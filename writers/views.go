package writers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/storage"
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
-- rejects_accounts (with --accounts), billing_periods, focus (FOCUS 1.2)
-- with the tables it maps by, focus_products and focus_regions;
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
	for _, f := range TreeFiles {
		if !f.Optional {
			fmt.Fprintf(&b, "\nCREATE OR REPLACE VIEW %s AS SELECT * FROM read_parquet(%s);\n", f.View, path(f.Path))
		}
	}
	optional := v.SettlementRejects // the settlement inputs given, then the accounts
	if v.HasAccounts {
		optional = append(slices.Clone(optional), "accounts")
	}
	for _, kind := range optional {
		f := TreeFileOf("rejects_" + kind)
		fmt.Fprintf(&b, "\nCREATE OR REPLACE VIEW %s AS SELECT * FROM read_parquet(%s);\n", f.View, path(f.Path))
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

	b.WriteString(focusSQL(v.Extras))

	return writeText(root, "views.sql", []byte(b.String()))
}

// writeText writes a small text file of the tree, synced, and describes it.
func writeText(root, rel string, data []byte) (Output, error) {
	f, err := os.OpenFile(filepath.Join(root, filepath.FromSlash(rel)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return Output{}, fmt.Errorf("writing %s: %w", rel, storage.UnwrapPath(err))
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return Output{}, fmt.Errorf("writing %s: %w", rel, storage.UnwrapPath(err))
	}
	if err := f.Close(); err != nil {
		return Output{}, fmt.Errorf("writing %s: %w", rel, storage.UnwrapPath(err))
	}
	sum := sha256.Sum256(data)
	return Output{Path: rel, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}, nil
}

// ident quotes a column name for SQL.
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
