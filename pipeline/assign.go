package pipeline

import (
	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/rules"
)

// assignPending is pass C: give the lines that waited for the holds their
// payers, and add them to the bills. Duplicates among them are left out by
// pass D, like those decided while reading.
func (r *run) assignPending(sp *lineSpills, plan *rules.Plan) error {
	it, err := sp.pending.Merge()
	if err != nil {
		return err
	}
	defer it.Close()
	var line billing.UsageLine
	var key, payload []byte
	var n int
	for {
		_, p, ok := it.Next()
		if !ok {
			break
		}
		if err := r.tick(&n); err != nil {
			return err
		}
		if err := viewLine(p, &line); err != nil {
			return err
		}
		// A duplicate too: pass D leaves it out.
		if err := r.bill(sp, plan, &line, &key, &payload); err != nil {
			return err
		}
	}
	return it.Err()
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
