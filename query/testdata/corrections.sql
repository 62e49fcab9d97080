-- CONTRACT.md, "Nightly runs over months": Corrections, read on their own
-- for the differential test (TestDifferentialCorrections). Runs after the
-- rules and settlement scripts on tonight's inputs. ledger holds what the
-- closed cycles invoiced, as this SQL computed it in earlier rounds (never
-- read from billcons' files): one row per closed bills row, with
--   row_cycle       the cycle whose bills hold the row
--   corrects_cycle  the cycle the line belongs to
--   ord             0 the line's own row, 1 a − correction row, 2 a + row
--   reason          null for an own row
-- {{last}} is the last closed cycle, {{open}} the first open one,
-- {{restate}} the restated cycles (a list).

-- A line's state in each cycle it was billed in (corrects_cycle): its
-- latest row there, unless that is a − row (a withdrawal). Its net invoiced
-- state is the standing state of the latest such cycle (a line billed in
-- two was moved, and withdrawn from the first).
CREATE OR REPLACE TABLE net_live AS
SELECT * FROM (
    SELECT * FROM ledger
    QUALIFY row_number() OVER (PARTITION BY line_id, corrects_cycle ORDER BY row_cycle DESC, ord DESC) = 1
) WHERE ord <> 1
QUALIFY row_number() OVER (PARTITION BY line_id ORDER BY corrects_cycle DESC) = 1;

-- Tonight's recomputation of the closed cycles' lines.
CREATE OR REPLACE TABLE now_closed AS
SELECT line_id, billing_cycle, payer, account_id, product_code, currency, list_amount, discount_amount
FROM expected_discounts WHERE billing_cycle <= {{last}};

-- Ids the inputs hold but reject: no valid row has them, or a prepaid
-- rule rejected the line.
CREATE OR REPLACE TABLE rejected_ids AS
SELECT DISTINCT trim(line_id) AS line_id FROM usage_parsed
WHERE trim(line_id) NOT IN (SELECT line_id FROM lines) AND coalesce(trim(line_id), '') <> ''
UNION
SELECT line_id FROM prepaid_rejected;

-- One reason per line, the first that applies. A line billed now in an
-- open cycle (its billing_cycle changed) is withdrawn from the closed one.
CREATE OR REPLACE TABLE differences AS
SELECT coalesce(n.line_id, w.line_id) AS line_id,
       n.payer AS n_payer, n.account_id AS n_account, n.product_code AS n_product, n.currency AS n_currency,
       n.list_amount AS n_list, n.discount_amount AS n_discount, n.corrects_cycle AS n_cycle,
       w.payer AS w_payer, w.account_id AS w_account, w.product_code AS w_product, w.currency AS w_currency,
       w.list_amount AS w_list, w.discount_amount AS w_discount, w.billing_cycle AS w_cycle,
       CASE
           WHEN w.line_id IS NULL AND (n.line_id IN (SELECT line_id FROM rejected_ids) OR list_contains({{restate}}, n.corrects_cycle)
                                       OR n.line_id IN (SELECT line_id FROM expected_discounts WHERE billing_cycle > {{last}}))
               THEN 'line_withdrawn'
           WHEN w.line_id IS NULL THEN NULL -- carried as invoiced
           WHEN n.line_id IS NULL THEN 'late_line'
           WHEN n.payer <> w.payer THEN 'payer_changed'
           WHEN n.list_amount <> w.list_amount OR n.currency <> w.currency THEN 'amount_changed'
           WHEN n.discount_amount <> w.discount_amount THEN 'discount_changed'
       END AS reason
FROM net_live n FULL JOIN now_closed w ON n.line_id = w.line_id;

-- The correction rows of the first open cycle: − the net invoiced state to
-- its payer, + the recomputation to the payer now.
CREATE OR REPLACE TABLE expected_corrections AS
SELECT line_id, n_payer AS payer, n_account AS account_id, n_product AS product_code, n_currency AS currency,
       -n_list AS list_amount, -n_discount AS discount_amount, n_cycle AS corrects_cycle, reason, 1 AS ord
FROM differences WHERE reason IN ('line_withdrawn', 'payer_changed', 'amount_changed', 'discount_changed')
UNION ALL
SELECT line_id, w_payer, w_account, w_product, w_currency, w_list, w_discount, w_cycle, reason, 2
FROM differences WHERE reason IN ('late_line', 'payer_changed', 'amount_changed', 'discount_changed');

-- What the closed cycles' credits paid stays as it was invoiced: the
-- applications of the cycles closed first, as this SQL settled them then.
CREATE OR REPLACE TABLE expected_closed_applied AS
SELECT * FROM applied_ledger;
