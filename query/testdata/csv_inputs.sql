-- The inputs of the differential test, read as a careful analyst would
-- read untrusted CSV: every value as text, checked as CONTRACT.md ("Values",
-- "Lines that are rejected") says, the first of each line_id kept. Makes the
-- tables lines and changes_ok that rules.sql starts from.
--
-- Placeholders: {{usage}} and {{changes}} (CSV files with a gen_seq column
-- giving the read order), {{tz}} (an IANA zone).

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
       lower(subscription_type) AS subscription_type, list_amount AS amount_raw,
       lower(coalesce(nullif(charge_type, ''), 'usage')) AS charge_type, nullif(resource_id, '') AS resource_id
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
      AND charge_type IN ('usage', 'purchase', 'refund', 'adjustment')
      AND (resource_id IS NULL OR length(resource_id) <= 256)
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

