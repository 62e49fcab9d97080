package rules

import (
	"testing"

	"github.com/billcons/billcons/billing"
	"github.com/google/go-cmp/cmp"
)

func amt(t *testing.T, s string) billing.Amount {
	t.Helper()
	a, err := billing.ParseAmount(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func rate(t *testing.T, s string) billing.Rate {
	t.Helper()
	r, err := billing.ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestDiscountOwner covers the five rules of "Whose discount a line gets",
// in order, each case naming its seed passage.
func TestDiscountOwner(t *testing.T) {
	accounts := Accounts{"m": "E-legacy", "MA": "E-legacy", "n": "E-new", "NA": "E-new", "e": "E-entity", "EA": "E-entity"}
	ents := []billing.Enterprise{
		{EnterpriseID: "E-legacy", UpgradedAt: ts(t, "2023-06-01T00:00:00+08:00"), EntityDiscountsFrom: billing.MaxTime},
		{EnterpriseID: "E-new", UpgradedAt: ts(t, "2022-01-01T00:00:00+08:00"), EntityDiscountsFrom: billing.MaxTime},
		{EnterpriseID: "E-entity", UpgradedAt: ts(t, "2022-01-01T00:00:00+08:00"), EntityDiscountsFrom: ts(t, "2024-02-01T00:00:00+08:00")},
	}
	d := NewDiscounts(accounts, ents, nil)
	tests := []struct {
		Name, Reason string
		Changes      []billing.Change
		Member       string
		Product      string
		Start        string
		WantOwner    string
		WantRule     *Rule
	}{
		{Name: "self-pay", Reason: "CONTRACT.md rule 1: a member that pays for itself gets its own discount",
			Member: "m", Product: "ecs", Start: "2024-01-05T00:00:00+08:00", WantOwner: "m", WantRule: SelfPayDiscount},
		{Name: "alicom-legacy", Reason: "seed 000: legacy members used the management account's discounts except for Alibaba Cloud Communications; seed 001 rule 2",
			Changes: []billing.Change{change(t, 0, "k1", "m", "trusteeship", "MA", "2023-03-04T00:00:00+08:00")},
			Member:  "m", Product: "alicom", Start: "2024-01-05T00:00:00+08:00", WantOwner: "m", WantRule: CommunicationsDiscount},
		{Name: "legacy-inheritance", Reason: "seed 000: existing managed members set up before the upgrade continue to share the management account's discounts",
			Changes: []billing.Change{change(t, 0, "k1", "m", "trusteeship", "MA", "2023-03-04T00:00:00+08:00")},
			Member:  "m", Product: "ecs", Start: "2024-01-05T00:00:00+08:00", WantOwner: "MA", WantRule: LegacyInheritance},
		{Name: "legacy-run-began-before-upgrade", Reason: "seed 000 legacy inheritance: the trusteeship began at the first change of the unbroken run naming the payer",
			Changes: []billing.Change{
				change(t, 0, "k1", "m", "trusteeship", "MA", "2023-03-04T00:00:00+08:00"),
				change(t, 1, "k2", "m", "trusteeship", "MA", "2023-09-01T00:00:00+08:00"),
			},
			Member: "m", Product: "ecs", Start: "2024-01-05T00:00:00+08:00", WantOwner: "MA", WantRule: LegacyInheritance},
		{Name: "rejoined-after-upgrade", Reason: "seed 000: a member that left and joined again after the upgrade is a new managed member and uses its own discount",
			Changes: []billing.Change{
				change(t, 0, "k1", "m", "trusteeship", "MA", "2023-03-04T00:00:00+08:00"),
				change(t, 1, "k2", "m", "none", "", "2023-07-01T00:00:00+08:00"),
				change(t, 2, "k3", "m", "trusteeship", "MA", "2023-08-01T00:00:00+08:00"),
			},
			Member: "m", Product: "ecs", Start: "2024-01-05T00:00:00+08:00", WantOwner: "m", WantRule: NewMemberOwnDiscount},
		{Name: "entity-discounts", Reason: "seed 000: once entity-level discounts are configured, all accounts of the enterprise, new ones included, share discounts",
			Changes: []billing.Change{change(t, 0, "k1", "e", "trusteeship", "EA", "2023-03-04T00:00:00+08:00")},
			Member:  "e", Product: "ecs", Start: "2024-02-01T00:00:00+08:00", WantOwner: "EA", WantRule: EntityDiscounts},
		{Name: "entity-discounts-not-yet", Reason: "seed 000: before entity-level discounts are configured a new managed member uses its own",
			Changes: []billing.Change{change(t, 0, "k1", "e", "trusteeship", "EA", "2023-03-04T00:00:00+08:00")},
			Member:  "e", Product: "ecs", Start: "2024-01-31T23:59:59+08:00", WantOwner: "e", WantRule: NewMemberOwnDiscount},
		{Name: "new-member-own", Reason: "seed 000: new managed member accounts only use their own discount policies",
			Changes: []billing.Change{change(t, 0, "k1", "n", "trusteeship", "NA", "2023-03-04T00:00:00+08:00")},
			Member:  "n", Product: "ecs", Start: "2024-01-05T00:00:00+08:00", WantOwner: "n", WantRule: NewMemberOwnDiscount},
		{Name: "default-upgrade-time", Reason: "seed 000: released from 12:00 on August 1, 2022 (UTC+8): an unlisted account began before it, so inherits",
			Changes: []billing.Change{change(t, 0, "k1", "x", "trusteeship", "XA", "2022-08-01T11:59:59+08:00")},
			Member:  "x", Product: "ecs", Start: "2024-01-05T00:00:00+08:00", WantOwner: "XA", WantRule: LegacyInheritance},
		{Name: "default-upgrade-time-at", Reason: "seed 000: a trusteeship set at 12:00 on August 1, 2022 (UTC+8) is not before the upgrade",
			Changes: []billing.Change{change(t, 0, "k1", "x", "trusteeship", "XA", "2022-08-01T12:00:00+08:00")},
			Member:  "x", Product: "ecs", Start: "2024-01-05T00:00:00+08:00", WantOwner: "x", WantRule: NewMemberOwnDiscount},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			p := NewPlan(tt.Changes, cst, TimingEndTime)
			l := line(t, "l1", tt.Member, tt.Product, "2024-01", tt.Start, tt.Start, tt.Start, "s")
			dec := p.Assign(&l)
			owner, rule := d.Owner(&l, dec)
			if owner != tt.WantOwner || rule != tt.WantRule {
				t.Errorf("Owner() = %s, %s; want %s, %s [%s]", owner, rule.Code, tt.WantOwner, tt.WantRule.Code, tt.Reason)
			}
		})
	}
}

// TestDiscountApplied covers CONTRACT.md "The discount applied": the owner's
// discount for the product before its "*" discount, validity at usage_start
// (valid_to exclusive), and the rounding of list x rate.
func TestDiscountApplied(t *testing.T) {
	ds := []billing.Discount{
		{DiscountID: "star", AccountID: "m", ProductCode: "*", Rate: rate(t, "0.1"), ValidFrom: ts(t, "2024-01-01T00:00:00+08:00"), ValidTo: billing.MaxTime},
		{DiscountID: "ecs", AccountID: "m", ProductCode: "ecs", Rate: rate(t, "0.25"), ValidFrom: ts(t, "2024-01-01T00:00:00+08:00"), ValidTo: ts(t, "2024-02-01T00:00:00+08:00")},
	}
	d := NewDiscounts(nil, nil, ds)
	tests := []struct {
		Name, Reason string
		Product      string
		Start        string
		List         string
		WantID       string
		WantAmount   string
	}{
		{"product-before-star", "CONTRACT.md: the discount for the line's product before the one for *", "ecs", "2024-01-10T00:00:00+08:00", "100", "ecs", "25.000000000"},
		{"star-for-other-products", "CONTRACT.md: failing a product discount, the one for *", "oss", "2024-01-10T00:00:00+08:00", "100", "star", "10.000000000"},
		{"valid-to-exclusive", "CONTRACT.md: valid_from <= usage_start < valid_to", "ecs", "2024-02-01T00:00:00+08:00", "100", "star", "10.000000000"},
		{"before-valid-from", "CONTRACT.md: no discount valid at usage_start: rate 0", "ecs", "2023-12-31T23:59:59+08:00", "100", "", "0.000000000"},
		{"refund-negative-discount", "CONTRACT.md: a refund gets a negative discount", "ecs", "2024-01-10T00:00:00+08:00", "-100", "ecs", "-25.000000000"},
		{"round-half-away", "CONTRACT.md: rounded to 9 fractional digits, halves away from zero", "ecs", "2024-01-10T00:00:00+08:00", "0.000000002", "ecs", "0.000000001"},
		{"round-half-away-negative", "CONTRACT.md: halves away from zero, for a refund too", "ecs", "2024-01-10T00:00:00+08:00", "-0.000000002", "ecs", "-0.000000001"},
		{"round-down", "CONTRACT.md: below a half rounds toward zero", "oss", "2024-01-10T00:00:00+08:00", "0.000000004", "star", "0.000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			l := line(t, "l1", "m", tt.Product, "2024-01", tt.Start, tt.Start, tt.Start, "s")
			l.ListAmount = amt(t, tt.List)
			got := d.Apply(&l, Decision{Payer: "m"})
			if got.DiscountID != tt.WantID || got.Amount.String() != tt.WantAmount || got.Owner != "m" {
				t.Errorf("Apply() = %s %s, want %s %s [%s: %s]", got.DiscountID, got.Amount, tt.WantID, tt.WantAmount, DiscountApplied.Code, tt.Reason)
			}
		})
	}
}

// TestDiscountAmountExact checks list x rate at the extremes of the value
// ranges against big-number arithmetic.
func TestDiscountAmountExact(t *testing.T) {
	for _, c := range []struct{ list, rate, want string }{
		{"999999999.999999999", "1", "999999999.999999999"},
		{"999999999.999999999", "0.999999999", "999999998.999999999"},
		{"-999999999.999999999", "0.5", "-500000000.000000000"},
		{"123.456789012", "0.123456789", "15.241578752"}, // 15.241578751672002468,
		{"0.000000001", "0.5", "0.000000001"},
		{"0.000000001", "0.499999999", "0.000000000"},
	} {
		got := DiscountAmount(amt(t, c.list), rate(t, c.rate))
		if got.String() != c.want {
			t.Errorf("DiscountAmount(%s, %s) = %s, want %s [CONTRACT.md, The discount applied]", c.list, c.rate, got, c.want)
		}
	}
}

func credit(t *testing.T, id, owner string, kind billing.CreditKind, amount, from, to, product string, shared ...string) billing.Credit {
	c := billing.Credit{CreditID: id, Owner: owner, Kind: kind, Currency: "CNY", Amount: amt(t, amount),
		ValidFrom: ts(t, from), ValidTo: billing.MaxTime, ProductCode: product, SharedWith: shared}
	if to != "" {
		c.ValidTo = ts(t, to)
	}
	return c
}

// TestMayPay covers which credits may pay a statement row, each case naming
// its seed passage.
func TestMayPay(t *testing.T) {
	const from = "2024-01-01T00:00:00+08:00"
	start, end := ts(t, "2024-02-01T00:00:00+08:00"), ts(t, "2024-03-01T00:00:00+08:00")
	row := func(payer, member, product string) *StatementRow {
		return &StatementRow{Cycle: cyc(t, "2024-02"), Payer: payer, Member: member, Product: product, Currency: "CNY"}
	}
	tests := []struct {
		Name   string
		Rule   *Rule // the rule the case proves
		Reason string
		Credit billing.Credit
		Row    *StatementRow
		Want   bool
	}{
		{"own-coupon", OwnCredits, "CONTRACT.md: a member that pays for itself uses its own credits of any kind",
			credit(t, "c", "m", billing.Coupon, "10", from, "", ""), row("m", "m", "ecs"), true},
		{"own-stored-value", OwnCredits, "CONTRACT.md: own credits of any kind", credit(t, "c", "m", billing.StoredValueCard, "10", from, "", ""), row("m", "m", "ecs"), true},
		{"other-accounts-credit", OwnCredits, "CONTRACT.md: a self-paying member uses only its own", credit(t, "c", "x", billing.Voucher, "10", from, "", ""), row("m", "m", "ecs"), false},
		{"payer-voucher-shared-by-default", SharedCredits, "seed 000: by default the management account shares its vouchers and stored value cards with all its managed members",
			credit(t, "c", "MA", billing.Voucher, "10", from, "", ""), row("MA", "m", "ecs"), true},
		{"payer-stored-value-shared", SharedCredits, "seed 000: stored value cards are shared by default", credit(t, "c", "MA", billing.StoredValueCard, "10", from, "", ""), row("MA", "m", "ecs"), true},
		{"payer-coupon-shared", SharedCredits, "seed 001 rule 2: the main account's coupons apply to fees incurred by linked accounts",
			credit(t, "c", "MA", billing.Coupon, "10", from, "", ""), row("MA", "m", "ecs"), true},
		{"payer-sharing-lists-member", SharedCredits, "seed 000: sharing can name specific accounts", credit(t, "c", "MA", billing.Voucher, "10", from, "", "", "m", "n"), row("MA", "m", "ecs"), true},
		{"payer-sharing-omits-member", SharedCredits, "seed 000: sharing with specific accounts leaves the others out", credit(t, "c", "MA", billing.Voucher, "10", from, "", "", "n"), row("MA", "m", "ecs"), false},
		{"payer-coupon-not-alicom", SharedCredits, "seed 001 rule 2: the main account's coupons apply except AliTelecom fees",
			credit(t, "c", "MA", billing.Coupon, "10", from, "", ""), row("MA", "m", "alicom"), false},
		{"payer-voucher-alicom", SharedCredits, "seed 001 rule 2 excepts coupons only: the payer's vouchers pay AliTelecom", credit(t, "c", "MA", billing.Voucher, "10", from, "", ""), row("MA", "m", "alicom"), true},
		{"member-coupon-alicom", MemberCouponsAliTelecom, "seed 001 rule 2: linked accounts can still use their own coupons for AliTelecom",
			credit(t, "c", "m", billing.Coupon, "10", from, "", ""), row("MA", "m", "alicom"), true},
		{"member-coupon-not-ecs", MemberCreditsFrozen, "seed 001 rule 4 and seed 000: a managed member's own coupons pay nothing else",
			credit(t, "c", "m", billing.Coupon, "10", from, "", ""), row("MA", "m", "ecs"), false},
		{"member-voucher-frozen", MemberCreditsFrozen, "seed 000: a managed member account's vouchers and stored value cards cannot be used",
			credit(t, "c", "m", billing.Voucher, "10", from, "", ""), row("MA", "m", "alicom"), false},
		{"member-stored-value-frozen", MemberCreditsFrozen, "seed 000: a managed member account's stored value cards cannot be used",
			credit(t, "c", "m", billing.StoredValueCard, "10", from, "", ""), row("MA", "m", "ecs"), false},
		{"other-member-coupon", MemberCreditsFrozen, "seed 001 rule 4: coupons of a linked account cannot be shared with other linked accounts",
			credit(t, "c", "n", billing.Coupon, "10", from, "", ""), row("MA", "m", "alicom"), false},
		{"product-limited", OwnCredits, "CONTRACT.md: a credit with a product_code pays only that product", credit(t, "c", "m", billing.Coupon, "10", from, "", "oss"), row("m", "m", "ecs"), false},
		{"expired-before-cycle", OwnCredits, "CONTRACT.md: validity must overlap the cycle (valid_to exclusive)", credit(t, "c", "m", billing.Coupon, "10", from, "2024-02-01T00:00:00+08:00", ""), row("m", "m", "ecs"), false},
		{"starts-after-cycle", OwnCredits, "CONTRACT.md: valid_from before the cycle's end", credit(t, "c", "m", billing.Coupon, "10", "2024-03-01T00:00:00+08:00", "", ""), row("m", "m", "ecs"), false},
		{"starts-in-cycle", OwnCredits, "CONTRACT.md: validity overlapping part of the cycle is enough", credit(t, "c", "m", billing.Coupon, "10", "2024-02-29T23:00:00+08:00", "", ""), row("m", "m", "ecs"), true},
	}
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			if got := MayPay(&tt.Credit, tt.Row, start, end); got != tt.Want {
				t.Errorf("MayPay() = %v, want %v [%s: %s; %s]", got, tt.Want, tt.Rule.Code, tt.Rule.Seed, tt.Reason)
			}
		})
	}
}

// TestSettleOrder covers [CreditOrder] (CONTRACT.md "Order"): coupons, then vouchers, then
// stored-value cards; earliest valid_to first, then credit_id; balances
// carry from row to row; a row that owes nothing takes nothing.
func TestSettleOrder(t *testing.T) {
	const from = "2024-01-01T00:00:00+08:00"
	cs := []billing.Credit{
		credit(t, "svc", "MA", billing.StoredValueCard, "1000", from, "", ""),
		credit(t, "v-late", "MA", billing.Voucher, "5", from, "2025-01-01T00:00:00+08:00", ""),
		credit(t, "v-b", "MA", billing.Voucher, "5", from, "2024-06-01T00:00:00+08:00", ""),
		credit(t, "v-a", "MA", billing.Voucher, "5", from, "2024-06-01T00:00:00+08:00", ""),
		credit(t, "v-none", "MA", billing.Voucher, "5", from, "", ""),
		credit(t, "cp", "MA", billing.Coupon, "3", from, "", ""),
	}
	c := NewCredits(cs, cst)
	sum := func(s string) billing.Sum { return billing.SumOf(amt(t, s)) }
	row := func(member, eff string) *StatementRow {
		return &StatementRow{Cycle: cyc(t, "2024-02"), Payer: "MA", Member: member, Product: "ecs", Currency: "CNY", Effective: sum(eff)}
	}
	type app struct{ ID, Amount string }
	apps := func(as []Application) []app {
		var out []app
		for _, a := range as {
			out = append(out, app{a.CreditID, a.Amount.String()})
		}
		return out
	}
	got := apps(c.Settle(row("m1", "10")))
	want := []app{{"cp", "3.000000000"}, {"v-a", "5.000000000"}, {"v-b", "2.000000000"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Settle(first row) (-want +got) [credit_order, CONTRACT.md Order: coupon, voucher, stored-value; earliest valid_to, then credit_id]:\n%s", diff)
	}
	if got := apps(c.Settle(row("m2", "-4"))); got != nil {
		t.Errorf("Settle(negative row) = %v, want nothing [CONTRACT.md: a row whose effective amount is not positive takes nothing]", got)
	}
	got = apps(c.Settle(row("m3", "20")))
	want = []app{{"v-b", "3.000000000"}, {"v-late", "5.000000000"}, {"v-none", "5.000000000"}, {"svc", "7.000000000"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Settle(second row) (-want +got) [credit_order, CONTRACT.md Order: balances carry over; a spent credit is skipped; no valid_to last]:\n%s", diff)
	}
	for _, b := range c.Balances() {
		if b.Applied > b.Amount || b.Remaining() != b.Amount-b.Applied {
			t.Errorf("credit %s: applied %s of %s [CONTRACT.md invariant: no credit pays more than its amount]", b.CreditID, b.Applied, b.Amount)
		}
	}
}

type fakeSum struct {
	due     map[string]string
	members int64
}

func (f fakeSum) Due(c billing.Cycle, payer, cur string) billing.Sum {
	a, _ := billing.ParseAmount(f.due[c.String()+" "+payer+" "+cur])
	return billing.SumOf(a)
}
func (f fakeSum) Members(billing.Cycle, string) int64 { return f.members }

// TestAlerts covers the spending and low-credit alerts of CONTRACT.md.
func TestAlerts(t *testing.T) {
	cycles := []billing.Cycle{cyc(t, "2024-01"), cyc(t, "2024-02")}
	sum := fakeSum{due: map[string]string{"2024-01 MA CNY": "100", "2024-02 MA CNY": "50", "2024-02 m CNY": "80", "2024-02 S CNY": "10"}, members: 3}
	bal := []billing.Balance{
		{AccountID: "MA", Currency: "CNY", AvailableCredit: amt(t, "49.999999999"), SpendingAlert: amt(t, "50"), HasSpendingAlert: true},
		{AccountID: "m", Currency: "CNY", AvailableCredit: amt(t, "0")},
		{AccountID: "S", Currency: "CNY", AvailableCredit: amt(t, "10")},
		{AccountID: "Z", Currency: "USD", AvailableCredit: amt(t, "-1")},
	}
	inTrust := func(a string) bool { return a == "m" }
	got := Alerts(bal, cycles, sum, inTrust)
	type al struct{ Kind, Cycle, Payer, Cur, Due, Limit string }
	var gotA []al
	for _, a := range got {
		gotA = append(gotA, al{a.Rule.Code, a.Cycle.String(), a.Payer, a.Currency, a.AmountDue.String(), a.Limit.String()})
	}
	want := []al{
		// seed 000: spending alerts go to the management account on its consolidated amounts; above is strictly greater (50 is not above 50).
		{"spending", "2024-01", "MA", "CNY", "100.000000000", "50.000000000"},
		// seed 001: if the main account has insufficient funds, its linked accounts' resources become unavailable.
		{"low_credit", "2024-02", "MA", "CNY", "50.000000000", "49.999999999"},
		// seed 001 rule 1: alerts go only to the main account: m is in trusteeship, so no low_credit for it;
		// S owes exactly its credit: not above. Z owes nothing: 0 > -1 alerts.
		{"low_credit", "2024-02", "Z", "USD", "0.000000000", "-1.000000000"},
	}
	if diff := cmp.Diff(want, gotA); diff != "" {
		t.Errorf("Alerts() (-want +got) [seed 000 Key considerations; seed 001 Trusteeship rule 1]:\n%s", diff)
	}
}

// TestValidateSettlementInputs covers the copy and ambiguity rules of the
// settlement inputs.
func TestValidateSettlementInputs(t *testing.T) {
	d := func(seq int, id, acct, prod, from, to string) billing.Discount {
		x := billing.Discount{Seq: seq, DiscountID: id, AccountID: acct, ProductCode: prod, Rate: rate(t, "0.1"), ValidFrom: ts(t, from), ValidTo: billing.MaxTime}
		if to != "" {
			x.ValidTo = ts(t, to)
		}
		return x
	}
	ds := []billing.Discount{
		d(0, "a", "m", "*", "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"),
		d(1, "a", "m", "*", "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"), // copy
		d(2, "b", "m", "*", "2024-02-01T00:00:00Z", ""),                     // touches a: no overlap
		d(3, "c", "m", "ecs", "2024-01-01T00:00:00Z", ""),
		d(4, "e", "m", "ecs", "2024-03-01T00:00:00Z", ""), // overlaps c
		d(5, "f", "n", "*", "2024-01-01T00:00:00Z", ""),
		d(6, "f", "n", "oss", "2024-01-01T00:00:00Z", ""), // same id, different row
	}
	acc, rej := ValidateDiscounts(ds)
	var gotAcc []string
	for _, x := range acc {
		gotAcc = append(gotAcc, x.DiscountID)
	}
	gotRej := map[int]string{}
	for _, r := range rej {
		gotRej[r.Seq] = r.Rule.Code
	}
	if diff := cmp.Diff([]string{"a", "b"}, gotAcc); diff != "" {
		t.Errorf("ValidateDiscounts accepted (-want +got) [CONTRACT.md Input: discounts]:\n%s", diff)
	}
	wantRej := map[int]string{1: "duplicate_discount", 3: "ambiguous_discount", 4: "ambiguous_discount", 5: "ambiguous_discount", 6: "ambiguous_discount"}
	if diff := cmp.Diff(wantRej, gotRej); diff != "" {
		t.Errorf("ValidateDiscounts rejected (-want +got) [CONTRACT.md Input: discounts]:\n%s", diff)
	}

	bs := []billing.Balance{
		{Seq: 0, AccountID: "MA", Currency: "CNY", AvailableCredit: amt(t, "1")},
		{Seq: 1, AccountID: "MA", Currency: "CNY", AvailableCredit: amt(t, "1")},
		{Seq: 2, AccountID: "MA", Currency: "USD", AvailableCredit: amt(t, "1")},
		{Seq: 3, AccountID: "MA", Currency: "USD", AvailableCredit: amt(t, "2")},
	}
	bacc, brej := ValidateBalances(bs)
	if len(bacc) != 1 || bacc[0].Seq != 0 || len(brej) != 3 || brej[0].Rule != DuplicateBalance || brej[1].Rule != AmbiguousBalance {
		t.Errorf("ValidateBalances = %v, %v; want row 0 accepted, 1 a copy, 2 and 3 ambiguous [CONTRACT.md Input: balances]", bacc, brej)
	}
	as := []billing.Account{{Seq: 0, AccountID: "a", EnterpriseID: "E1"}, {Seq: 1, AccountID: "a", EnterpriseID: "E1"},
		{Seq: 2, AccountID: "b", EnterpriseID: "E1"}, {Seq: 3, AccountID: "b", EnterpriseID: "E2"}, {Seq: 4, AccountID: "c", EnterpriseID: "E2"}}
	if aacc, arej := ValidateAccounts(as); len(aacc) != 2 || aacc[1].AccountID != "c" || len(arej) != 3 ||
		arej[0].Rule != DuplicateAccount || arej[1].Rule != AmbiguousAccount || arej[2].Rule != AmbiguousAccount {
		t.Errorf("ValidateAccounts = %v, %v; want a and c accepted, a's copy a duplicate, both b ambiguous [CONTRACT.md Input: accounts]", aacc, arej)
	}
	es := []billing.Enterprise{{Seq: 0, EnterpriseID: "D", UpgradedAt: 1}, {Seq: 1, EnterpriseID: "D", UpgradedAt: 1},
		{Seq: 2, EnterpriseID: "E", UpgradedAt: 1}, {Seq: 3, EnterpriseID: "E", UpgradedAt: 2}}
	if eacc, erej := ValidateEnterprises(es); len(eacc) != 1 || eacc[0].EnterpriseID != "D" || len(erej) != 3 ||
		erej[0].Rule != DuplicateEnterprise || erej[1].Rule != AmbiguousEnterprise || erej[2].Rule != AmbiguousEnterprise {
		t.Errorf("ValidateEnterprises = %v, %v; want D accepted, its copy a duplicate, both E ambiguous [CONTRACT.md Input: enterprises]", eacc, erej)
	}
	cs := []billing.Credit{credit(t, "c", "m", billing.Coupon, "1", "2024-01-01T00:00:00Z", "", "", "a", "b"),
		credit(t, "c", "m", billing.Coupon, "1", "2024-01-01T00:00:00Z", "", "", "b", "a"),
		credit(t, "d", "m", billing.Coupon, "1", "2024-01-01T00:00:00Z", "", ""),
		credit(t, "d", "m", billing.Coupon, "2", "2024-01-01T00:00:00Z", "", "")}
	for i := range cs {
		cs[i].Seq = i
	}
	if cacc, crej := ValidateCredits(cs); len(cacc) != 1 || len(crej) != 3 || crej[0].Rule != DuplicateCredit || crej[1].Rule != AmbiguousCredit {
		t.Errorf("ValidateCredits = %v, %v; want c accepted (its copy shares with the same accounts), both d ambiguous [CONTRACT.md Input: credits]", cacc, crej)
	}
}

// TestTake covers Credits.Take (CONTRACT.md "Corrections": closed
// cycles' applications stay as they were, and a credit a correction gives
// back may pay again): a closed cycle's 4 taken, 3 given back, the open
// row takes the 9 left and no more; an unknown credit is said so.
func TestTake(t *testing.T) {
	const from = "2024-01-01T00:00:00+08:00"
	c := NewCredits([]billing.Credit{credit(t, "v", "MA", billing.Voucher, "10", from, "", "")}, cst)
	if !c.Take("v", amt(t, "4")) || !c.Take("v", amt(t, "-3")) {
		t.Fatal("Take(v) = false, want true")
	}
	if c.Take("nope", amt(t, "1")) {
		t.Error("Take(nope) = true for an unknown credit")
	}
	row := &StatementRow{Cycle: cyc(t, "2024-02"), Payer: "MA", Member: "m1", Product: "ecs", Currency: "CNY", Effective: billing.SumOf(amt(t, "50"))}
	got := c.Settle(row)
	if len(got) != 1 || got[0].Amount.String() != "9.000000000" {
		t.Errorf("Settle after Take = %v, want v paying 9 [CONTRACT.md Corrections: the open cycle settles with the balances left]", got)
	}
}
