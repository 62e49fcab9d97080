package writers

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/parquetio/parquettest"
	"github.com/parquet-go/parquet-go"
)

// flatCase is a bills part written for TestFlatFileRead: its rows and the
// partition they go to.
type flatCase struct {
	name  string
	rows  int
	nulls float64 // the share of null optional values
	long  bool    // some extra values longer than parquetio.StatsMax
}

// flatLines makes n lines of a part: text of varied lengths (empty,
// multi-byte, repeated runs), integers at the extremes, and nulls at the
// given share.
func flatLines(c flatCase, part int) ([]billing.UsageLine, []Decided) {
	r := rand.New(rand.NewPCG(uint64(part), 7))
	base := billing.Time(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC).UnixMicro())
	ls := make([]billing.UsageLine, c.rows)
	ds := make([]Decided, c.rows)
	text := func(i int) string {
		switch r.IntN(6) {
		case 0:
			return ""
		case 1:
			return "成员-" + fmt.Sprint(i%7)
		case 2:
			return fmt.Sprintf("v%d", r.IntN(1000))
		default:
			return fmt.Sprintf("run-%d", i/100)
		}
	}
	null := func() bool { return r.Float64() < c.nulls }
	for i := range ls {
		l := billing.UsageLine{LineID: fmt.Sprintf("L%d-%07d", part, i), AccountID: fmt.Sprintf("1%05d", i/50), ProductCode: text(i),
			SubscriptionType: billing.PayAsYouGo, UsageStart: base + billing.Time(r.Int64N(1e12)), UsageEnd: base + billing.Time(i)*3600e6,
			ListAmount: billing.Amount(r.Int64N(2e18) - 1e18), Currency: "CNY", PaymentStatus: billing.Settled, IssuedAt: base,
			Cycle: billing.Cycle(2024*12 + 1 + part), ResourceID: text(i)} // a cycle per case: a file each
		switch i % 97 {
		case 3:
			l.ListAmount = billing.Amount(math.MaxInt64)
		case 4:
			l.ListAmount = billing.Amount(math.MinInt64 + 1)
		}
		if !null() {
			l.SettledAt, l.HasSettledAt = base+billing.Time(r.Int64N(1e9)), true
		}
		if null() {
			l.ResourceID = ""
		}
		x := billing.NullString{S: text(i), Valid: !null()}
		if c.long && i%1000 == 999 {
			x = billing.NullString{S: strings.Repeat("z", parquetio.StatsMax+1), Valid: true}
		}
		l.Extra = []billing.NullString{x}
		d := Decided{Payer: fmt.Sprintf("P%d", part), DiscountOwner: text(i), DiscountRule: "member", DiscountAmount: billing.Amount(r.Int64N(1e9))}
		if !null() {
			d.DecidedBy = text(i) + "k"
		}
		if !null() {
			d.HeldBy = "h"
		}
		if !null() {
			d.DiscountID = text(i) + "d"
		}
		ls[i], ds[i] = l, d
	}
	return ls, ds
}

// TestFlatFileRead: the bills files billcons writes itself (package
// parquetio) read back through parquet-go, an independent reader of the format,
// with the schema, values, nulls and row-group statistics the lines give.
// Parts of one row, of a few, of all nulls, past a row group (32,768 rows),
// and with text values too long for statistics.
func TestFlatFileRead(t *testing.T) {
	cases := []flatCase{
		{name: "one", rows: 1},
		{name: "few", rows: 17, nulls: 0.3},
		{name: "all-null", rows: 40, nulls: 1},
		{name: "no-null", rows: 5000},
		{name: "groups", rows: 70000, nulls: 0.5, long: true},
	}
	dir := t.TempDir()
	w, err := NewBills(dir, []string{"region"})
	if err != nil {
		panic(err)
	}
	lines := map[string][]billing.UsageLine{}
	decided := map[string][]Decided{}
	for p, c := range cases {
		ls, ds := flatLines(c, p)
		for i := range ls {
			if err := w.Write(&ls[i], &ds[i]); err != nil {
				t.Fatal(err)
			}
		}
		lines[ds[0].Payer], decided[ds[0].Payer] = ls, ds
	}
	outs, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	outs = billsOnly(outs)
	if len(outs) != len(cases) {
		t.Fatalf("%d files written, want %d", len(outs), len(cases))
	}
	want := parquetBillsSchema([]string{"region"})
	for p, o := range outs {
		c := cases[p]
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, o.Path)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(data)) != o.Bytes || o.Rows != int64(c.rows) {
				t.Errorf("output says %d bytes, %d rows; the file has %d bytes, the part %d rows", o.Bytes, o.Rows, len(data), c.rows)
			}
			pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if got := pf.Schema().String(); got != want.String() {
				t.Errorf("schema:\n%s\nwant\n%s", got, want)
			}
			payer := fmt.Sprintf("P%d", p)
			ls, ds := lines[payer], decided[payer]
			got := parquettest.Rows(t, path)
			if len(got) != c.rows {
				t.Fatalf("read %d rows, want %d", len(got), c.rows)
			}
			for i := range ls {
				if w := billRow(&ls[i], &ds[i]); strings.Join(got[i], "|") != strings.Join(w, "|") {
					t.Fatalf("row %d:\n got %q\nwant %q", i, got[i], w)
				}
			}
			parquettest.CheckStats(t, pf, got, parquetio.StatsMax)
		})
	}
}

// billRow renders what a line and its decision should be stored as.
func billRow(l *billing.UsageLine, d *Decided) []string {
	opt := func(s string, ok bool) string {
		if !ok {
			return "null"
		}
		return "s:" + s
	}
	i := func(v int64) string { return fmt.Sprint("i:", v) }
	row := []string{"s:" + d.Payer, "s:" + l.LineID, "s:" + l.AccountID, "s:" + l.ProductCode, "s:" + l.SubscriptionType.String(),
		i(int64(l.UsageStart)), i(int64(l.UsageEnd)), i(int64(l.ListAmount)), "s:" + l.Currency, "s:" + l.PaymentStatus.String(),
		i(int64(l.IssuedAt)), "null", opt(d.DecidedBy, d.DecidedBy != ""), opt(d.HeldBy, d.HeldBy != ""),
		"s:" + l.ChargeType.String(), opt(l.ResourceID, l.ResourceID != ""), "s:" + d.DiscountOwner, "s:" + d.DiscountRule,
		opt(d.DiscountID, d.DiscountID != ""), i(int64(d.DiscountAmount)), i(int64(l.ListAmount - d.DiscountAmount)),
		opt(d.InvoiceID, d.InvoiceID != ""), opt(d.ChargeClass, d.ChargeClass != ""),
		opt(d.CorrectionReason, d.CorrectionReason != ""), opt(d.CorrectsCycle, d.CorrectsCycle != "")}
	if d.CorrectionSign != 0 {
		row = append(row, i(int64(d.CorrectionSign)))
	} else {
		row = append(row, "null")
	}
	if l.HasSettledAt {
		row[11] = i(int64(l.SettledAt))
	}
	for _, x := range l.Extra {
		row = append(row, opt(x.S, x.Valid))
	}
	return row
}

// parquetBillsSchema is the schema parquet-go wrote the bills with before
// billcons wrote them itself: the same columns, types and annotations.
func parquetBillsSchema(extras []string) *parquet.Schema {
	cols := []column{
		{"payer_account_id", textNode}, {"line_id", textNode}, {"account_id", textNode}, {"product_code", textNode},
		{"subscription_type", textNode}, {"usage_start", tsNode}, {"usage_end", tsNode},
		{"list_amount", amountNode}, {"currency", textNode}, {"payment_status", textNode},
		{"issued_at", tsNode}, {"settled_at", optTS}, {"decided_by", optText}, {"held_by", optText},
		{"charge_type", textNode}, {"resource_id", optText}, {"discount_owner", textNode}, {"discount_rule", textNode}, {"discount_id", optText},
		{"discount_amount", amountNode}, {"effective_amount", amountNode},
		{"invoice_id", optText}, {"charge_class", optText}, {"correction_reason", optText}, {"corrects_cycle", optText},
		{"correction_sign", optCount},
	}
	for _, x := range extras {
		cols = append(cols, column{x, optText})
	}
	return newSchema("bill", cols)
}
