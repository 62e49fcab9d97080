package writers

import (
	"fmt"
	"slices"
	"strings"

	"github.com/billcons/billcons/billing"
)

// FocusColumns are the FOCUS 1.2 columns the focus view provides, with their
// DuckDB types and whether FOCUS lets them be null. The first 21 are the
// columns FOCUS 1.2 marks Mandatory; the Conditional and Recommended
// columns billcons' data supports follow; then custom columns, prefixed x_
// as FOCUS requires. docs/output.md says where each value comes from.
var FocusColumns = []struct {
	Name, Type string
	Nullable   bool
	Mandatory  bool
}{
	{"BilledCost", "DECIMAL(18,9)", false, true},
	{"BillingAccountId", "VARCHAR", false, true},
	{"BillingAccountName", "VARCHAR", true, true},
	{"BillingCurrency", "VARCHAR", false, true},
	{"BillingPeriodEnd", "TIMESTAMP WITH TIME ZONE", false, true},
	{"BillingPeriodStart", "TIMESTAMP WITH TIME ZONE", false, true},
	{"ChargeCategory", "VARCHAR", false, true},
	{"ChargeClass", "VARCHAR", true, true},
	{"ChargeDescription", "VARCHAR", true, true},
	{"ChargePeriodEnd", "TIMESTAMP WITH TIME ZONE", false, true},
	{"ChargePeriodStart", "TIMESTAMP WITH TIME ZONE", false, true},
	{"ContractedCost", "DECIMAL(18,9)", false, true},
	{"EffectiveCost", "DECIMAL(18,9)", false, true},
	{"InvoiceIssuerName", "VARCHAR", false, true},
	{"ListCost", "DECIMAL(18,9)", false, true},
	{"PricingQuantity", "DECIMAL(38,9)", true, true},
	{"PricingUnit", "VARCHAR", true, true},
	{"ProviderName", "VARCHAR", false, true},
	{"PublisherName", "VARCHAR", false, true},
	{"ServiceCategory", "VARCHAR", false, true},
	{"ServiceName", "VARCHAR", false, true},
	{"ChargeFrequency", "VARCHAR", false, false},         // Recommended
	{"CommitmentDiscountStatus", "VARCHAR", true, false}, // always null: no commitment discounts
	{"ConsumedQuantity", "DECIMAL(38,9)", true, false},
	{"ConsumedUnit", "VARCHAR", true, false},
	{"InvoiceId", "VARCHAR", false, false}, // provisional for open cycles: x_InvoiceStatus
	{"RegionId", "VARCHAR", true, false},
	{"RegionName", "VARCHAR", true, false},
	{"ResourceId", "VARCHAR", true, false},
	{"ResourceName", "VARCHAR", true, false},
	{"ResourceType", "VARCHAR", true, false},
	{"ServiceSubcategory", "VARCHAR", false, false},
	{"SubAccountId", "VARCHAR", false, false},
	{"SubAccountName", "VARCHAR", true, false},
	{"Tags", "JSON", true, false},
	{"x_LineId", "VARCHAR", true, false}, // null on Credit rows
	{"x_BillingCycle", "VARCHAR", false, false},
	{"x_InvoiceStatus", "VARCHAR", false, false},
	{"x_ResourceName", "VARCHAR", true, false}, // resource_name as given, ASCII or not
	{"x_EffectiveAmount", "DECIMAL(18,9)", false, false},
	{"x_SubscriptionType", "VARCHAR", true, false}, // null on Credit rows
	{"x_PaymentStatus", "VARCHAR", true, false},    // null on Credit rows
	{"x_DecidedBy", "VARCHAR", true, false},
	{"x_HeldBy", "VARCHAR", true, false},
	{"x_DiscountOwner", "VARCHAR", true, false},
	{"x_DiscountRule", "VARCHAR", true, false},
	{"x_DiscountId", "VARCHAR", true, false},
	{"x_CreditId", "VARCHAR", true, false},
	{"x_CreditKind", "VARCHAR", true, false},
	{"x_CreditOwner", "VARCHAR", true, false},
}

// FocusProduct is what the FOCUS export says of a product code: its
// ServiceName, ServiceCategory and ServiceSubcategory, and the ResourceType
// of the resources it bills (docs/output.md, FOCUS). A product code the
// table lacks is its own ServiceName and ResourceType, in Other / Other
// (Other).
type FocusProduct struct {
	Code, Service, Category, Subcategory, ResourceType string
}

// FocusProducts are the Alibaba Cloud product codes the seeds' bills use,
// and their neighbours, matched case-insensitively.
var FocusProducts = []FocusProduct{
	{"ecs", "Elastic Compute Service", "Compute", "Virtual Machines", "Instance"},
	{"fc", "Function Compute", "Compute", "Serverless Compute", "Function"},
	{"ack", "Container Service for Kubernetes", "Compute", "Containers", "Cluster"},
	{"oss", "Object Storage Service", "Storage", "Object Storage", "Bucket"},
	{"nas", "File Storage NAS", "Storage", "File Storage", "File System"},
	{"rds", "ApsaraDB RDS", "Databases", "Relational Databases", "Database Instance"},
	{"polardb", "PolarDB", "Databases", "Relational Databases", "Cluster"},
	{"redis", "Tair (Redis OSS-compatible)", "Databases", "Caching", "Instance"},
	{"slb", "Server Load Balancer", "Networking", "Application Networking", "Load Balancer"},
	{"cdn", "Content Delivery Network", "Networking", "Content Delivery", "Domain"},
	{"vpc", "Virtual Private Cloud", "Networking", "Network Infrastructure", "VPC"},
	{"eip", "Elastic IP Address", "Networking", "Network Connectivity", "Elastic IP"},
	{"alicom", "Alibaba Cloud Communications", "Business Applications", "Other (Business Applications)", "Messaging Service"},
}

// FocusRegions names the Alibaba Cloud regions (RegionName); a region id
// the table lacks is its own name.
var FocusRegions = [][2]string{
	{"cn-hangzhou", "China (Hangzhou)"},
	{"cn-shanghai", "China (Shanghai)"},
	{"cn-beijing", "China (Beijing)"},
	{"cn-shenzhen", "China (Shenzhen)"},
	{"cn-zhangjiakou", "China (Zhangjiakou)"},
	{"cn-qingdao", "China (Qingdao)"},
	{"cn-chengdu", "China (Chengdu)"},
	{"cn-hongkong", "China (Hong Kong)"},
	{"ap-southeast-1", "Singapore"},
	{"ap-southeast-3", "Malaysia (Kuala Lumpur)"},
	{"ap-southeast-5", "Indonesia (Jakarta)"},
	{"ap-northeast-1", "Japan (Tokyo)"},
	{"us-west-1", "US (Silicon Valley)"},
	{"us-east-1", "US (Virginia)"},
	{"eu-central-1", "Germany (Frankfurt)"},
	{"eu-west-1", "UK (London)"},
}

// valuesView writes a view of rows of text, named view, its columns
// named by alias: AS alias(col, ...).
func valuesView(b *strings.Builder, view, alias string, rows [][]string) {
	fmt.Fprintf(b, "\nCREATE OR REPLACE VIEW %s AS SELECT * FROM (VALUES\n", view)
	for i, row := range rows {
		quoted := make([]string, len(row))
		for j, v := range row {
			quoted[j] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		}
		sep := ","
		if i == len(rows)-1 {
			sep = ""
		}
		fmt.Fprintf(b, "    (%s)%s\n", strings.Join(quoted, ", "), sep)
	}
	fmt.Fprintf(b, ") AS %s;\n", alias)
}

// focusSQL returns the focus view: FOCUS 1.2 over the bills and the credits
// applied. A charge row per bill: ListCost the list amount, ContractedCost
// the effective amount after its discount, EffectiveCost the same but 0 on
// a Purchase (FOCUS amortizes a purchase onto the usage it covers; the
// amount stays in BilledCost and x_EffectiveAmount). A Credit row per
// credit applied: every cost the negated amount. Correction rows, and
// credits a correction gave back, are ChargeClass Correction. InvoiceId is
// the cycle's invoice id, final once the cycle is closed and provisional
// before (x_InvoiceStatus). The optional usage columns the bills carry
// (extras) fill the quantities, regions, resources and tags; without them
// those columns are null. ResourceName holds only ASCII names (FOCUS String
// Handling, as the FOCUS validator checks it); x_ResourceName holds every
// name as given. Provider, publisher and invoice issuer come from
// the variables focus_provider, focus_publisher and focus_invoice_issuer
// when set, else "Alibaba Cloud", the cloud whose financial trusteeship
// the seeds describe.
func focusSQL(extras []string) string {
	var b strings.Builder
	products := make([][]string, len(FocusProducts))
	for i, p := range FocusProducts {
		products[i] = []string{p.Code, p.Service, p.Category, p.Subcategory, p.ResourceType}
	}
	b.WriteString("\n-- What FOCUS says of each product code (docs/output.md, FOCUS).")
	valuesView(&b, "focus_products", "p(product_code, service_name, service_category, service_subcategory, resource_type)", products)
	regions := make([][]string, len(FocusRegions))
	for i, r := range FocusRegions {
		regions[i] = r[:]
	}
	valuesView(&b, "focus_regions", "r(region_id, region_name)", regions)

	// col is an optional usage column of the bills, or NULL when no input
	// had it.
	col := func(name, typ string) string {
		if slices.Contains(extras, name) {
			if typ == "VARCHAR" {
				return "nullif(b." + ident(name) + ", '')"
			}
			return "CAST(nullif(b." + ident(name) + ", '') AS " + typ + ")"
		}
		return "NULL::" + typ
	}
	qty := col(billing.ColNameUsageQuantity, "DECIMAL(38,9)")
	unit := col(billing.ColNameUsageUnit, "VARCHAR")
	fmt.Fprintf(&b, `
-- FOCUS 1.2 (docs/output.md, FOCUS): the Mandatory columns, the Conditional
-- and Recommended ones billcons' data supports, then x_ custom columns.
CREATE OR REPLACE VIEW focus AS
WITH charges AS (
    SELECT b.*,
        CASE b.charge_type WHEN 'purchase' THEN 'Purchase'
            WHEN 'refund' THEN CASE WHEN b.subscription_type = 'subscription' THEN 'Purchase' ELSE 'Usage' END
            WHEN 'adjustment' THEN 'Adjustment' ELSE 'Usage' END AS category,
        %[1]s AS qty, %[2]s AS unit, %[3]s AS region_id, %[4]s AS resource_name, %[5]s AS tags_json
    FROM bills b
)
SELECT
    b.effective_amount                              AS BilledCost,
    b.payer_account_id                              AS BillingAccountId,
    pa.account_name                                 AS BillingAccountName,
    b.currency                                      AS BillingCurrency,
    p.period_end                                    AS BillingPeriodEnd,
    p.period_start                                  AS BillingPeriodStart,
    b.category                                      AS ChargeCategory,
    CASE WHEN b.charge_class = 'correction' THEN 'Correction' END AS ChargeClass,
    b.product_code || ' ' || b.subscription_type || ' of ' || b.account_id AS ChargeDescription,
    CASE WHEN b.usage_end > b.usage_start THEN b.usage_end ELSE b.usage_start + INTERVAL 1 SECOND END AS ChargePeriodEnd,
    b.usage_start                                   AS ChargePeriodStart,
    b.effective_amount                              AS ContractedCost,
    CASE WHEN b.category = 'Purchase' THEN 0 ELSE b.effective_amount END::DECIMAL(18,9) AS EffectiveCost,
    coalesce(getvariable('focus_invoice_issuer'), 'Alibaba Cloud') AS InvoiceIssuerName,
    b.list_amount                                   AS ListCost,
    CASE WHEN b.category IN ('Usage', 'Purchase') THEN b.qty END AS PricingQuantity,
    CASE WHEN b.category IN ('Usage', 'Purchase') AND b.qty IS NOT NULL THEN b.unit END AS PricingUnit,
    coalesce(getvariable('focus_provider'), 'Alibaba Cloud') AS ProviderName,
    coalesce(getvariable('focus_publisher'), 'Alibaba Cloud') AS PublisherName,
    coalesce(fp.service_category, 'Other')          AS ServiceCategory,
    coalesce(fp.service_name, b.product_code)       AS ServiceName,
    CASE b.charge_type WHEN 'usage' THEN 'Usage-Based'
        WHEN 'refund' THEN CASE WHEN b.subscription_type = 'subscription' THEN 'One-Time' ELSE 'Usage-Based' END
        ELSE 'One-Time' END                         AS ChargeFrequency,
    NULL::VARCHAR                                   AS CommitmentDiscountStatus,
    CASE WHEN b.category = 'Usage' THEN b.qty END   AS ConsumedQuantity,
    CASE WHEN b.category = 'Usage' AND b.qty IS NOT NULL THEN b.unit END AS ConsumedUnit,
    coalesce(b.invoice_id, replace(b.billing_cycle, '-', '') || '-' || b.payer_account_id || '-' || b.currency) AS InvoiceId,
    b.region_id                                     AS RegionId,
    CASE WHEN b.region_id IS NOT NULL THEN coalesce(fr.region_name, b.region_id) END AS RegionName,
    nullif(b.resource_id, '')                       AS ResourceId,
    CASE WHEN nullif(b.resource_id, '') IS NOT NULL AND regexp_full_match(b.resource_name, '[\x00-\x7F]*') THEN b.resource_name END AS ResourceName,
    CASE WHEN nullif(b.resource_id, '') IS NOT NULL THEN coalesce(fp.resource_type, b.product_code) END AS ResourceType,
    coalesce(fp.service_subcategory, 'Other (Other)') AS ServiceSubcategory,
    b.account_id                                    AS SubAccountId,
    sa.account_name                                 AS SubAccountName,
    TRY_CAST(b.tags_json AS JSON)                   AS Tags,
    b.line_id                                       AS x_LineId,
    b.billing_cycle                                 AS x_BillingCycle,
    CASE WHEN b.invoice_id IS NULL THEN 'Provisional' ELSE 'Issued' END AS x_InvoiceStatus,
    b.resource_name                                 AS x_ResourceName,
    b.effective_amount                              AS x_EffectiveAmount,
    b.subscription_type                             AS x_SubscriptionType,
    b.payment_status                                AS x_PaymentStatus,
    b.decided_by                                    AS x_DecidedBy,
    b.held_by                                       AS x_HeldBy,
    b.discount_owner                                AS x_DiscountOwner,
    b.discount_rule                                 AS x_DiscountRule,
    b.discount_id                                   AS x_DiscountId,
    NULL::VARCHAR                                   AS x_CreditId,
    NULL::VARCHAR                                   AS x_CreditKind,
    NULL::VARCHAR                                   AS x_CreditOwner
FROM charges b JOIN billing_periods p USING (billing_cycle)
LEFT JOIN focus_products fp ON fp.product_code = lower(b.product_code)
LEFT JOIN focus_regions fr ON fr.region_id = b.region_id
LEFT JOIN accounts pa ON pa.account_id = b.payer_account_id
LEFT JOIN accounts sa ON sa.account_id = b.account_id
UNION ALL
SELECT
    -c.amount                                       AS BilledCost,
    c.payer_account_id                              AS BillingAccountId,
    pa.account_name                                 AS BillingAccountName,
    c.currency                                      AS BillingCurrency,
    p.period_end                                    AS BillingPeriodEnd,
    p.period_start                                  AS BillingPeriodStart,
    'Credit'                                        AS ChargeCategory,
    CASE WHEN c.amount < 0 THEN 'Correction' END    AS ChargeClass, -- a credit given back by a correction
    c.kind || ' ' || c.credit_id || ' of ' || c.owner_account_id || ' on ' || c.product_code || ' of ' || c.account_id AS ChargeDescription,
    p.period_end                                    AS ChargePeriodEnd,
    p.period_start                                  AS ChargePeriodStart,
    -c.amount                                       AS ContractedCost,
    -c.amount                                       AS EffectiveCost,
    coalesce(getvariable('focus_invoice_issuer'), 'Alibaba Cloud') AS InvoiceIssuerName,
    -c.amount                                       AS ListCost,
    NULL::DECIMAL(38,9)                             AS PricingQuantity,
    NULL::VARCHAR                                   AS PricingUnit,
    coalesce(getvariable('focus_provider'), 'Alibaba Cloud') AS ProviderName,
    coalesce(getvariable('focus_publisher'), 'Alibaba Cloud') AS PublisherName,
    coalesce(fp.service_category, 'Other')          AS ServiceCategory,
    coalesce(fp.service_name, c.product_code)       AS ServiceName,
    'One-Time'                                      AS ChargeFrequency,
    NULL::VARCHAR                                   AS CommitmentDiscountStatus,
    NULL::DECIMAL(38,9)                             AS ConsumedQuantity,
    NULL::VARCHAR                                   AS ConsumedUnit,
    coalesce(i.invoice_id, replace(c.billing_cycle, '-', '') || '-' || c.payer_account_id || '-' || c.currency) AS InvoiceId,
    NULL::VARCHAR                                   AS RegionId,
    NULL::VARCHAR                                   AS RegionName,
    NULL::VARCHAR                                   AS ResourceId,
    NULL::VARCHAR                                   AS ResourceName,
    NULL::VARCHAR                                   AS ResourceType,
    coalesce(fp.service_subcategory, 'Other (Other)') AS ServiceSubcategory,
    c.account_id                                    AS SubAccountId,
    sa.account_name                                 AS SubAccountName,
    NULL::JSON                                      AS Tags,
    NULL::VARCHAR                                   AS x_LineId,
    c.billing_cycle                                 AS x_BillingCycle,
    CASE WHEN i.invoice_id IS NULL THEN 'Provisional' ELSE 'Issued' END AS x_InvoiceStatus,
    NULL::VARCHAR                                   AS x_ResourceName,
    -c.amount                                       AS x_EffectiveAmount,
    NULL::VARCHAR                                   AS x_SubscriptionType,
    NULL::VARCHAR                                   AS x_PaymentStatus,
    NULL::VARCHAR                                   AS x_DecidedBy,
    NULL::VARCHAR                                   AS x_HeldBy,
    NULL::VARCHAR                                   AS x_DiscountOwner,
    NULL::VARCHAR                                   AS x_DiscountRule,
    NULL::VARCHAR                                   AS x_DiscountId,
    c.credit_id                                     AS x_CreditId,
    c.kind                                          AS x_CreditKind,
    c.owner_account_id                              AS x_CreditOwner
FROM credits_applied c JOIN billing_periods p USING (billing_cycle)
LEFT JOIN focus_products fp ON fp.product_code = lower(c.product_code)
LEFT JOIN accounts pa ON pa.account_id = c.payer_account_id
LEFT JOIN accounts sa ON sa.account_id = c.account_id
LEFT JOIN (SELECT DISTINCT billing_cycle, payer_account_id, currency, invoice_id FROM summary WHERE invoice_id IS NOT NULL) i
    USING (billing_cycle, payer_account_id, currency);
`, qty, unit, col(billing.ColNameRegion, "VARCHAR"), col(billing.ColNameResourceName, "VARCHAR"), col(billing.ColNameTags, "VARCHAR"))
	return b.String()
}
