-- The settlement inputs of the differential test, read as csv_inputs.sql
-- reads the others: every value as text, checked as CONTRACT.md
-- ("Settlement: what each payer pays") says; copies set aside, then
-- ambiguous rows rejected. Makes the tables accounts_ok, enterprises_ok,
-- discounts_ok, credits_ok and balances_ok that settlement.sql starts from.
--
-- Placeholders: {{accounts}}, {{enterprises}}, {{discounts}}, {{credits}},
-- {{balances}} (CSV files; every file exists, a header alone when the run
-- was not given that input).

CREATE OR REPLACE MACRO amount_ok(x) AS
    x IS NOT NULL AND regexp_full_match(x, '[+-]?(\d+\.?\d*|\.\d+)') AND TRY_CAST(x AS DECIMAL(18,9)) IS NOT NULL;
CREATE OR REPLACE MACRO opt_ts_ok(x) AS x IS NULL OR x = '' OR ts(x) IS NOT NULL;

-- Accounts: an account listed with two enterprises is rejected; copies are
-- dropped (the differential lists every account once).
CREATE OR REPLACE TABLE accounts_ok AS
SELECT account_id, any_value(enterprise_id) AS enterprise_id
FROM read_csv({{accounts}}, header = true, all_varchar = true)
WHERE is_id(account_id) AND is_id(enterprise_id)
GROUP BY account_id HAVING count(DISTINCT enterprise_id) = 1;

-- Enterprises: empty upgraded_at is the default release time.
CREATE OR REPLACE TABLE enterprises_ok AS
WITH parsed AS (
    SELECT enterprise_id,
           coalesce(ts(nullif(upgraded_at, '')), TIMESTAMPTZ '2022-08-01 12:00:00+08:00') AS upgraded_at,
           ts(nullif(entity_discounts_from, '')) AS entity_from
    FROM read_csv({{enterprises}}, header = true, all_varchar = true)
    WHERE is_id(enterprise_id) AND opt_ts_ok(upgraded_at) AND opt_ts_ok(entity_discounts_from)
), distinct_rows AS (SELECT DISTINCT * FROM parsed)
SELECT * FROM distinct_rows
QUALIFY count(*) OVER (PARTITION BY enterprise_id) = 1;

-- Discounts.
CREATE OR REPLACE TABLE discounts_ok AS
WITH parsed AS (
    SELECT discount_id, account_id, product_code, rate::DECIMAL(18,9) AS rate,
           ts(valid_from) AS valid_from, ts(nullif(valid_to, '')) AS valid_to
    FROM read_csv({{discounts}}, header = true, all_varchar = true)
    WHERE is_id(discount_id) AND is_id(account_id) AND (product_code = '*' OR is_id(product_code))
      AND amount_ok(rate) AND rate::DECIMAL(18,9) BETWEEN 0 AND 1
      AND ts(valid_from) IS NOT NULL AND opt_ts_ok(valid_to)
      AND (nullif(valid_to, '') IS NULL OR ts(valid_to) > ts(valid_from))
), d AS (SELECT DISTINCT * FROM parsed)
SELECT * FROM d x
WHERE (SELECT count(*) FROM d y WHERE y.discount_id = x.discount_id) = 1
  AND NOT EXISTS (SELECT 1 FROM d y WHERE y.account_id = x.account_id AND y.product_code = x.product_code
                  AND y.discount_id <> x.discount_id
                  AND y.valid_from < coalesce(x.valid_to, 'infinity'::TIMESTAMPTZ)
                  AND x.valid_from < coalesce(y.valid_to, 'infinity'::TIMESTAMPTZ));

-- Credits: shared_with as a sorted list (a set), null for everyone.
CREATE OR REPLACE TABLE credits_ok AS
WITH parsed AS (
    SELECT credit_id, owner_account_id AS owner, lower(kind) AS kind, currency, amount::DECIMAL(18,9) AS amount,
           ts(valid_from) AS valid_from, ts(nullif(valid_to, '')) AS valid_to,
           CASE WHEN coalesce(product_code, '') IN ('', '*') THEN NULL ELSE product_code END AS product_code,
           CASE WHEN coalesce(shared_with, '') = '' THEN NULL ELSE list_sort(list_distinct(string_split(shared_with, ';'))) END AS shared
    FROM read_csv({{credits}}, header = true, all_varchar = true)
    WHERE is_id(credit_id) AND is_id(owner_account_id) AND lower(kind) IN ('coupon', 'voucher', 'stored_value_card')
      AND regexp_full_match(currency, '[A-Z]{3}') AND amount_ok(amount) AND amount::DECIMAL(18,9) > 0
      AND ts(valid_from) IS NOT NULL AND opt_ts_ok(valid_to)
      AND (nullif(valid_to, '') IS NULL OR ts(valid_to) > ts(valid_from))
      AND (coalesce(product_code, '') IN ('', '*') OR is_id(product_code))
      AND (coalesce(shared_with, '') = '' OR list_bool_and(list_transform(string_split(shared_with, ';'), x -> is_id(x))))
), d AS (SELECT DISTINCT * FROM parsed)
SELECT *, CASE kind WHEN 'coupon' THEN 1 WHEN 'voucher' THEN 2 ELSE 3 END AS kind_order FROM d
QUALIFY count(*) OVER (PARTITION BY credit_id) = 1;

-- Balances.
CREATE OR REPLACE TABLE balances_ok AS
WITH parsed AS (
    SELECT account_id, currency, available_credit::DECIMAL(18,9) AS available,
           nullif(spending_alert, '')::DECIMAL(18,9) AS spending_alert
    FROM read_csv({{balances}}, header = true, all_varchar = true)
    WHERE is_id(account_id) AND regexp_full_match(currency, '[A-Z]{3}') AND amount_ok(available_credit)
      AND (coalesce(spending_alert, '') = '' OR (amount_ok(spending_alert) AND spending_alert::DECIMAL(18,9) >= 0))
), d AS (SELECT DISTINCT * FROM parsed)
SELECT * FROM d QUALIFY count(*) OVER (PARTITION BY account_id, currency) = 1;
