package query

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/billcons/billcons/billing"
)

// Invoice is the consolidated statement of one paying account for one
// billing cycle.
type Invoice struct {
	Payer       string            `json:"payer_account_id"`
	Cycle       string            `json:"billing_cycle"`
	PeriodStart string            `json:"period_start"` // RFC 3339 in the run's time zone
	PeriodEnd   string            `json:"period_end"`   // exclusive
	Items       []InvoiceItem     `json:"items"`
	Credits     []InvoiceCredit   `json:"credits"`
	Totals      []InvoiceTotal    `json:"totals"`
	Discounts   []InvoiceDiscount `json:"discounts"`
	Changes     []InvoiceChange   `json:"changes"`
	Reasons     []InvoiceReason   `json:"reasons"`
	// PaidByOthers are the payer's own lines of the cycle that other
	// accounts pay (it was in their trusteeship for part of the cycle).
	PaidByOthers []PaidBy `json:"paid_by_others,omitempty"`
	// Rejected are the changes of the cycle that named the payer, as the
	// management account or the member, and were rejected.
	Rejected []InvoiceRejected `json:"rejected_changes,omitempty"`
	// InvoiceIDs are the invoices of the statement, one per currency,
	// once its cycle is closed.
	InvoiceIDs []string `json:"invoice_ids,omitempty"`
	// Corrections are the statement's correction rows: lines of closed
	// cycles that changed after their invoice, and the credits their
	// reversals gave back.
	Corrections []InvoiceCorrection `json:"corrections,omitempty"`
	Returned    []InvoiceCredit     `json:"credits_returned,omitempty"`
}

// InvoiceCorrection is one correction row of a statement.
type InvoiceCorrection struct {
	CorrectsCycle string `json:"corrects_cycle"`
	Reason        string `json:"correction_reason"`
	Words         string `json:"reason"`
	LineID        string `json:"line_id"`
	AccountID     string `json:"account_id"`
	Product       string `json:"product_code"`
	Currency      string `json:"currency"`
	ListAmount    string `json:"list_amount"`
	Effective     string `json:"effective_amount"`
}

// correctionWords says what each correction reason means, for a reader of
// the invoice.
var correctionWords = map[string]string{
	"late_line":        "lines of %s that arrived after it was closed, charged here",
	"line_withdrawn":   "lines invoiced in %s that are withdrawn (rejected now, or absent from its restated inputs): their invoiced amounts credited back",
	"payer_changed":    "lines of %s whose payer changed after its invoice (a late or corrected trusteeship change): reversed for the payer invoiced, charged to the payer now",
	"amount_changed":   "lines of %s whose amount or currency was corrected after its invoice: the invoiced amount reversed, the new one charged",
	"discount_changed": "lines of %s whose discount changed after its invoice: the invoiced amount reversed, the new one charged",
}

// InvoiceRejected is a rejected change that named the payer: it did not
// move anyone's lines.
type InvoiceRejected struct {
	ChangeID  string `json:"change_id"`
	AccountID string `json:"account_id"`
	ChangedAt string `json:"changed_at"`
	Code      string `json:"reason_code"`
	Reason    string `json:"reason"`
	Source    string `json:"source"` // file:row
}

// PaidBy is who paid an account's lines of a cycle: a payer and how many.
type PaidBy struct {
	Payer string `json:"payer_account_id"`
	Lines int64  `json:"lines"`
}

// NoStatementError is Invoice's answer for an account that pays no bills
// in the cycle: who pays its lines there, if anyone, and the cycles in
// which it does pay.
type NoStatementError struct {
	Account, Cycle string
	PaidBy         []PaidBy // who pays its lines of the cycle
	Cycles         []string // the cycles it pays bills in
}

func (e *NoStatementError) Error() string {
	var b strings.Builder
	switch {
	case len(e.Cycles) == 0 && len(e.PaidBy) == 0:
		fmt.Fprintf(&b, "payer %s has no bills in this tree", e.Account)
	default:
		fmt.Fprintf(&b, "payer %s has no bills in cycle %s", e.Account, e.Cycle)
	}
	if len(e.PaidBy) > 0 {
		var who []string
		for _, p := range e.PaidBy {
			who = append(who, fmt.Sprintf("%s (%s)", p.Payer, Plural(p.Lines, "line")))
		}
		fmt.Fprintf(&b, ": %s's own lines of %s are paid by %s", e.Account, e.Cycle, strings.Join(who, ", "))
	}
	if len(e.Cycles) > 0 {
		fmt.Fprintf(&b, "; it has bills in %s", strings.Join(e.Cycles, ", "))
	}
	return b.String()
}

// paidBy lists who pays account's lines of cycle, other than skip, from
// the summary.
func (d *DB) paidBy(ctx context.Context, account, cycle, skip string) ([]PaidBy, error) {
	return scanAll(ctx, d, func(p *PaidBy) []any { return []any{&p.Payer, &p.Lines} },
		`SELECT payer_account_id, sum(line_count)::BIGINT FROM summary
		WHERE account_id = ? AND billing_cycle = ? AND payer_account_id <> ? GROUP BY ALL ORDER BY ALL`, account, cycle, skip)
}

// InvoiceItem is one member, product and currency of the statement: a
// summary row, from list to due.
type InvoiceItem struct {
	AccountID string `json:"account_id"`
	Product   string `json:"product_code"`
	Currency  string `json:"currency"`
	Lines     int64  `json:"lines"`
	Amounts
}

// Amounts are a statement row's money, exact decimal strings: list -
// discount = effective; effective - coupon - voucher - stored value = due.
type Amounts struct {
	ListAmount  string `json:"list_amount"`
	Discount    string `json:"discount_amount"`
	Effective   string `json:"effective_amount"`
	Coupon      string `json:"coupon_amount"`
	Voucher     string `json:"voucher_amount"`
	StoredValue string `json:"stored_value_amount"`
	Due         string `json:"due_amount"`
}

// InvoiceCredit is one credit applied to one of the statement's rows.
type InvoiceCredit struct {
	CreditID  string `json:"credit_id"`
	Kind      string `json:"kind"`
	Owner     string `json:"owner_account_id"`
	AccountID string `json:"account_id"`
	Product   string `json:"product_code"`
	Currency  string `json:"currency"`
	Amount    string `json:"amount"`
}

// InvoiceTotal is the statement's total in one currency: the amount due.
type InvoiceTotal struct {
	Currency string `json:"currency"`
	Members  int64  `json:"members"`
	Lines    int64  `json:"lines"`
	Amounts
}

// InvoiceDiscount says why a group of a member's lines got the discount
// they did: whose discount it is, by which rule, and which discount.
type InvoiceDiscount struct {
	AccountID  string `json:"account_id"`
	Owner      string `json:"discount_owner"`
	Rule       string `json:"discount_rule"`
	DiscountID string `json:"discount_id,omitempty"`
	Rate       string `json:"rate,omitempty"`
	Lines      int64  `json:"lines"`
	Discount   string `json:"discount_amount"`
	Words      string `json:"explanation"`
}

// InvoiceChange is an accepted change made in the cycle, of a member on the
// statement or into or out of the payer's trusteeship.
type InvoiceChange struct {
	ChangeID   string `json:"change_id"`
	AccountID  string `json:"account_id"`
	Policy     string `json:"policy"`
	Management string `json:"management_account_id,omitempty"`
	ChangedAt  string `json:"changed_at"`
	Words      string `json:"explanation"`
}

// InvoiceReason says why a group of a member's lines is on the statement:
// the change that set the payer (decided_by) and the change an unsettled
// bill held back (held_by), in words.
type InvoiceReason struct {
	AccountID string `json:"account_id"`
	DecidedBy string `json:"decided_by,omitempty"`
	HeldBy    string `json:"held_by,omitempty"`
	Lines     int64  `json:"lines"`
	Words     string `json:"explanation"`
}

// Invoice builds the statement of payer for cycle from the tree's views.
func (d *DB) Invoice(ctx context.Context, payer, cycle string) (*Invoice, error) {
	c, err := billing.ParseCycle(cycle)
	if err != nil {
		return nil, err
	}
	loc := d.runZone
	inv := &Invoice{Payer: payer, Cycle: cycle,
		PeriodStart: c.Start(loc).Format(time.RFC3339), PeriodEnd: (c + 1).Start(loc).Format(time.RFC3339)}
	cycles, err := d.PayerBills(ctx, payer, cycle)
	if err != nil {
		return nil, err
	}
	// The statement's lines, read once from the files the index names: the
	// queries below group them several ways.
	if err := d.Exec(ctx, `CREATE OR REPLACE TEMP TABLE statement_bills AS
			SELECT account_id, decided_by, held_by, discount_owner, discount_rule, discount_id, discount_amount, usage_start FROM payer_bills;
		CREATE OR REPLACE TEMP TABLE statement_members AS SELECT DISTINCT account_id FROM statement_bills`); err != nil {
		return nil, err
	}
	if err := d.invoiceItems(ctx, inv, cycles); err != nil {
		return nil, err
	}
	if inv.Rejected, err = d.rejectedNaming(ctx, payer, inv.PeriodStart, inv.PeriodEnd); err != nil {
		return nil, err
	}
	if inv.Totals, err = totalsOf(inv.Items); err != nil {
		return nil, err
	}
	inv.Credits, err = scanAll(ctx, d, func(c *InvoiceCredit) []any {
		return []any{&c.CreditID, &c.Kind, &c.Owner, &c.AccountID, &c.Product, &c.Currency, &c.Amount}
	}, `SELECT credit_id, kind, owner_account_id, account_id, product_code, currency, amount::VARCHAR
		FROM credits_applied WHERE payer_account_id = ? AND billing_cycle = ?`, payer, cycle) // in settlement order
	if err != nil {
		return nil, err
	}
	ch, err := d.invoiceChanges(ctx, inv, loc)
	if err != nil {
		return nil, err
	}
	if err := d.explainDiscounts(ctx, inv, loc, ch.of); err != nil {
		return nil, err
	}
	if err := d.invoiceReasons(ctx, inv, ch.what); err != nil {
		return nil, err
	}
	if err := d.corrections(ctx, inv); err != nil {
		return nil, err
	}
	return inv, nil
}

// invoiceItems reads the statement's rows from the summary, or says why
// there are none (who paid the account's lines instead); a member that
// paid part of the cycle itself learns who paid the rest.
func (d *DB) invoiceItems(ctx context.Context, inv *Invoice, cycles []string) error {
	const amounts = `list_amount::VARCHAR, discount_amount::VARCHAR, effective_amount::VARCHAR, coupon_amount::VARCHAR,
		voucher_amount::VARCHAR, stored_value_amount::VARCHAR, due_amount::VARCHAR`
	var err error
	inv.Items, err = scanAll(ctx, d, func(it *InvoiceItem) []any {
		a := &it.Amounts
		return []any{&it.AccountID, &it.Product, &it.Currency, &it.Lines,
			&a.ListAmount, &a.Discount, &a.Effective, &a.Coupon, &a.Voucher, &a.StoredValue, &a.Due}
	}, `SELECT account_id, product_code, currency, line_count, `+amounts+`
		FROM summary WHERE payer_account_id = ? AND billing_cycle = ? ORDER BY account_id, product_code, currency`, inv.Payer, inv.Cycle)
	if err != nil {
		return err
	}
	if len(inv.Items) == 0 {
		e := &NoStatementError{Account: inv.Payer, Cycle: inv.Cycle, Cycles: cycles}
		if e.PaidBy, err = d.paidBy(ctx, inv.Payer, inv.Cycle, inv.Payer); err != nil {
			return err
		}
		return e
	}
	// Only an account with lines of its own here can have had others pay
	// the rest (a management account's statement holds no line of its own).
	for _, it := range inv.Items {
		if it.AccountID == inv.Payer {
			inv.PaidByOthers, err = d.paidBy(ctx, inv.Payer, inv.Cycle, inv.Payer)
			return err
		}
	}
	return nil
}

// invoiceChangeSet is every change of a statement's members, and every
// change into or out of its payer's trusteeship: of, each member's
// changes; what, a change id in words.
type invoiceChangeSet struct {
	of   map[string][]memberChange
	what func(id string) string
}

// invoiceChanges reads those changes in one query, and lists on the
// statement the ones made in its cycle.
func (d *DB) invoiceChanges(ctx context.Context, inv *Invoice, loc *time.Location) (*invoiceChangeSet, error) {
	at := func(t time.Time) string { return t.In(loc).Format(time.RFC3339) }
	type change struct {
		memberChange
		member string
	}
	byID := map[string]change{}
	set := &invoiceChangeSet{of: map[string][]memberChange{}}
	rows, err := d.Rows(ctx, `SELECT change_id, account_id, policy, coalesce(management_account_id, ''), changed_at,
			coalesce(billing_cycle = ?, false) AS listed, account_id IN (SELECT account_id FROM statement_members) AS member
		FROM changes WHERE account_id IN (SELECT account_id FROM statement_members) OR management_account_id = ? OR account_id = ?
		ORDER BY changed_at, change_id`, inv.Cycle, inv.Payer, inv.Payer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var ch change
		var listed, member bool
		if err := rows.Scan(&ch.id, &ch.member, &ch.policy, &ch.mgmt, &ch.at, &listed, &member); err != nil {
			return nil, OneLine(err)
		}
		byID[ch.id] = ch
		if member {
			set.of[ch.member] = append(set.of[ch.member], ch.memberChange)
		}
		if listed { // made in the cycle
			inv.Changes = append(inv.Changes, InvoiceChange{ChangeID: ch.id, AccountID: ch.member, Policy: ch.policy,
				Management: ch.mgmt, ChangedAt: at(ch.at), Words: describeChange(ch.member, ch.policy, ch.mgmt)})
		}
	}
	set.what = func(id string) string {
		ch, ok := byID[id]
		if !ok {
			return id
		}
		return fmt.Sprintf("%s (%s, %s)", id, at(ch.at), describeChange(ch.member, ch.policy, ch.mgmt))
	}
	return set, nil
}

// invoiceReasons says, per member and the changes that decided and held
// its lines, why those lines are on the statement.
func (d *DB) invoiceReasons(ctx context.Context, inv *Invoice, what func(id string) string) error {
	rows, err := d.Rows(ctx, `SELECT account_id, coalesce(decided_by, ''), coalesce(held_by, ''), count(*)
		FROM statement_bills GROUP BY ALL ORDER BY ALL`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r InvoiceReason
		if err := rows.Scan(&r.AccountID, &r.DecidedBy, &r.HeldBy, &r.Lines); err != nil {
			return OneLine(err)
		}
		var words string
		switch {
		case r.DecidedBy == "" && r.AccountID == inv.Payer:
			words = fmt.Sprintf("%s pays for itself: these lines fall after none of its accepted changes", r.AccountID)
		case r.DecidedBy == "":
			words = fmt.Sprintf("%s's lines fall after none of its changes", r.AccountID)
		default:
			words = "payer set by " + what(r.DecidedBy)
		}
		if r.HeldBy != "" {
			words += "; " + what(r.HeldBy) + " would have set another payer, but an unsettled bill of the same product, issued before it in its cycle, held it back to the next cycle (seed 000 Scenario 1; seed 001 rule 5.1)"
		}
		r.Words = words
		inv.Reasons = append(inv.Reasons, r)
	}
	return OneLine(rows.Err())
}

func describeChange(member, policy, mgmt string) string {
	if policy == "trusteeship" {
		return fmt.Sprintf("%s into the trusteeship of %s, which pays for it from then on", member, mgmt)
	}
	return fmt.Sprintf("%s leaves trusteeship and pays for itself", member)
}

// WriteText writes the statement for people.
func (inv *Invoice) WriteText(w io.Writer) {
	fmt.Fprintf(w, "Consolidated statement of %s for billing cycle %s\n", inv.Payer, inv.Cycle)
	fmt.Fprintf(w, "Billing period %s to %s (exclusive)\n", inv.PeriodStart, inv.PeriodEnd)
	if len(inv.InvoiceIDs) > 0 {
		fmt.Fprintf(w, "Closed; invoice %s\n", strings.Join(inv.InvoiceIDs, ", "))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Charges: list - discount = effective, per member and product")
	items := make([][]string, len(inv.Items))
	for i, it := range inv.Items {
		items[i] = []string{it.AccountID, it.Product, it.Currency, fmt.Sprint(it.Lines), it.ListAmount, it.Discount, it.Effective}
	}
	writeTable(w, []string{"account_id", "product_code", "currency", "lines", "list_amount", "discount", "effective"},
		[]bool{false, false, false, true, true, true, true}, items)
	fmt.Fprintln(w, "\nCredits applied, in settlement order (coupons, vouchers, stored-value cards)")
	if len(inv.Credits) == 0 {
		fmt.Fprintln(w, "  none")
	} else {
		credits := make([][]string, len(inv.Credits))
		for i, c := range inv.Credits {
			credits[i] = []string{c.CreditID, c.Kind, c.Owner, c.AccountID, c.Product, c.Currency, c.Amount}
		}
		writeTable(w, []string{"credit_id", "kind", "owner", "pays for", "product_code", "currency", "amount"},
			[]bool{false, false, false, false, false, false, true}, credits)
	}
	fmt.Fprintln(w, "\nAmount due")
	totals := make([][]string, len(inv.Totals))
	for i, t := range inv.Totals {
		totals[i] = []string{t.Currency, fmt.Sprint(t.Members), fmt.Sprint(t.Lines), t.ListAmount, t.Discount, t.Effective,
			t.Coupon, t.Voucher, t.StoredValue, t.Due}
	}
	writeTable(w, []string{"currency", "members", "lines", "list", "discount", "effective", "coupons", "vouchers", "stored value", "due"},
		[]bool{false, true, true, true, true, true, true, true, true, true}, totals)
	fmt.Fprintln(w, "\nWhy each member's discount is the one it is")
	for _, x := range inv.Discounts {
		fmt.Fprintf(w, "  %s, %s: %s\n", x.AccountID, Plural(x.Lines, "line"), x.Words)
	}
	fmt.Fprintf(w, "\nChanges made in %s for these members or into and out of %s's trusteeship\n", inv.Cycle, inv.Payer)
	if len(inv.Changes) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, c := range inv.Changes {
		fmt.Fprintf(w, "  %s  %s: %s\n", c.ChangedAt, c.ChangeID, c.Words)
	}
	fmt.Fprintf(w, "\nWhy these lines are %s's (decided_by, held_by)\n", inv.Payer)
	for _, r := range inv.Reasons {
		fmt.Fprintf(w, "  %s, %s: %s\n", r.AccountID, Plural(r.Lines, "line"), r.Words)
	}
	if len(inv.Rejected) > 0 {
		fmt.Fprintf(w, "\nChanges made in %s that named %s and were rejected: they moved no lines\n", inv.Cycle, inv.Payer)
		for _, x := range inv.Rejected {
			fmt.Fprintf(w, "  %s  %s (%s, %s): %s\n", x.ChangedAt, x.ChangeID, x.Source, x.Code, x.Reason)
		}
	}
	if len(inv.Corrections) > 0 {
		fmt.Fprintln(w, "\nCorrections to closed cycles (counted in the charges above; the summary's correction_amount)")
		last := ""
		for _, c := range inv.Corrections {
			if k := c.CorrectsCycle + " " + c.Reason; k != last {
				fmt.Fprintf(w, "  %s, %s: %s\n", c.CorrectsCycle, c.Reason, c.Words)
				last = k
			}
			fmt.Fprintf(w, "    %s  %s  %s  %s  list %s  effective %s\n", c.LineID, c.AccountID, c.Product, c.Currency, c.ListAmount, c.Effective)
		}
		for _, c := range inv.Returned {
			fmt.Fprintf(w, "  credit %s (%s) given back %s %s on %s %s: it paid the reversed lines in their closed cycle\n",
				c.CreditID, c.Kind, strings.TrimPrefix(c.Amount, "-"), c.Currency, c.AccountID, c.Product)
		}
	}
	if len(inv.PaidByOthers) > 0 {
		fmt.Fprintf(w, "\n%s's own lines of %s that others pay (it was in their trusteeship for part of the cycle)\n", inv.Payer, inv.Cycle)
		for _, p := range inv.PaidByOthers {
			fmt.Fprintf(w, "  %s: %s, on %s's statement\n", p.Payer, Plural(p.Lines, "line"), p.Payer)
		}
	}
}

// corrections fills in the statement's invoice ids, correction rows and
// the credits those gave back; trees written before cycles closed have
// none.
func (d *DB) corrections(ctx context.Context, inv *Invoice) error {
	var has bool
	if err := d.conn.QueryRowContext(ctx, `SELECT count(*) > 0 FROM (DESCRIBE payer_bills) WHERE column_name = 'charge_class'`).Scan(&has); err != nil || !has {
		return OneLine(err)
	}
	var err error
	inv.InvoiceIDs, err = scanAll(ctx, d, func(id *string) []any { return []any{id} },
		`SELECT DISTINCT invoice_id FROM summary WHERE payer_account_id = ? AND billing_cycle = ? AND invoice_id IS NOT NULL ORDER BY 1`, inv.Payer, inv.Cycle)
	if err != nil {
		return err
	}
	inv.Corrections, err = scanAll(ctx, d, func(c *InvoiceCorrection) []any {
		return []any{&c.CorrectsCycle, &c.Reason, &c.LineID, &c.AccountID, &c.Product, &c.Currency, &c.ListAmount, &c.Effective}
	}, `SELECT corrects_cycle, correction_reason, line_id, account_id, product_code, currency,
			list_amount::VARCHAR, effective_amount::VARCHAR FROM payer_bills WHERE charge_class IS NOT NULL
		ORDER BY corrects_cycle, correction_reason, line_id, list_amount`)
	if err != nil {
		return err
	}
	for i := range inv.Corrections {
		c := &inv.Corrections[i]
		if w, ok := correctionWords[c.Reason]; ok {
			c.Words = fmt.Sprintf(w, c.CorrectsCycle)
		}
	}
	for _, c := range inv.Credits {
		if strings.HasPrefix(c.Amount, "-") {
			inv.Returned = append(inv.Returned, c)
		}
	}
	return nil
}

// WriteCSV writes the statement's items, one row per member, product and
// currency, for machines.
func (inv *Invoice) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"billing_cycle", "payer_account_id", "account_id", "product_code", "currency", "lines", "list_amount",
		"discount_amount", "effective_amount", "coupon_amount", "voucher_amount", "stored_value_amount", "due_amount"})
	for _, it := range inv.Items {
		cw.Write([]string{inv.Cycle, inv.Payer, it.AccountID, it.Product, it.Currency, fmt.Sprint(it.Lines), it.ListAmount,
			it.Discount, it.Effective, it.Coupon, it.Voucher, it.StoredValue, it.Due})
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the whole statement as one JSON object; amounts are exact
// decimal strings.
func (inv *Invoice) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(inv)
}

// totalsOf sums the statement's rows per currency, exactly: the amount due
// in each. The rows are one per member, product and currency.
func totalsOf(items []InvoiceItem) ([]InvoiceTotal, error) {
	type total struct {
		members map[string]bool
		lines   int64
		sums    [7]billing.Sum
	}
	byCurrency := map[string]*total{}
	for i := range items {
		it := &items[i]
		t := byCurrency[it.Currency]
		if t == nil {
			t = &total{members: map[string]bool{}}
			byCurrency[it.Currency] = t
		}
		t.members[it.AccountID] = true
		t.lines += it.Lines
		for j, s := range it.Amounts.all() {
			x, err := billing.ParseSum(*s)
			if err != nil {
				return nil, fmt.Errorf("statement row %s %s %s: %w", it.AccountID, it.Product, it.Currency, err)
			}
			t.sums[j].AddSum(x)
		}
	}
	var out []InvoiceTotal
	for _, cur := range slices.Sorted(maps.Keys(byCurrency)) {
		t := byCurrency[cur]
		it := InvoiceTotal{Currency: cur, Members: int64(len(t.members)), Lines: t.lines}
		for j, s := range it.Amounts.all() {
			*s = t.sums[j].String()
		}
		out = append(out, it)
	}
	return out, nil
}

// all are the amounts in the order of their columns.
func (a *Amounts) all() [7]*string {
	return [7]*string{&a.ListAmount, &a.Discount, &a.Effective, &a.Coupon, &a.Voucher, &a.StoredValue, &a.Due}
}

// rejectedNaming lists the rejected changes of [start, end) that name
// account as the management account or the member.
func (d *DB) rejectedNaming(ctx context.Context, account, start, end string) ([]InvoiceRejected, error) {
	return scanAll(ctx, d, func(x *InvoiceRejected) []any {
		return []any{&x.ChangeID, &x.AccountID, &x.ChangedAt, &x.Code, &x.Reason, &x.Source}
	}, `WITH r AS (
			SELECT source_file, source_row, reason_code, reason,
				json_extract_string(record, '$.change_id') AS change_id, json_extract_string(record, '$.account_id') AS account_id,
				json_extract_string(record, '$.management_account_id') AS mgmt, json_extract_string(record, '$.changed_at') AS changed_at,
				TRY_CAST(json_extract_string(record, '$.changed_at') AS TIMESTAMPTZ) AS made_at
			FROM rejects_changes)
		SELECT coalesce(change_id, ''), coalesce(account_id, ''), coalesce(changed_at, ''), reason_code, reason, source_file || ':' || source_row
		FROM r WHERE (mgmt = ? OR account_id = ?) AND made_at >= ?::TIMESTAMPTZ AND made_at < ?::TIMESTAMPTZ
		ORDER BY made_at, source_file, source_row`, account, account, start, end)
}
