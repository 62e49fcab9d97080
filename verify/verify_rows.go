package verify

import (
	"encoding/binary"
	"errors"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/spill"
	"github.com/billcons/billcons/writers"
)

// statementRow is the key of a summary row: what its bills share.
type statementRow struct{ cycle, payer, account, product, currency string }

// rowBills is what the bills of one statement row add up to.
type rowBills struct {
	n              int64
	sum, disc, eff billing.Sum
}

// statementRows joins, per statement row, the sums of its bills, the
// credits credits/applied.parquet applies to it and its summary row,
// through a sort: each is spilled under the row's key and the three meet in
// one merge, so that the memory is the sort's budget however many rows a
// tree has (a map of every row grows with the members, and the collector
// with it).
type statementRows struct {
	sort *spill.Sorter
	key  []byte
	val  []byte
}

// The kinds of record, in the order the merge meets them within a row.
const (
	rowIsBills   byte = iota // rowBills
	rowIsApplied             // kind, amount, credit_id
	rowIsSummary             // line_count and the seven sums
)

func newStatementRows(dir string) *statementRows {
	return &statementRows{sort: spill.New(dir, "rows", verifySortBudget)}
}

// rowKey is g's fields, each after its length, then the record's kind.
func rowKey(b []byte, g *statementRow, kind byte) []byte {
	for _, f := range [...]string{g.cycle, g.payer, g.account, g.product, g.currency} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return append(b, kind)
}

func parseRowKey(k []byte) (statementRow, byte, error) {
	var f [5]string
	rest := k
	for i := range f {
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return statementRow{}, 0, errRowRecord
		}
		f[i] = string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
	}
	if len(rest) != 1 {
		return statementRow{}, 0, errRowRecord
	}
	return statementRow{f[0], f[1], f[2], f[3], f[4]}, rest[0], nil
}

var errRowRecord = errors.New("verify: a statement row's record is corrupt")

// remove deletes the sort's run files.
func (r *statementRows) remove() { r.sort.Remove() }

func (r *statementRows) add(g *statementRow, kind byte) error {
	r.key = rowKey(r.key[:0], g, kind)
	return r.sort.Add(r.key, r.val)
}

func (r *statementRows) addBills(g *statementRow, b *rowBills) error {
	r.val = binary.AppendVarint(r.val[:0], b.n)
	for _, s := range [...]billing.Sum{b.sum, b.disc, b.eff} {
		r.val = s.AppendBytes16(r.val)
	}
	return r.add(g, rowIsBills)
}

func (r *statementRows) addApplied(g *statementRow, kind string, amount billing.Amount, credit string) error {
	r.val = binary.AppendUvarint(r.val[:0], uint64(len(kind)))
	r.val = append(r.val, kind...)
	r.val = binary.AppendVarint(r.val, int64(amount))
	r.val = append(r.val, credit...)
	return r.add(g, rowIsApplied)
}

func (r *statementRows) addSummary(g *statementRow, row *writers.SummaryRow) error {
	r.val = binary.AppendVarint(r.val[:0], row.LineCount)
	for _, s := range [...]billing.Sum{row.ListAmount, row.Discount, row.Effective, row.Coupon, row.Voucher, row.StoredVal, row.Due} {
		r.val = s.AppendBytes16(r.val)
	}
	return r.add(g, rowIsSummary)
}

// rowView is one statement row as the merge meets it.
type rowView struct {
	row                 statementRow
	bills               *rowBills   // the sums of its bills; nil when it has none
	coupon, voucher, sv billing.Sum // the credits applied to it, kept by the visitor
	summaries           int         // its summary rows met before the current one
}

// rowVisitor is told of a statement row's records in the order its bills
// (summed into the view, not told), each credit applied to it, its summary
// rows; then of the row's end.
type rowVisitor struct {
	applied func(v *rowView, kind, credit string, amount billing.Amount)
	summary func(v *rowView, s *writers.SummaryRow)
	end     func(v *rowView) // after the row's last record
}

// each merges the records and calls vis for every statement row.
func (r *statementRows) each(vis rowVisitor) error {
	it, err := r.sort.MergeAhead()
	if err != nil {
		return err
	}
	defer it.Close()
	var (
		v     rowView
		bills rowBills
		prev  []byte
		have  bool
	)
	for {
		k, p, ok := it.Next()
		if !ok {
			break
		}
		if len(k) == 0 {
			return errRowRecord
		}
		if !have || string(k[:len(k)-1]) != string(prev) {
			if have {
				vis.end(&v)
			}
			g, _, err := parseRowKey(k)
			if err != nil {
				return err
			}
			v, have = rowView{row: g}, true
			prev = append(prev[:0], k[:len(k)-1]...)
		}
		switch k[len(k)-1] {
		case rowIsBills: // one per row, unless a partition's files were apart
			var b rowBills
			if err := parseBills(p, &b); err != nil {
				return err
			}
			if v.bills == nil {
				bills, v.bills = rowBills{}, &bills
			}
			bills.n += b.n
			bills.sum.AddSum(b.sum)
			bills.disc.AddSum(b.disc)
			bills.eff.AddSum(b.eff)
		case rowIsApplied:
			n, w := binary.Uvarint(p)
			if w <= 0 || uint64(len(p)-w) < n {
				return errRowRecord
			}
			kind := string(p[w : w+int(n)])
			amount, w2 := binary.Varint(p[w+int(n):])
			if w2 <= 0 {
				return errRowRecord
			}
			vis.applied(&v, kind, string(p[w+int(n)+w2:]), billing.Amount(amount))
		case rowIsSummary:
			s, err := parseSummary(p)
			if err != nil {
				return err
			}
			vis.summary(&v, &s)
			v.summaries++
		default:
			return errRowRecord
		}
	}
	if have {
		vis.end(&v)
	}
	return it.Err()
}

func parseBills(p []byte, b *rowBills) error {
	n, w := binary.Varint(p)
	if w <= 0 || len(p) != w+48 {
		return errRowRecord
	}
	b.n = n
	p = p[w:]
	for _, s := range [...]*billing.Sum{&b.sum, &b.disc, &b.eff} {
		*s = billing.SumFromBytes16(p[:16])
		p = p[16:]
	}
	return nil
}

// parseSummary parses a summary row's line count and sums; its key is the
// statement row's.
func parseSummary(p []byte) (writers.SummaryRow, error) {
	var s writers.SummaryRow
	n, w := binary.Varint(p)
	if w <= 0 || len(p) != w+7*16 {
		return s, errRowRecord
	}
	s.LineCount = n
	p = p[w:]
	for _, x := range [...]*billing.Sum{&s.ListAmount, &s.Discount, &s.Effective, &s.Coupon, &s.Voucher, &s.StoredVal, &s.Due} {
		*x = billing.SumFromBytes16(p[:16])
		p = p[16:]
	}
	return s, nil
}

// verifySortBudget is the bytes of records each of verify's sorts holds
// before it writes a run. A sort's record index takes as much again for
// short records, and a run is sorted and written while the next fills, so
// two sorts hold about four times this: it stays well under the soft
// memory limit, against which a larger budget makes the collector run
// without pause.
const verifySortBudget = 16 << 20
