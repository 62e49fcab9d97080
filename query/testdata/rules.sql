-- The payer rules of CONTRACT.md ("Rules: who pays a line", "Changes that
-- are rejected"), written a second time as DuckDB SQL, from the contract and
-- the seeds, without looking at the Go code. The differential test
-- (differential_test.go) and the benchmark (fixtures/bench) run it after
-- an input script that makes two tables:
--   lines(line_id, account_id, product_code, billing_cycle, usage_start,
--         usage_end, payment_status, issued_at, settled_at, ...): accepted,
--         one per line_id;
--   changes_ok(seq, change_id, account_id, policy, mgmt, changed_at):
--         the well-formed changes, seq the read order;
-- and the macro cycle_of(t). Placeholder: {{timing}} ('end-time' or
-- 'next-period'). It makes the table expected(line_id, payer_account_id,
-- decided_by, held_by).

-- A row equal to an earlier one in every value is a copy: the first stands.
CREATE OR REPLACE TABLE changes_distinct AS
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY change_id, account_id, policy, mgmt, changed_at ORDER BY seq) AS rn
    FROM changes_ok
) WHERE rn = 1;

-- Two different changes with one change_id, or two changes of one member at
-- one instant: all of them are rejected.
CREATE OR REPLACE TABLE candidates AS
SELECT * FROM changes_distinct c
WHERE (SELECT count(*) FROM changes_distinct d WHERE d.change_id = c.change_id) = 1
  AND (SELECT count(*) FROM changes_distinct d WHERE d.account_id = c.account_id AND d.changed_at = c.changed_at) = 1;

-- The rest are judged in (changed_at, change_id) order against the
-- relationships the accepted ones before them set. Rather than walking the
-- changes one at a time, every change is judged at once against the state
-- the current verdicts give, and again while any verdict changes: a
-- change's verdict depends only on earlier verdicts, so the verdicts that
-- no longer change are the one-at-a-time walk's (the i-th is right after at
-- most i rounds; in practice a handful). The state before change i comes
-- from window functions over the accepted changes: a member's manager is
-- its latest accepted change's, and a manager's member count the running
-- sum of +1 (a member joins it) and -1 (one leaves). (DuckDB runs no ASOF
-- join inside a recursive CTE: the "latest before i" is a last_value over
-- the rows before, with each change's own lookups ordered first.)
CREATE OR REPLACE TABLE judge_order AS
SELECT row_number() OVER (ORDER BY changed_at, change_id) AS i, *,
       CASE WHEN policy = 'trusteeship' THEN mgmt END AS g
FROM candidates;

CREATE OR REPLACE TABLE judged AS
WITH RECURSIVE verdict(i, reason) USING KEY (i) AS (
    SELECT i, CASE WHEN policy <> 'none' AND mgmt = account_id THEN 'self' END FROM judge_order
    UNION (
        WITH ev AS (
            SELECT o.i, o.account_id AS m, o.g, lag(o.g) OVER (PARTITION BY o.account_id ORDER BY o.i) AS g_old
            FROM judge_order o JOIN recurring.verdict v USING (i) WHERE v.reason IS NULL
        ), counts AS (
            SELECT g, i, sum(d) OVER (PARTITION BY g ORDER BY i ROWS UNBOUNDED PRECEDING) AS n
            FROM (SELECT g, i, sum(d) AS d FROM (
                      SELECT g_old AS g, i, -1 AS d FROM ev WHERE g_old IS NOT NULL
                      UNION ALL SELECT g, i, 1 FROM ev WHERE g IS NOT NULL) GROUP BY ALL)
        ), state AS ( -- a member's manager just before each change: its latest accepted change's
            SELECT k, i, tag, last_value(s IGNORE NULLS) OVER (PARTITION BY k ORDER BY i, src ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS s
            FROM (SELECT m AS k, i, 1 AS src, NULL AS tag, {'g': g} AS s FROM ev
                  UNION ALL SELECT mgmt, i, 0, 'mg', NULL FROM judge_order WHERE policy = 'trusteeship'
                  UNION ALL SELECT account_id, i, 0, 'me', NULL FROM judge_order WHERE policy = 'trusteeship')
        ), members AS ( -- a manager's member count just before each change
            SELECT k, i, tag, last_value(n IGNORE NULLS) OVER (PARTITION BY k ORDER BY i, src ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS n
            FROM (SELECT g AS k, i, 1 AS src, NULL AS tag, n FROM counts
                  UNION ALL SELECT account_id, i, 0, 'cm', NULL FROM judge_order WHERE policy = 'trusteeship'
                  UNION ALL SELECT mgmt, i, 0, 'cg', NULL FROM judge_order WHERE policy = 'trusteeship')
        ), again AS (
            SELECT o.i, CASE
                WHEN o.policy = 'none' THEN NULL
                WHEN o.mgmt = o.account_id THEN 'self'
                WHEN mg.s.g IS NOT NULL THEN 'management_in_trusteeship'
                WHEN coalesce(cm.n, 0) > 0 THEN 'member_is_management'
                WHEN coalesce(cg.n, 0) - CASE WHEN me.s.g = o.mgmt THEN 1 ELSE 0 END + 1 > 300 THEN 'member_cap'
                END AS reason
            FROM judge_order o
            LEFT JOIN state mg ON mg.i = o.i AND mg.tag = 'mg'
            LEFT JOIN state me ON me.i = o.i AND me.tag = 'me'
            LEFT JOIN members cm ON cm.i = o.i AND cm.tag = 'cm'
            LEFT JOIN members cg ON cg.i = o.i AND cg.tag = 'cg'
        )
        SELECT a.i, a.reason FROM again a JOIN recurring.verdict v USING (i) WHERE a.reason IS DISTINCT FROM v.reason
    )
)
SELECT o.* EXCLUDE (g), v.reason FROM verdict v JOIN judge_order o USING (i);

CREATE OR REPLACE TABLE accepted AS
SELECT change_id, account_id, policy, changed_at,
       CASE WHEN policy = 'trusteeship' THEN mgmt ELSE account_id END AS payer,
       cycle_of(changed_at) AS change_cycle
FROM judged WHERE reason IS NULL;

-- The prepaid rules (CONTRACT.md, "Charge types and prepaid resources"),
-- by the relationships: the payer the accepted changes made at or before an
-- instant set for the member (the member itself before any, or after none).
-- An adjustment of a subscription in trusteeship at its issued_at is
-- rejected (seed 000, Additional notes); so is a refund of a resource whose
-- latest purchase issued strictly before it was made under another payer
-- (seed 000, Additional notes; seed 001 rule 6). Duplicates were removed
-- first; a rejected line leaves the lines and so holds nothing.
CREATE OR REPLACE TABLE prepaid_rejected AS
WITH rel AS (
    SELECT l.line_id, l.account_id, l.charge_type, l.subscription_type, l.resource_id, l.issued_at,
           coalesce((SELECT arg_max(k.payer, (k.changed_at, k.change_id)) FROM accepted k
                     WHERE k.account_id = l.account_id AND k.changed_at <= l.issued_at), l.account_id) AS payer_now
    FROM lines l WHERE l.charge_type IN ('adjustment', 'refund')
), bought AS (
    SELECT r.line_id, max(p.issued_at) AS bought_at
    FROM rel r JOIN lines p ON p.account_id = r.account_id AND p.charge_type = 'purchase'
     AND p.resource_id = r.resource_id AND p.issued_at < r.issued_at
    WHERE r.charge_type = 'refund'
    GROUP BY r.line_id
)
SELECT line_id, 'adjustment_in_trusteeship' AS reason FROM rel
WHERE charge_type = 'adjustment' AND subscription_type = 'subscription' AND payer_now <> account_id
UNION ALL
SELECT r.line_id, 'refund_of_transferred_resource' FROM rel r JOIN bought b USING (line_id)
WHERE coalesce((SELECT arg_max(k.payer, (k.changed_at, k.change_id)) FROM accepted k
                WHERE k.account_id = r.account_id AND k.changed_at <= b.bought_at), r.account_id) <> r.payer_now;

DELETE FROM lines WHERE line_id IN (SELECT line_id FROM prepaid_rejected);

-- The products each accepted change is held back for: an accepted line of
-- the member and product, in the change's cycle, issued before the change
-- and unsettled at it (seed 000 Scenario 1; seed 001 rule 5.1).
CREATE OR REPLACE TABLE holds AS
SELECT DISTINCT k.change_id, u.product_code
FROM accepted k
JOIN lines u ON u.account_id = k.account_id AND u.billing_cycle = k.change_cycle
WHERE u.issued_at < k.changed_at
  AND (u.payment_status = 'unsettled' OR (u.settled_at IS NOT NULL AND u.settled_at > k.changed_at));

-- For each line and each accepted change of its member: is the change held
-- back for the line's product, and does the line fall after it?
CREATE OR REPLACE TABLE pairs AS
SELECT l.line_id, k.change_id, k.changed_at, k.payer,
       h.change_id IS NOT NULL AS held,
       CASE WHEN {{timing}} = 'end-time' THEN l.usage_end >= k.changed_at
            ELSE l.usage_start > k.changed_at END AS at_time,
       l.billing_cycle > k.change_cycle AS next_cycle
FROM lines l
JOIN accepted k ON k.account_id = l.account_id
LEFT JOIN holds h ON h.change_id = k.change_id AND h.product_code = l.product_code;

CREATE OR REPLACE TABLE expected AS
WITH falls AS (
    SELECT *, CASE WHEN held THEN next_cycle ELSE at_time END AS after FROM pairs
),
decided AS (
    SELECT line_id, arg_max(change_id, (changed_at, change_id)) AS decided_by,
           arg_max(payer, (changed_at, change_id)) AS payer,
           max((changed_at, change_id)) AS decided_key
    FROM falls WHERE after GROUP BY line_id
),
held AS (
    SELECT f.line_id, arg_max(f.change_id, (f.changed_at, f.change_id)) AS held_by
    FROM falls f LEFT JOIN decided d USING (line_id)
    WHERE f.held AND f.at_time AND NOT f.after
      AND (d.decided_key IS NULL OR (f.changed_at, f.change_id) > d.decided_key)
    GROUP BY f.line_id
)
SELECT l.line_id, coalesce(d.payer, l.account_id) AS payer_account_id, d.decided_by, h.held_by
FROM lines l LEFT JOIN decided d USING (line_id) LEFT JOIN held h USING (line_id);
