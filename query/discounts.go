package query

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/rules"
)

// memberChange is an accepted change of a statement's member.
type memberChange struct {
	id, policy, mgmt string
	at               time.Time
}

// explainDiscounts fills inv.Discounts: for each member of the statement and
// each rule that named its lines' discount owner, the discount and why, in
// words that cite the seed passage (CONTRACT.md, "Whose discount a line
// gets"). It reads the bills' discount_rule and decided_by, the accepted
// changes (changesOf: each member's, in order; when the trusteeship
// began) and the accepted accounts and enterprises (when the member's
// enterprise upgraded).
func (d *DB) explainDiscounts(ctx context.Context, inv *Invoice, loc *time.Location, changesOf map[string][]memberChange) error {
	at := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04 MST") }
	rows, err := d.Rows(ctx, `SELECT b.account_id, b.discount_owner, b.discount_rule, coalesce(b.discount_id, ''),
			coalesce(any_value(x.rate)::VARCHAR, ''), coalesce(b.decided_by, ''), count(*), sum(b.discount_amount)::VARCHAR,
			min(b.usage_start), max(b.usage_start)
		FROM statement_bills b LEFT JOIN discounts x USING (discount_id)
		GROUP BY ALL ORDER BY ALL`)
	if err != nil {
		return err
	}
	type group struct {
		InvoiceDiscount
		decidedBy  string
		first, end time.Time
	}
	var groups []group
	for rows.Next() {
		var g group
		if err := rows.Scan(&g.AccountID, &g.Owner, &g.Rule, &g.DiscountID, &g.Rate, &g.decidedBy, &g.Lines, &g.Discount, &g.first, &g.end); err != nil {
			rows.Close()
			return OneLine(err)
		}
		groups = append(groups, g)
	}
	rows.Close()

	type ent struct {
		id                 string
		upgraded, entityAt time.Time
		hasEntity          bool
	}
	// The statement's members' enterprises, in one query (a management
	// account's statement has hundreds of members).
	ents := map[string]ent{}
	r, err := d.Rows(ctx, `SELECT a.account_id, a.enterprise_id, e.upgraded_at, e.entity_discounts_from
		FROM accounts a LEFT JOIN enterprises e USING (enterprise_id) WHERE a.account_id IN (SELECT account_id FROM statement_members)`)
	if err != nil {
		return err
	}
	for r.Next() {
		var member string
		var up, entAt *time.Time
		e := ent{upgraded: rules.DefaultUpgradedAt.UTC()}
		if err := r.Scan(&member, &e.id, &up, &entAt); err != nil {
			r.Close()
			return OneLine(err)
		}
		if up != nil {
			e.upgraded = *up
		}
		if entAt != nil {
			e.entityAt, e.hasEntity = *entAt, true
		}
		ents[member] = e
	}
	r.Close()
	enterpriseOf := func(member string) (ent, error) {
		if e, ok := ents[member]; ok {
			return e, nil
		}
		return ent{upgraded: rules.DefaultUpgradedAt.UTC()}, nil
	}
	// began returns when the unbroken run of trusteeship changes naming the
	// payer that ends with decidedBy began.
	began := func(member, decidedBy string) (time.Time, error) {
		var since time.Time
		var payer string
		for _, c := range changesOf[member] {
			if c.policy != "trusteeship" || c.mgmt != payer {
				since = c.at
			}
			payer = c.mgmt
			if c.policy != "trusteeship" {
				payer = ""
			}
			if c.id == decidedBy {
				return since, nil
			}
		}
		return since, nil
	}
	for _, g := range groups {
		m, p := g.AccountID, inv.Payer
		var why string
		e, err := enterpriseOf(m)
		if err != nil {
			return err
		}
		entName := "its enterprise"
		if e.id != "" {
			entName = "enterprise " + e.id
		}
		upgrade := fmt.Sprintf("%s upgraded on %s", entName, at(e.upgraded))
		if e.id == "" {
			upgrade = fmt.Sprintf("%s (not listed) counts as upgraded at the default %s", entName, at(e.upgraded))
		}
		switch g.Rule {
		case rules.SelfPayDiscount.Code:
			why = fmt.Sprintf("%s pays for itself, so it gets its own discount", m)
		case rules.CommunicationsDiscount.Code:
			why = fmt.Sprintf("%s's communications lines always get its own discount, whoever pays (seed 000: \"except for Alibaba Cloud Communications\"; seed 001 rule 2)", m)
		case rules.LegacyInheritance.Code:
			since, err := began(m, g.decidedBy)
			if err != nil {
				return err
			}
			why = fmt.Sprintf("%s's discount is %s's: the trusteeship began %s, before %s (seed 000: \"Existing managed member accounts that were set up before the upgrade to the new version will continue to share the management account's discounts\")",
				m, p, at(since), upgrade)
		case rules.EntityDiscounts.Code:
			why = fmt.Sprintf("%s's discount is %s's: %s has entity-level discounts from %s (seed 000: \"all accounts within the same enterprise, including new ones, will automatically share discounts\")",
				m, p, entName, at(e.entityAt))
		case rules.NewMemberOwnDiscount.Code:
			since, err := began(m, g.decidedBy)
			if err != nil {
				return err
			}
			entity := fmt.Sprintf("%s has no entity-level discounts", entName)
			if e.hasEntity {
				entity = fmt.Sprintf("%s's entity-level discounts start only %s", entName, at(e.entityAt))
			}
			why = fmt.Sprintf("%s uses its own discount: its trusteeship under %s began %s, not before %s, and %s (seed 000: \"new managed member accounts only use their own discount policies\")",
				m, p, at(since), upgrade, entity)
		default:
			why = fmt.Sprintf("%s's discount owner is %s", m, g.Owner)
		}
		if g.DiscountID != "" {
			why += fmt.Sprintf("; discount %s of %s, %s off", g.DiscountID, g.Owner, percent(g.Rate))
		} else {
			why += fmt.Sprintf("; %s has no discount valid for these lines", g.Owner)
		}
		g.Words = why
		inv.Discounts = append(inv.Discounts, g.InvoiceDiscount)
	}
	return nil
}

// percent renders an exact rate such as 0.150000000 as "15%".
func percent(rate string) string {
	a, err := billing.ParseAmount(rate)
	if err != nil {
		return rate
	}
	s := (a * 100).String() // a <= 1: no overflow
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}
