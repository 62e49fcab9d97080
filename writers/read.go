package writers

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/readers"
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
	dir, err := Resolve(dir, 0)
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

// partitionOf parses bills/billing_cycle=C/part-N.parquet, whose payers
// are a column, and the layout of trees written before it,
// bills/billing_cycle=C/payer_account_id=P/part-N.parquet, whose payer is
// the folder's.
func partitionOf(rel string) (cycle, payer string, err error) {
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
	dir, err := Resolve(dir, 0) // a versioned tree: its latest version
	if err != nil {
		return err
	}
	files, err := billFiles(dir)
	if err != nil {
		return err
	}
	for _, rel := range files {
		cycle, payer, err := partitionOf(rel)
		if err != nil {
			return err
		}
		err = ReadParquet(filepath.Join(dir, filepath.FromSlash(rel)), func(cols []string, vals map[string]parquet.Value) error {
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

// ReadParquet calls fn for each row of a flat Parquet file with its values by
// column name. The values are valid only during the call.
func ReadParquet(p string, fn func(cols []string, vals map[string]parquet.Value) error) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("%s: %w", p, unwrapPath(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	var cols []string
	for _, fld := range pf.Schema().Fields() {
		cols = append(cols, fld.Name())
	}
	vals := make(map[string]parquet.Value, len(cols))
	buf := make([]parquet.Row, 256)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				clear(vals)
				for _, v := range row {
					if c := v.Column(); c >= 0 && c < len(cols) {
						vals[cols[c]] = v
					}
				}
				if ferr := fn(cols, vals); ferr != nil {
					rows.Close()
					return ferr
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		rows.Close()
	}
	return nil
}

// ReadSummary calls fn for each row of a summary file written by [Summary].
func ReadSummary(p string, fn func(*SummaryRow) error) error {
	var row SummaryRow
	return ReadParquet(p, func(_ []string, v map[string]parquet.Value) error {
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
	return ReadParquet(p, func(_ []string, v map[string]parquet.Value) error {
		x = Reject{SourceFile: v["source_file"].String(), SourceRow: v["source_row"].Int64(), Code: v["reason_code"].String(),
			Reason: v["reason"].String(), Record: v["record"].String()}
		return fn(&x)
	})
}

// billFacts is what verify checks of one bill. The strings are valid only
// during the call.
type billFacts struct {
	file                                 int // its index in the files scanned
	cycle, payer                         string
	lineID, accountID, product, currency string
	amount, discount, effective          billing.Amount
	class, reason, corrects              string // charge_class, correction_reason, corrects_cycle: "" for null
	sign                                 int64  // correction_sign: 0 for null
}

// billColumns are the columns verify reads of a bills file, in billFacts'
// order: four text columns, then three amounts, then the payer.
// effective_amount is absent from trees before settlement, payer_account_id
// from trees whose folders name the payer.
var billColumns = [...]string{"line_id", "account_id", "product_code", "currency", "list_amount", "discount_amount", "effective_amount", "payer_account_id"}

// scanBills calls fn for every bill of files, bills files of the tree at
// dir (see [BillFiles]), file by file, reading only billColumns by the
// column reader the run's Parquet input goes through, amounts as integers.
// [ReadBills], parquet-go's row reader with a map per row, took verify half
// an hour on the 71,569 files of 10M lines over 100,000 members.
func scanBills(dir string, files []string, fn func(*billFacts) error) error {
	rows := make([]readers.Row, 1024)
	var b billFacts
	for i, rel := range files {
		var err error
		if b.cycle, b.payer, err = partitionOf(rel); err != nil {
			return err
		}
		b.file = i
		if err := scanBillFile(filepath.Join(dir, filepath.FromSlash(rel)), rows, &b, fn); err != nil {
			return err
		}
	}
	return nil
}

// scanBillFile reads one bills file into b for fn.
func scanBillFile(p string, rows []readers.Row, b *billFacts, fn func(*billFacts) error) error {
	t, err := readers.Open(p)
	if err != nil {
		return err
	}
	defer t.Close()
	var at [len(billColumns)]int // header positions; -1 for an absent effective_amount
	for i, name := range billColumns {
		at[i] = slices.Index(t.Header(), name)
		if at[i] < 0 && name != "effective_amount" && (name != "payer_account_id" || b.payer == "") {
			return fmt.Errorf("%s: no column %s", p, name)
		}
	}
	// The correction columns, in trees written since cycles close.
	cols := append([]int(nil), at[:]...)
	class, reason, corrects := slices.Index(t.Header(), "charge_class"), slices.Index(t.Header(), "correction_reason"), slices.Index(t.Header(), "corrects_cycle")
	sign := slices.Index(t.Header(), "correction_sign")
	if class >= 0 && reason >= 0 && corrects >= 0 && sign >= 0 {
		cols = append(cols, class, reason, corrects, sign)
	}
	readers.ReadOnly(t, cols)
	readers.DeliverTyped(t, at[4:7])
	for {
		n, err := t.Read(rows)
		for i := range rows[:n] {
			r := &rows[i]
			if r.Err != nil {
				return fmt.Errorf("%s: row %d: %w", p, r.N, r.Err)
			}
			b.lineID, b.accountID, b.product, b.currency = r.Fields[at[0]], r.Fields[at[1]], r.Fields[at[2]], r.Fields[at[3]]
			if at[7] >= 0 {
				b.payer = r.Fields[at[7]]
			}
			b.class, b.reason, b.corrects, b.sign = "", "", "", 0
			if class >= 0 && reason >= 0 && corrects >= 0 && sign >= 0 && (r.Null == nil || !r.Null[class]) {
				b.class, b.reason, b.corrects = r.Fields[class], r.Fields[reason], r.Fields[corrects]
				if r.Fields[sign] == "-1" {
					b.sign = -1
				} else {
					b.sign = 1
				}
			}
			var errs [3]error
			b.amount, errs[0] = amountField(r, at[4])
			b.discount, errs[1] = amountField(r, at[5])
			b.effective, errs[2] = b.amount, nil
			if at[6] >= 0 {
				b.effective, errs[2] = amountField(r, at[6])
			}
			for j, e := range errs {
				if e != nil {
					return fmt.Errorf("%s: row %d: %s: %w", p, r.N, billColumns[4+j], e)
				}
			}
			if err := fn(b); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// amountField is field c of r as an amount: its integer when delivered
// typed, else its text parsed. A null is an error: the bills write none.
func amountField(r *readers.Row, c int) (billing.Amount, error) {
	if a, ok := r.Amount(c); ok {
		return a, nil
	}
	if r.Null != nil && r.Null[c] {
		return 0, fmt.Errorf("null")
	}
	return billing.ParseAmount(r.Text(c))
}
