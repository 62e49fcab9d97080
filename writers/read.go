package writers

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/storage"
	"github.com/parquet-go/parquet-go"
)

// BillRecord is one bill read back from a tree.
type BillRecord struct {
	File      string // relative to the tree
	Cycle     string // from the partition folder
	Payer     string // from its column, or the partition folder of older trees
	Values    map[string]parquet.Value
	Columns   []string // the file's columns, in order
	LineID    string
	AccountID string
	Product   string
	Currency  string
	Amount    billing.Amount
	Discount  billing.Amount
	Effective billing.Amount
	DecidedBy string // "" for null
	HeldBy    string
}

// BillFiles lists the bills files of a tree in path order, relative to dir.
// On a versioned tree they are the latest version's.
func BillFiles(dir string) ([]string, error) {
	dir, err := storage.Resolve(dir, 0)
	if err != nil {
		return nil, err
	}
	return billFiles(dir)
}

// billFiles is BillFiles of a version's own folder.
func billFiles(dir string) ([]string, error) {
	var files []string
	root := filepath.Join(dir, "bills")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}

// PartitionOf parses bills/billing_cycle=C/part-N.parquet, whose payers
// are a column, and the layout of trees written before it,
// bills/billing_cycle=C/payer_account_id=P/part-N.parquet, whose payer is
// the folder's.
func PartitionOf(rel string) (cycle, payer string, err error) {
	parts := strings.Split(rel, "/")
	ok := (len(parts) == 3 || len(parts) == 4 && strings.HasPrefix(parts[2], "payer_account_id=")) &&
		parts[0] == "bills" && strings.HasPrefix(parts[1], "billing_cycle=") && strings.HasSuffix(parts[len(parts)-1], ".parquet")
	if !ok {
		return "", "", fmt.Errorf("%s: not a bills partition file", rel)
	}
	if len(parts) == 4 {
		payer = strings.TrimPrefix(parts[2], "payer_account_id=")
	}
	return strings.TrimPrefix(parts[1], "billing_cycle="), payer, nil
}

// ReadBills calls fn for every bill in the tree at dir, file by file in path
// order and row by row within a file.
func ReadBills(dir string, fn func(*BillRecord) error) error {
	dir, err := storage.Resolve(dir, 0) // a versioned tree: its latest version
	if err != nil {
		return err
	}
	files, err := billFiles(dir)
	if err != nil {
		return err
	}
	for _, rel := range files {
		cycle, payer, err := PartitionOf(rel)
		if err != nil {
			return err
		}
		err = parquetio.Read(filepath.Join(dir, filepath.FromSlash(rel)), func(cols []string, vals map[string]parquet.Value) error {
			rec := &BillRecord{File: rel, Cycle: cycle, Payer: payer, Values: vals, Columns: cols}
			if v, ok := vals["payer_account_id"]; ok {
				rec.Payer = string(v.ByteArray())
			}
			rec.LineID = string(vals["line_id"].ByteArray())
			rec.AccountID = string(vals["account_id"].ByteArray())
			rec.Product = string(vals["product_code"].ByteArray())
			rec.Currency = string(vals["currency"].ByteArray())
			rec.Amount = billing.Amount(vals["list_amount"].Int64())
			rec.Discount = billing.Amount(vals["discount_amount"].Int64())
			rec.Effective = rec.Amount
			if v, ok := vals["effective_amount"]; ok { // trees before settlement lack it
				rec.Effective = billing.Amount(v.Int64())
			}
			if v := vals["decided_by"]; !v.IsNull() {
				rec.DecidedBy = string(v.ByteArray())
			}
			if v := vals["held_by"]; !v.IsNull() {
				rec.HeldBy = string(v.ByteArray())
			}
			return fn(rec)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadSummary calls fn for each row of a summary file written by [Summary].
func ReadSummary(p string, fn func(*SummaryRow) error) error {
	var row SummaryRow
	return parquetio.Read(p, func(_ []string, v map[string]parquet.Value) error {
		c, err := billing.ParseCycle(v["billing_cycle"].String())
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		sum := func(name string) billing.Sum { return billing.SumFromBytes16(v[name].ByteArray()) }
		row = SummaryRow{Cycle: c, Payer: v["payer_account_id"].String(), AccountID: v["account_id"].String(),
			Product: v["product_code"].String(), Currency: v["currency"].String(), LineCount: v["line_count"].Int64(),
			ListAmount: sum("list_amount"), Discount: sum("discount_amount"), Effective: sum("effective_amount"),
			Coupon: sum("coupon_amount"), Voucher: sum("voucher_amount"), StoredVal: sum("stored_value_amount"), Due: sum("due_amount")}
		if x, ok := v["correction_amount"]; ok { // trees before corrections lack it
			row.Correction = billing.SumFromBytes16(x.ByteArray())
		}
		if x, ok := v["invoice_id"]; ok && !x.IsNull() {
			row.InvoiceID = x.String()
		}
		return fn(&row)
	})
}

// ReadRejects calls fn for each row of a rejects file written by [Rejects].
func ReadRejects(p string, fn func(*Reject) error) error {
	var x Reject
	return parquetio.Read(p, func(_ []string, v map[string]parquet.Value) error {
		x = Reject{SourceFile: v["source_file"].String(), SourceRow: v["source_row"].Int64(), Code: v["reason_code"].String(),
			Reason: v["reason"].String(), Record: v["record"].String()}
		return fn(&x)
	})
}
