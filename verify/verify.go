// Package verify re-checks a finished output tree from its files alone:
// one check per method of a verification, each on what the earlier ones
// learned.
package verify

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/spill"
	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/writers"
	"github.com/parquet-go/parquet-go"
)

// Dir re-checks a finished tree from its files alone and returns what is
// wrong, or nothing. It checks that the files are exactly those the manifest
// lists, byte for byte (SHA-256); that rows read = billed + rejected; that per
// currency the amount read = billed + rejected to the last digit, and the
// bills and rejects add up to the manifest's totals; that each line_id
// appears once; and that the summary is the sum of the bills.
func Dir(dir string) ([]string, error) { return Tree(context.Background(), dir) }

// Tree is Dir, given up with ctx's error once ctx is done: a
// tree of tens of thousands of bills files takes minutes, and an operator's
// Ctrl-C or a scheduler's SIGTERM must stop it. Each check is a method of
// verification; what one check learns (the bills' sums, the statement
// rows) the later ones compare against.
func Tree(ctx context.Context, dir string) ([]string, error) {
	// A versioned tree: its latest version, a folder like any tree.
	dir, err := storage.Resolve(dir, 0)
	if err != nil {
		return nil, err
	}
	m, err := writers.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	vr := &verification{ctx: ctx, dir: dir, m: m, listed: map[string]writers.Output{}, billed: map[string]*billing.Sum{}, settled: map[string]*curSums{}}
	for _, o := range m.Outputs {
		vr.listed[o.Path] = o
	}
	if ok, err := vr.checkFiles(); err != nil || !ok {
		return vr.problems, err
	}
	if vr.tmp, err = os.MkdirTemp("", "billcons-verify-"); err != nil {
		return nil, err
	}
	defer os.RemoveAll(vr.tmp)
	for _, check := range []func() error{vr.checkBills, vr.checkLineIDs, vr.checkCredits, vr.checkSummary, vr.checkRejects, vr.checkCounts, vr.checkTotals} {
		if err := check(); err != nil {
			return nil, err
		}
	}
	sort.Strings(vr.problems)
	return vr.problems, nil
}

// verification is one verify of a tree: what the checks found wrong, and
// what each learns for the next.
type verification struct {
	ctx    context.Context
	dir    string
	m      *writers.Manifest
	listed map[string]writers.Output // the manifest's outputs by path
	calls  int                       // rows seen, for stopped

	problems []string

	tmp           string                  // the sorts' folder
	files         []string                // the bills files, in path order
	ids           *spill.Sorter           // line_id -> file and whether the row stands
	rows          *statementRows          // the bills, credits and summary per statement row
	billed        map[string]*billing.Sum // list amount per currency
	settled       map[string]*curSums     // per currency, over the bills and the summary
	billRows      int64
	live          int64 // lines net of corrections
	hasSettlement bool  // credits/applied.parquet exists (older trees lack it)
	summaryRows   int64

	rejected      map[string]*billing.Sum // the rejects' amounts per currency
	rejectRows    int64
	changeRejects int64
}

// file is the path of the tree's file whose view is view (the registry,
// writers.TreeFiles).
func (vr *verification) file(view string) string {
	return filepath.Join(vr.dir, filepath.FromSlash(writers.PathOf(view)))
}

// rowsAre checks that the tree's file of view holds want rows, as the
// manifest counts them (what: how it counts them, " rejected").
func (vr *verification) rowsAre(view string, want int64, what string) error {
	n, err := countParquet(vr.file(view))
	if err != nil {
		return err
	}
	if n != want {
		vr.bad("%s holds %d rows; manifest says %d%s", writers.PathOf(view), n, want, what)
	}
	return nil
}

type curSums struct{ disc, eff, coupon, voucher, sv, due billing.Sum }

// bad records a problem.
func (vr *verification) bad(format string, args ...any) {
	vr.problems = append(vr.problems, fmt.Sprintf(format, args...))
}

// stopped checks ctx on the first of every 4,096 rows.
func (vr *verification) stopped() error {
	if vr.calls++; vr.calls%4096 == 1 {
		return vr.ctx.Err()
	}
	return nil
}

// cur returns currency c's sums.
func (vr *verification) cur(c string) *curSums {
	if vr.settled[c] == nil {
		vr.settled[strings.Clone(c)] = &curSums{}
	}
	return vr.settled[c]
}

// checkFiles: the files are those listed, unchanged. When they are not,
// nothing else can be trusted (false).
func (vr *verification) checkFiles() (bool, error) {
	var found []string
	err := filepath.WalkDir(vr.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(vr.dir, p)
		rel = filepath.ToSlash(rel)
		if rel != "manifest.json" {
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("%s: %w", vr.dir, err)
	}
	sort.Strings(found)
	seen := map[string]bool{}
	for _, rel := range found {
		if err := vr.ctx.Err(); err != nil {
			return false, err
		}
		seen[rel] = true
		o, ok := vr.listed[rel]
		if !ok {
			vr.bad("%s: file is not listed in manifest.json", rel)
			continue
		}
		sum, size, err := hashFile(filepath.Join(vr.dir, filepath.FromSlash(rel)))
		if err != nil {
			vr.bad("%s: %v", rel, err)
			continue
		}
		if size != o.Bytes || sum != o.SHA256 {
			vr.bad("%s: content differs from manifest.json (sha256 %s, want %s)", rel, sum, o.SHA256)
		}
	}
	for _, o := range vr.m.Outputs {
		if !seen[o.Path] {
			vr.bad("%s: listed in manifest.json but missing", o.Path)
		}
	}
	if len(vr.problems) > 0 {
		return false, nil // the vr.files cannot be trusted for the rest
	}

	return true, nil
}

// checkBills: each line's effective amount, the index and the net
// totals of closed cycles against the bills; the bills' sums kept for the
// summary and the totals, their line ids for checkLineIDs.
func (vr *verification) checkBills() error {
	// 2. Bills: count, totals, unique line ids, the summary recomputed.
	vr.ids = spill.New(vr.tmp, "ids", verifySortBudget)
	vr.rows = newStatementRows(vr.tmp)
	// A partition's files come one after another in path order, so its
	// statement rows are summed in full when the next partition begins.
	part := map[statementRow]*rowBills{}
	var partCycle, partPayer string
	endPart := func() error {
		for g, b := range part {
			if err := vr.rows.addBills(&g, b); err != nil {
				return err
			}
		}
		clear(part)
		return nil
	}
	var err error
	vr.files, err = writers.BillFiles(vr.dir)
	if err != nil {
		return err
	}
	var index *indexCheck // trees written before the index have none
	if _, ok := vr.listed[writers.IndexPath]; ok {
		index = newIndexCheck()
		if err := index.load(vr.dir, vr.files); err != nil {
			return err
		}
	}
	var net *netCheck // trees a run over closed cycles wrote
	if _, ok := vr.listed[writers.RecomputedPath]; ok {
		if net, err = newNetCheck(vr.dir, vr.tmp); err != nil {
			return err
		}
	}
	var file [5]byte                                             // a line's file, by its index in vr.files, and +1 or -1
	err = scanBills(vr.dir, vr.files, func(b *billFacts) error { // fn checks vr.ctx: see stopped
		if err := vr.stopped(); err != nil {
			return err
		}
		if b.cycle != partCycle || b.payer != partPayer {
			if err := endPart(); err != nil {
				return err
			}
			partCycle, partPayer = b.cycle, strings.Clone(b.payer) // b's strings are views
		}
		vr.billRows++
		if index != nil {
			index.add(b)
		}
		g := statementRow{partCycle, partPayer, b.accountID, b.product, b.currency}
		a := part[g]
		if a == nil { // the row's first bill: its key kept, not views
			a = &rowBills{}
			part[statementRow{partCycle, partPayer, strings.Clone(b.accountID), strings.Clone(b.product), strings.Clone(b.currency)}] = a
		}
		sumIn(vr.billed, b.currency).Add(b.amount)
		a.n++
		a.sum.Add(b.amount)
		a.disc.Add(b.discount)
		a.eff.Add(b.effective)
		vr.cur(b.currency).disc.Add(b.discount)
		vr.cur(b.currency).eff.Add(b.effective)
		if b.effective != b.amount-b.discount {
			vr.bad("%s: line %s: effective_amount %s is not list_amount %s - discount_amount %s", vr.files[b.file], b.lineID, b.effective, b.amount, b.discount)
		}
		if net != nil {
			if err := net.add(b); err != nil {
				return err
			}
		}
		// A line has one net state: its own row, or a late line's first
		// correction row; corrections change it, a withdrawal ends it. Per
		// line_id they add up to one standing state at most.
		switch {
		case b.class == "", b.reason == writers.ReasonLate:
			vr.live++
			file[4] = 1
		case b.reason == writers.ReasonWithdrawn:
			vr.live--
			file[4] = 0
		default:
			return nil
		}
		binary.BigEndian.PutUint32(file[:4], uint32(b.file))
		return vr.ids.Add([]byte(b.lineID), file[:])
	})
	if err == nil {
		err = endPart()
	}
	if err == nil && index != nil {
		index.check(vr.files, vr.bad)
	}
	if err == nil && net != nil {
		err = net.check(vr.bad)
	}
	if err != nil {
		return err
	}
	return nil
}

// checkLineIDs: a line_id has one standing state at most: its own row or
// a late line's first correction, less its withdrawals.
func (vr *verification) checkLineIDs() error {
	it, err := vr.ids.Merge()
	if err != nil {
		return err
	}
	var prev []byte
	var again string // the file of the current line_id's second own row
	standing := 0    // the current line_id's own and late vr.rows less its withdrawals
	for {
		k, p, ok := it.Next()
		if !ok || len(p) != 5 || prev == nil || string(k) != string(prev) {
			if standing > 1 {
				vr.bad("line_id %s appears more than once (again in %s)", prev, again)
			}
			standing, again = 0, ""
		}
		if !ok || len(p) != 5 {
			break
		}
		if p[4] == 1 {
			standing++
			if standing == 2 && again == "" {
				again = vr.files[binary.BigEndian.Uint32(p[:4])]
			}
		} else {
			standing--
		}
		prev = append(prev[:0], k...)
	}
	it.Close()
	if err := it.Err(); err != nil {
		return err
	}
	vr.ids.Remove()

	return nil
}

// checkCredits: what credits/applied.parquet applied, per statement row
// and kind and per credit, against credits/balances.parquet and the
// manifest; the applications kept for checkSummary.
func (vr *verification) checkCredits() error {
	var err error
	appliedPath := vr.file("credits_applied")
	vr.hasSettlement = exists(appliedPath) // older trees lack it
	perCredit := map[string]*billing.Sum{}
	var appliedRows int64
	if vr.hasSettlement {
		err = parquetio.Read(appliedPath, func(_ []string, v map[string]parquet.Value) error {
			appliedRows++
			g := statementRow{str(v["billing_cycle"]), str(v["payer_account_id"]), str(v["account_id"]), str(v["product_code"]), str(v["currency"])}
			amt := billing.Amount(v["amount"].Int64())
			id, kind := str(v["credit_id"]), str(v["kind"])
			if amt <= 0 && (len(vr.m.Closed) == 0 || amt == 0) { // a correction gives credits back: < 0
				vr.bad("credits/applied.parquet: credit %s applies %s to %v: not above zero", id, amt, g)
			}
			switch kind {
			case "coupon", "voucher", "stored_value_card":
			default:
				vr.bad("credits/applied.parquet: credit %s has kind %q", id, kind)
			}
			sumIn(perCredit, id).Add(amt)
			return vr.rows.addApplied(&g, kind, amt, id)
		})
		if err != nil {
			return err
		}
		err = parquetio.Read(vr.file("credit_balances"), func(_ []string, v map[string]parquet.Value) error {
			id := str(v["credit_id"])
			amount, applied, remaining := billing.Amount(v["amount"].Int64()), billing.Amount(v["applied"].Int64()), billing.Amount(v["remaining"].Int64())
			var got billing.Sum
			if perCredit[id] != nil {
				got = *perCredit[id]
			}
			delete(perCredit, id)
			switch {
			case got != billing.SumOf(applied):
				vr.bad("credit %s: credits/balances.parquet says %s applied; credits/applied.parquet applies %s", id, applied, got)
			case applied > amount:
				vr.bad("credit %s pays %s, more than its amount %s", id, applied, amount)
			case applied != amount-remaining:
				vr.bad("credit %s: applied %s is not amount %s - remaining %s", id, applied, amount, remaining)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for id := range perCredit {
			vr.bad("credits/applied.parquet applies credit %s, which credits/balances.parquet does not list", id)
		}
		if appliedRows != vr.m.Counts.CreditsApplied {
			vr.bad("credits/applied.parquet holds %d rows; manifest says %d", appliedRows, vr.m.Counts.CreditsApplied)
		}
		if err := vr.rowsAre("alerts", vr.m.Counts.Alerts, ""); err != nil {
			return err
		}
	}

	return nil
}

// checkSummary: each summary row is the sum of its bills, less the
// credits applied to it.
func (vr *verification) checkSummary() error {
	var err error
	err = parquetio.Read(vr.file("summary"), func(_ []string, v map[string]parquet.Value) error {
		if err := vr.stopped(); err != nil {
			return err
		}
		vr.summaryRows++
		g := statementRow{str(v["billing_cycle"]), str(v["payer_account_id"]), str(v["account_id"]), str(v["product_code"]), str(v["currency"])}
		row := writers.SummaryRow{LineCount: v["line_count"].Int64(), ListAmount: billing.SumFromBytes16(v["list_amount"].ByteArray())}
		if vr.hasSettlement {
			for _, x := range []struct {
				name string
				sum  *billing.Sum
			}{
				{"discount_amount", &row.Discount}, {"effective_amount", &row.Effective}, {"coupon_amount", &row.Coupon},
				{"voucher_amount", &row.Voucher}, {"stored_value_amount", &row.StoredVal}, {"due_amount", &row.Due},
			} {
				*x.sum = billing.SumFromBytes16(v[x.name].ByteArray())
			}
		}
		return vr.rows.addSummary(&g, &row)
	})
	if err != nil {
		return err
	}
	err = vr.rows.each(rowVisitor{
		applied: func(r *rowView, kind, credit string, amt billing.Amount) {
			if r.bills == nil {
				vr.bad("credits/applied.parquet: credit %s pays %v, which has no bills", credit, r.row)
				return
			}
			switch kind {
			case "coupon":
				r.coupon.Add(amt)
			case "voucher":
				r.voucher.Add(amt)
			case "stored_value_card":
				r.sv.Add(amt)
			}
		},
		summary: func(r *rowView, s *writers.SummaryRow) {
			g, a := r.row, r.bills
			switch {
			case a == nil:
				vr.bad("summary row %v has no bills", g)
			case r.summaries > 0:
				vr.bad("summary row %v appears more than once", g)
			case a.n != s.LineCount || a.sum != s.ListAmount:
				vr.bad("summary row %v says %d lines, %s; the bills hold %d lines, %s", g, s.LineCount, s.ListAmount, a.n, a.sum)
			case vr.hasSettlement:
				c := vr.cur(g.currency)
				c.coupon.AddSum(s.Coupon)
				c.voucher.AddSum(s.Voucher)
				c.sv.AddSum(s.StoredVal)
				c.due.AddSum(s.Due)
				want := s.ListAmount
				want.SubSum(s.Discount)
				wantDue := s.Effective
				wantDue.SubSum(s.Coupon)
				wantDue.SubSum(s.Voucher)
				wantDue.SubSum(s.StoredVal)
				switch {
				case s.Discount != a.disc || s.Effective != a.eff:
					vr.bad("summary row %v says discount %s, effective %s; the bills hold %s, %s", g, s.Discount, s.Effective, a.disc, a.eff)
				case s.Effective != want:
					vr.bad("summary row %v: effective_amount %s is not list_amount %s - discount_amount %s", g, s.Effective, s.ListAmount, s.Discount)
				case s.Due != wantDue:
					vr.bad("summary row %v: due_amount %s is not effective %s - coupon %s - voucher %s - stored value %s", g, s.Due, s.Effective, s.Coupon, s.Voucher, s.StoredVal)
				case s.Coupon != r.coupon || s.Voucher != r.voucher || s.StoredVal != r.sv:
					vr.bad("summary row %v says coupon %s, voucher %s, stored value %s; credits/applied.parquet applies %s, %s, %s", g, s.Coupon, s.Voucher, s.StoredVal, r.coupon, r.voucher, r.sv)
				}
			}
		},
		end: func(r *rowView) {
			if r.bills != nil && r.summaries == 0 {
				vr.bad("bills of %v have no summary row", r.row)
			}
		},
	})
	if err != nil {
		return err
	}
	vr.rows.remove()

	return nil
}

// checkRejects: the rejects' count and the amounts of rows whose amount and
// currency parse, from the fields the run's --profile reads them from.
func (vr *verification) checkRejects() error {
	var err error
	// 3. Rejects: count and the amounts of rows whose amount and currency
	// parse, from the fields the run's --profile reads them from.
	profile, _ := vr.m.Options["profile"].(string)
	fixedCurrency, _ := vr.m.Options["currency"].(string)
	amountField, currencyField := readers.RecordAmountFields(profile)
	vr.rejected = map[string]*billing.Sum{}
	err = parquetio.Read(vr.file("rejects_usage"), func(_ []string, v map[string]parquet.Value) error {
		vr.rejectRows++
		var rec map[string]*string
		if err := json.Unmarshal(v["record"].ByteArray(), &rec); err != nil {
			vr.bad("rejects/usage.parquet row %d: record is not a JSON object: %v", vr.rejectRows, err)
			return nil
		}
		cur := rec[currencyField]
		if cur == nil && fixedCurrency != "" {
			cur = &fixedCurrency
		}
		if rec[amountField] == nil || cur == nil {
			return nil
		}
		a, err1 := billing.ParseAmount(*rec[amountField])
		c, err2 := billing.ParseCurrency(*cur)
		if err1 == nil && err2 == nil {
			sumIn(vr.rejected, c).Add(a)
		}
		return nil
	})
	if err != nil {
		return err
	}
	vr.changeRejects, err = countParquet(vr.file("rejects_changes"))
	if err != nil {
		return err
	}

	if exists(vr.file("changes")) { // older trees lack it
		return vr.rowsAre("changes", vr.m.Counts.ChangesAccepted, " accepted")
	}
	return nil
}

// checkCounts: the rows of every input add up (read = accepted +
// rejected), and every file holds the rows the manifest says.
func (vr *verification) checkCounts() error {
	c := vr.m.Counts
	for _, in := range []struct {
		name                     string
		read, accepted, rejected int64
	}{
		{"discounts", c.DiscountsRead, c.DiscountsAccepted, c.DiscountsRejected},
		{"enterprises", c.EnterprisesRead, c.EnterprisesAccepted, c.EnterprisesRejected},
		{"credits", c.CreditsRead, c.CreditsAccepted, c.CreditsRejected},
		{"balances", c.BalancesRead, c.BalancesAccepted, c.BalancesRejected},
	} {
		if in.read != in.accepted+in.rejected {
			vr.bad("manifest: %d %s rows read but %d accepted + %d rejected", in.read, in.name, in.accepted, in.rejected)
		}
		if !exists(vr.file("rejects_" + in.name)) {
			continue
		}
		if err := vr.rowsAre("rejects_"+in.name, in.rejected, " rejected"); err != nil {
			return err
		}
	}
	if c.UsageRead != c.UsageBilled+c.UsageRejected {
		vr.bad("manifest: %d usage rows read but %d billed + %d rejected", c.UsageRead, c.UsageBilled, c.UsageRejected)
	}
	// Without corrections every row is a line: live = the rows.
	if vr.live != c.UsageBilled+c.LinesCarried {
		vr.bad("bills hold %d lines (%d rows, net of corrections); manifest says %d billed + %d carried as invoiced", vr.live, vr.billRows, c.UsageBilled, c.LinesCarried)
	}
	for _, cl := range vr.m.Closed {
		for _, f := range cl.Files {
			if o, ok := vr.listed[f.Path]; !ok || o.SHA256 != f.SHA256 {
				vr.bad("closed cycle %s: %s is not the file closed in version %d (sha256 %.12s…)", cl.Cycle, f.Path, cl.Version, f.SHA256)
			}
		}
	}
	if vr.rejectRows != c.UsageRejected {
		vr.bad("rejects/usage.parquet holds %d rows; manifest says %d rejected", vr.rejectRows, c.UsageRejected)
	}
	if vr.changeRejects != c.ChangesRejected {
		vr.bad("rejects/changes.parquet holds %d rows; manifest says %d rejected", vr.changeRejects, c.ChangesRejected)
	}
	if c.ChangesRead != c.ChangesAccepted+c.ChangesRejected {
		vr.bad("manifest: %d changes read but %d accepted + %d rejected", c.ChangesRead, c.ChangesAccepted, c.ChangesRejected)
	}
	if vr.summaryRows != c.SummaryRows {
		vr.bad("summary holds %d rows; manifest says %d", vr.summaryRows, c.SummaryRows)
	}
	return nil
}

// checkTotals: per currency, the bills and the rejects add up to the
// manifest's totals to the last digit, and so do the settlement sums.
func (vr *verification) checkTotals() error {
	currencies := map[string]bool{}
	for cur := range vr.m.Totals {
		currencies[cur] = true
	}
	for cur := range vr.billed {
		currencies[cur] = true
	}
	for cur := range vr.rejected {
		currencies[cur] = true
	}
	for cur := range currencies {
		t := vr.m.Totals[cur]
		var b, r billing.Sum
		if vr.billed[cur] != nil {
			b = *vr.billed[cur]
		}
		if vr.rejected[cur] != nil {
			r = *vr.rejected[cur]
		}
		var carried billing.Sum
		if t.Carried != "" {
			var err error
			if carried, err = billing.ParseSum(t.Carried); err != nil {
				vr.bad("%s: manifest: carried %q: %v", cur, t.Carried, err)
			}
		}
		read := b // the bills less what they carry of lines no longer read
		read.SubSum(carried)
		var total billing.Sum
		total.AddSum(read)
		total.AddSum(r)
		if read.String() != t.Billed {
			vr.bad("%s: bills add up to %s (%s carried); manifest says %s billed", cur, b, carried, t.Billed)
		}
		if r.String() != t.Rejected {
			vr.bad("%s: rejects add up to %s; manifest says %s rejected", cur, r, t.Rejected)
		}
		if total.String() != t.Read {
			vr.bad("%s: billed %s + rejected %s = %s; manifest says %s read", cur, read, r, total, t.Read)
		}
		if vr.hasSettlement {
			s := vr.settled[cur]
			if s == nil {
				s = &curSums{}
			}
			eff := b
			eff.SubSum(s.disc)
			due := s.eff
			due.SubSum(s.coupon)
			due.SubSum(s.voucher)
			due.SubSum(s.sv)
			for _, x := range []struct {
				what     string
				got      billing.Sum
				manifest string
			}{
				{"discount", s.disc, t.Discount}, {"effective", s.eff, t.Effective}, {"coupon", s.coupon, t.Coupon},
				{"voucher", s.voucher, t.Voucher}, {"stored value", s.sv, t.StoredValue}, {"due", s.due, t.Due},
			} {
				if x.got.String() != x.manifest {
					vr.bad("%s: the files add up to %s %s; manifest says %s", cur, x.what, x.got, x.manifest)
				}
			}
			if s.eff != eff {
				vr.bad("%s: effective %s is not list %s - discount %s", cur, s.eff, b, s.disc)
			}
			if s.due != due {
				vr.bad("%s: due %s is not effective %s - coupon %s - voucher %s - stored value %s", cur, s.due, s.eff, s.coupon, s.voucher, s.sv)
			}
		}
	}
	return nil
}

func str(v parquet.Value) string { return string(v.ByteArray()) }

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// countParquet returns the rows of a Parquet file, from its footer.
func countParquet(p string) (int64, error) {
	pf, f, err := parquetio.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return pf.NumRows(), nil
}

// sumIn returns m's sum for k, adding a zero one when there is none.
func sumIn(m map[string]*billing.Sum, k string) *billing.Sum {
	if m[k] == nil {
		m[strings.Clone(k)] = &billing.Sum{} // k may be a view of a reader's buffer
	}
	return m[k]
}
