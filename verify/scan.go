package verify

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/writers"
)

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
		if b.cycle, b.payer, err = writers.PartitionOf(rel); err != nil {
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
