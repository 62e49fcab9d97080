-- CONTRACT.md, Corrections: a line a closed cycle invoiced keeps the
-- payment status and settled_at it was invoiced with (its net invoiced
-- state's, in ledger): a payment alone corrects nothing. Runs between
-- csv_inputs.sql and rules.sql once cycles up to {{last}} are closed.
CREATE OR REPLACE TEMP TABLE invoiced_status AS
SELECT * FROM (
    SELECT * FROM ledger
    QUALIFY row_number() OVER (PARTITION BY line_id, corrects_cycle ORDER BY row_cycle DESC, ord DESC) = 1
) WHERE ord <> 1
QUALIFY row_number() OVER (PARTITION BY line_id ORDER BY corrects_cycle DESC) = 1;

UPDATE lines SET payment_status = s.payment_status, settled_at = s.settled_at
FROM invoiced_status s
WHERE lines.line_id = s.line_id AND lines.billing_cycle <= {{last}};
