-- Settlement (CONTRACT.md, "Settlement: what each payer pays") written a
-- second time as DuckDB SQL, from the contract, after rules.sql: whose
-- discount each line gets and how much, which credits pay which statement
-- rows in what order, and the alerts. Starts from lines, accepted and
-- expected (rules.sql) and the tables of settlement_inputs.sql.
-- Placeholder: {{tz}}. Makes expected_discounts, expected_applied and
-- expected_alerts.

-- When each accepted change's trusteeship began: the first change of the
-- unbroken run of trusteeship changes naming the same payer.
CREATE OR REPLACE TABLE began AS
WITH a AS (
    SELECT *, lag(policy) OVER w AS prev_policy, lag(payer) OVER w AS prev_payer
    FROM accepted WINDOW w AS (PARTITION BY account_id ORDER BY changed_at, change_id)
), b AS (
    SELECT *, sum(CASE WHEN policy = 'trusteeship' AND prev_policy = 'trusteeship' AND prev_payer = payer THEN 0 ELSE 1 END)
              OVER (PARTITION BY account_id ORDER BY changed_at, change_id) AS run
    FROM a
)
SELECT change_id, min(changed_at) OVER (PARTITION BY account_id, run) AS since FROM b;

-- The discount owner, by the first of the five rules that applies.
CREATE OR REPLACE TABLE line_owner AS
SELECT l.line_id, l.account_id, l.product_code, l.billing_cycle, l.currency, l.usage_start, l.list_amount,
       e.payer_account_id AS payer,
       CASE WHEN e.payer_account_id = l.account_id THEN l.account_id
            WHEN lower(l.product_code) = 'alicom' THEN l.account_id
            WHEN b.since < coalesce(en.upgraded_at, TIMESTAMPTZ '2022-08-01 12:00:00+08:00') THEN e.payer_account_id
            WHEN en.entity_from <= l.usage_start THEN e.payer_account_id
            ELSE l.account_id END AS owner
FROM lines l JOIN expected e USING (line_id)
LEFT JOIN began b ON b.change_id = e.decided_by
LEFT JOIN accounts_ok a ON a.account_id = l.account_id
LEFT JOIN enterprises_ok en ON en.enterprise_id = a.enterprise_id;

-- The owner's discount valid at usage_start, the product's before "*";
-- list x rate in units of 10^-18, rounded to 10^-9 halves away from zero.
CREATE OR REPLACE TABLE expected_discounts AS
WITH pick AS (
    SELECT o.*, d.discount_id, d.rate
    FROM line_owner o LEFT JOIN discounts_ok d
      ON d.account_id = o.owner AND d.product_code IN (o.product_code, '*')
     AND d.valid_from <= o.usage_start AND o.usage_start < coalesce(d.valid_to, 'infinity'::TIMESTAMPTZ)
    QUALIFY row_number() OVER (PARTITION BY o.line_id ORDER BY d.product_code = '*') = 1
), units AS (
    SELECT *, (list_amount::DECIMAL(38,9) * 1000000000)::HUGEINT * (coalesce(rate, 0)::DECIMAL(38,9) * 1000000000)::HUGEINT AS p FROM pick
)
SELECT line_id, account_id, product_code, billing_cycle, currency, payer, owner AS discount_owner, discount_id, list_amount,
       (sign(p) * ((abs(p) + 500000000) // 1000000000))::DECIMAL(18,0) * 0.000000001::DECIMAL(10,9) AS discount_amount
FROM units;

-- Statement rows, in settlement order.
CREATE OR REPLACE TABLE statement AS
SELECT row_number() OVER (ORDER BY billing_cycle, payer, account_id, product_code, currency) AS r,
       billing_cycle, payer, account_id, product_code, currency,
       sum(list_amount - discount_amount) AS effective,
       timezone({{tz}}, (billing_cycle || '-01')::TIMESTAMP) AS period_start,
       timezone({{tz}}, (billing_cycle || '-01')::TIMESTAMP + INTERVAL 1 MONTH) AS period_end
FROM expected_discounts GROUP BY billing_cycle, payer, account_id, product_code, currency;

CREATE OR REPLACE TABLE credit_idx AS SELECT row_number() OVER (ORDER BY credit_id) AS c, * FROM credits_ok;

-- Every (row, credit) that may pay it, in taking order.
CREATE OR REPLACE TABLE takes AS
SELECT row_number() OVER (ORDER BY s.r, k.kind_order, coalesce(k.valid_to, 'infinity'::TIMESTAMPTZ), k.credit_id) AS p,
       s.r, k.c, s.effective
FROM statement s JOIN credit_idx k
  ON k.currency = s.currency AND (k.product_code IS NULL OR k.product_code = s.product_code)
 AND k.valid_from < s.period_end AND (k.valid_to IS NULL OR k.valid_to > s.period_start)
 AND ((s.payer = s.account_id AND k.owner = s.account_id)
   OR (s.payer <> s.account_id AND k.owner = s.payer AND NOT (k.kind = 'coupon' AND lower(s.product_code) = 'alicom')
       AND (k.shared IS NULL OR list_contains(k.shared, s.account_id)))
   OR (s.payer <> s.account_id AND k.owner = s.account_id AND k.kind = 'coupon' AND lower(s.product_code) = 'alicom'))
WHERE s.effective > 0;

-- Walk the takes in order, carrying every credit's remaining balance and
-- what the current row still owes.
CREATE OR REPLACE TABLE walked AS
WITH RECURSIVE walk(p, r, c, applied, owed, rem) AS (
    SELECT 0::BIGINT, 0::BIGINT, 0::BIGINT, 0::DECIMAL(38,9), 0::DECIMAL(38,9),
           coalesce((SELECT list(amount::DECIMAL(38,9) ORDER BY c) FROM credit_idx), [])
    UNION ALL
    SELECT t.p, t.r, t.c, x.take, x.owed_before - x.take,
           list_concat(w.rem[1:t.c - 1], [w.rem[t.c] - x.take], w.rem[t.c + 1:])
    FROM walk w JOIN takes t ON t.p = w.p + 1
    CROSS JOIN LATERAL (SELECT CASE WHEN t.r <> w.r THEN t.effective::DECIMAL(38,9) ELSE w.owed END AS owed_before) o
    CROSS JOIN LATERAL (SELECT o.owed_before, least(w.rem[t.c], o.owed_before) AS take) x
)
SELECT * FROM walk WHERE p > 0 AND applied > 0;

CREATE OR REPLACE TABLE expected_applied AS
SELECT row_number() OVER (ORDER BY w.p) AS n, s.billing_cycle, s.payer AS payer_account_id, s.account_id, s.product_code,
       s.currency, k.credit_id, k.kind, k.owner AS owner_account_id, w.applied::DECIMAL(18,9) AS amount
FROM walked w JOIN statement s USING (r) JOIN credit_idx k USING (c);

-- Alerts.
CREATE OR REPLACE TABLE due AS
SELECT s.billing_cycle, s.payer, s.currency, sum(s.effective) - coalesce(sum(a.applied), 0) AS due
FROM statement s LEFT JOIN (SELECT r, sum(applied) AS applied FROM walked GROUP BY r) a USING (r)
GROUP BY ALL;

CREATE OR REPLACE TABLE cycles AS SELECT DISTINCT billing_cycle FROM expected_discounts;

CREATE OR REPLACE TABLE members_paid AS
SELECT billing_cycle, payer, count(DISTINCT account_id) FILTER (WHERE account_id <> payer) AS members
FROM expected_discounts GROUP BY ALL;

CREATE OR REPLACE TABLE expected_alerts AS
SELECT 'spending' AS kind, c.billing_cycle, b.account_id AS payer_account_id, b.currency,
       coalesce(d.due, 0) AS amount_due, b.spending_alert AS "limit", coalesce(m.members, 0) AS members
FROM balances_ok b CROSS JOIN cycles c
LEFT JOIN due d ON d.billing_cycle = c.billing_cycle AND d.payer = b.account_id AND d.currency = b.currency
LEFT JOIN members_paid m ON m.billing_cycle = c.billing_cycle AND m.payer = b.account_id
WHERE b.spending_alert IS NOT NULL AND coalesce(d.due, 0) > b.spending_alert
UNION ALL
SELECT 'low_credit', c.billing_cycle, b.account_id, b.currency, coalesce(d.due, 0), b.available, coalesce(m.members, 0)
FROM balances_ok b CROSS JOIN (SELECT max(billing_cycle) AS billing_cycle FROM cycles HAVING count(*) > 0) c
LEFT JOIN due d ON d.billing_cycle = c.billing_cycle AND d.payer = b.account_id AND d.currency = b.currency
LEFT JOIN members_paid m ON m.billing_cycle = c.billing_cycle AND m.payer = b.account_id
WHERE coalesce((SELECT arg_max(policy, (changed_at, change_id)) FROM accepted k WHERE k.account_id = b.account_id), 'none') <> 'trusteeship'
  AND coalesce(d.due, 0) > b.available;
