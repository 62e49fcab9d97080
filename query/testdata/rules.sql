-- The payer rules of CONTRACT.md ("Rules: who pays a line", "Changes that
-- are rejected", "Lines that are rejected"), written a second time as DuckDB
-- SQL, from the contract and the seeds, without looking at the Go code. The
-- differential test (differential_test.go) runs it on the same inputs as
-- billcons and compares every line's payer_account_id, decided_by, held_by.
--
-- Placeholders, replaced by the test: {{usage}} and {{changes}} (CSV files
-- with a gen_seq column giving the read order), {{tz}} (an IANA zone),
-- {{timing}} ('end-time' or 'next-period').

CREATE OR REPLACE MACRO is_id(x) AS
    x IS NOT NULL AND regexp_full_match(x, '[A-Za-z0-9._-]{1,64}') AND x NOT IN ('.', '..');
-- RFC 3339 with an offset (Z or +hh:mm), the T or a space between.
CREATE OR REPLACE MACRO ts(x) AS CASE
    WHEN regexp_full_match(x, '\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d{1,6})?([Zz]|[+-]\d\d:\d\d)')
    THEN TRY_CAST(x AS TIMESTAMPTZ) END;
CREATE OR REPLACE MACRO cycle_of(t) AS strftime(timezone({{tz}}, t), '%Y-%m');

-- Usage: parse, reject the malformed, keep the first of each line_id.
CREATE OR REPLACE TABLE usage_raw AS
SELECT * FROM read_csv({{usage}}, header = true, all_varchar = true, quote = '"', escape = '"');

CREATE OR REPLACE TABLE usage_parsed AS
SELECT gen_seq::BIGINT AS seq, line_id, account_id, product_code, billing_cycle,
       ts(usage_start) AS usage_start, ts(usage_end) AS usage_end,
       TRY_CAST(list_amount AS DECIMAL(18,9)) AS list_amount, currency,
       lower(payment_status) AS payment_status, ts(issued_at) AS issued_at,
       nullif(settled_at, '') AS settled_raw, ts(settled_at) AS settled_at,
       lower(subscription_type) AS subscription_type, list_amount AS amount_raw
FROM usage_raw;

CREATE OR REPLACE TABLE lines AS
WITH valid AS (
    SELECT * FROM usage_parsed
    WHERE is_id(line_id) AND is_id(account_id) AND is_id(product_code)
      AND regexp_full_match(billing_cycle, '\d{4}-(0[1-9]|1[0-2])')
      AND subscription_type IN ('subscription', 'payasyougo', 'payg')
      AND usage_start IS NOT NULL AND usage_end IS NOT NULL AND issued_at IS NOT NULL
      AND regexp_full_match(amount_raw, '[+-]?(\d+\.?\d*|\.\d+)') AND list_amount IS NOT NULL
      AND regexp_full_match(currency, '[A-Z]{3}')
      AND payment_status IN ('settled', 'unsettled')
      AND (settled_raw IS NULL OR settled_at IS NOT NULL)
      AND usage_end >= usage_start
)
SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY line_id ORDER BY seq) AS rn FROM valid
) WHERE rn = 1;

-- Changes: parse; drop the malformed; then copies, then ambiguous histories.
CREATE OR REPLACE TABLE changes_raw AS
SELECT * FROM read_csv({{changes}}, header = true, all_varchar = true, quote = '"', escape = '"');

CREATE OR REPLACE TABLE changes_ok AS
SELECT gen_seq::BIGINT AS seq, change_id, account_id, lower(policy) AS policy,
       CASE WHEN lower(policy) = 'trusteeship' THEN management_account_id END AS mgmt,
       ts(changed_at) AS changed_at
FROM changes_raw
WHERE is_id(change_id) AND is_id(account_id) AND lower(policy) IN ('trusteeship', 'none')
  AND ts(changed_at) IS NOT NULL
  AND (lower(policy) = 'none' OR is_id(management_account_id));

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

-- The rest are judged one at a time in (changed_at, change_id) order against
-- the relationships the accepted ones set: state is the list of (member,
-- manager) pairs in force.
CREATE OR REPLACE TABLE judged AS
WITH RECURSIVE ordered AS (
    SELECT row_number() OVER (ORDER BY changed_at, change_id) AS i, * FROM candidates
),
judge(i, state, reason) AS (
    SELECT 0::BIGINT, []::STRUCT(m VARCHAR, g VARCHAR)[], NULL::VARCHAR
    UNION ALL
    SELECT o.i,
        CASE WHEN r.reason IS NOT NULL THEN j.state
             WHEN o.policy = 'none' THEN list_filter(j.state, e -> e.m <> o.account_id)
             ELSE list_append(list_filter(j.state, e -> e.m <> o.account_id), {'m': o.account_id, 'g': o.mgmt})
        END,
        r.reason
    FROM judge j
    JOIN ordered o ON o.i = j.i + 1
    CROSS JOIN LATERAL (SELECT CASE
        WHEN o.policy = 'none' THEN NULL
        WHEN o.mgmt = o.account_id THEN 'self'
        WHEN len(list_filter(j.state, e -> e.m = o.mgmt)) > 0 THEN 'management_in_trusteeship'
        WHEN len(list_filter(j.state, e -> e.g = o.account_id)) > 0 THEN 'member_is_management'
        WHEN len(list_filter(j.state, e -> e.g = o.mgmt AND e.m <> o.account_id)) + 1 > 300 THEN 'member_cap'
        END AS reason) r
)
SELECT o.*, j.reason FROM judge j JOIN ordered o USING (i);

CREATE OR REPLACE TABLE accepted AS
SELECT change_id, account_id, policy, changed_at,
       CASE WHEN policy = 'trusteeship' THEN mgmt ELSE account_id END AS payer,
       cycle_of(changed_at) AS change_cycle
FROM judged WHERE reason IS NULL;

-- For each line and each accepted change of its member: is the change held
-- back for the line's product by an unsettled bill, and does the line fall
-- after it?
CREATE OR REPLACE TABLE pairs AS
SELECT l.line_id, k.change_id, k.changed_at, k.payer,
       h.held,
       CASE WHEN {{timing}} = 'end-time' THEN l.usage_end >= k.changed_at
            ELSE l.usage_start > k.changed_at END AS at_time,
       l.billing_cycle > k.change_cycle AS next_cycle
FROM lines l
JOIN accepted k ON k.account_id = l.account_id
CROSS JOIN LATERAL (SELECT EXISTS (
    SELECT 1 FROM lines u
    WHERE u.account_id = k.account_id AND u.product_code = l.product_code
      AND u.billing_cycle = k.change_cycle AND u.issued_at < k.changed_at
      AND (u.payment_status = 'unsettled' OR (u.settled_at IS NOT NULL AND u.settled_at > k.changed_at))
) AS held) h;

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
