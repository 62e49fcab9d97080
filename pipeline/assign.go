package pipeline

import (
	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/rules"
)

// assignPending is pass C: give the lines that waited for the holds their
// payers, and add them to the bills. Duplicates among them are left out by
// pass D, like those decided while reading.
func (r *run) assignPending(sp *lineSpills, plan *rules.Plan) error {
	var line billing.UsageLine
	var key, payload []byte
	return r.replay(sp.pending, func(_, p []byte) error {
		if err := viewLine(p, &line); err != nil {
			return err
		}
		return r.bill(sp, plan, &line, &key, &payload) // a duplicate too: pass D leaves it out
	})
}

// bill gives an accepted line its payer and discount, after every line was
// observed, and adds it to the bills' runs; key and payload are scratch.
func (r *run) bill(sp *lineSpills, plan *rules.Plan, line *billing.UsageLine, key, payload *[]byte) error {
	d := plan.Assign(line)
	*key = billKey((*key)[:0], line, d.Payer)
	ld := r.discounts.Apply(line, d)
	*payload = encodeBill((*payload)[:0], line, &d, &ld)
	return sp.bills.Add(*key, *payload)
}
