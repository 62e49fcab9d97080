package pipeline

import (
	"fmt"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/writers"
)

// judgePrepaid ends pass C for the lines a prepaid rule may reject
// (CONTRACT.md, "Charge types and prepaid resources"): an adjustment the
// rule rejected while reading, and the refunds that needed the member's
// purchases, which pass B collected. A duplicate among them was rejected as
// one by pass B; a rejected line goes to the rejects with its raw record;
// the rest get their payers and discounts, into the bills.
func (r *run) judgePrepaid(sp *lineSpills, plan *rules.Plan) error {
	var line billing.UsageLine
	var key, payload []byte
	return r.replay(sp.prepaid, func(_, p []byte) error {
		adjRejected, record, err := viewPrepaid(p, &line)
		if err != nil {
			return err
		}
		if r.dups.has(line.Seq) {
			r.total(line.Currency).rejected.Add(line.ListAmount)
			return nil
		}
		var rule *rules.Rule
		var why string
		switch {
		case adjRejected:
			rule = rules.AdjustmentInTrusteeship
			why = fmt.Sprintf("adjustment of subscription line %s: member %s is in the trusteeship of %s at its issued_at %s, and price adjustments are not supported for prepaid orders from a managed member account (seed 000, Additional notes)",
				line.LineID, line.AccountID, plan.RelationshipPayer(line.AccountID, line.IssuedAt), line.IssuedAt)
		case plan.RejectsRefund(&line, &r.purchases):
			rule = rules.RefundOfTransferredResource
			bought, _ := r.purchases.Latest(line.AccountID, line.ResourceID, line.IssuedAt)
			why = fmt.Sprintf("refund of resource %s of member %s: it was bought at %s while %s paid for the member, refunded at %s while %s does; a transferred resource has no financial value and carries no refund (seed 000, Additional notes; seed 001, rule 6)",
				line.ResourceID, line.AccountID, bought, plan.RelationshipPayer(line.AccountID, bought), line.IssuedAt, plan.RelationshipPayer(line.AccountID, line.IssuedAt))
		}
		if rule != nil {
			if r.closed != nil { // an invoiced line rejected now is withdrawn
				if err := r.closed.rejectedID(line.LineID, line.Cycle.String()); err != nil {
					return err
				}
			}
			r.counts.UsageRejected++
			r.total(line.Currency).rejected.Add(line.ListAmount)
			file, row := placeOf(line.Seq)
			x := writers.Reject{SourceFile: r.name(r.usageFiles[file]), SourceRow: row, Code: rule.Code, Reason: why, Record: record}
			return sp.rejects.Add(rejectKey(file, row), encodeReject(nil, &x))
		}
		return r.bill(sp, plan, &line, &key, &payload)
	})
}
