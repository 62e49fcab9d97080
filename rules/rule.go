package rules

// Rule is one rule of the contract: its stable code (the reason_code of what
// it rejects, where it rejects), the seed passage it comes from, and what it
// says.
type Rule struct {
	Code string
	Seed string
	Doc  string
}

// The change rules (CONTRACT.md, "Changes that are rejected").
var (
	DuplicateChange = &Rule{
		Code: "duplicate_change",
		Seed: "CONTRACT.md, Changes that are rejected",
		Doc:  "a row equal to an earlier one in every value is a copy: the first stands, the copy is rejected",
	}
	AmbiguousChangeID = &Rule{
		Code: "ambiguous_change_id",
		Seed: "CONTRACT.md, Changes that are rejected",
		Doc:  "two different changes with the same change_id are all rejected: the history is ambiguous",
	}
	AmbiguousChangeTime = &Rule{
		Code: "ambiguous_change_time",
		Seed: "CONTRACT.md, Changes that are rejected",
		Doc:  "two changes of one member at the same changed_at are all rejected: the history is ambiguous",
	}
	SelfTrusteeship = &Rule{
		Code: "self_trusteeship",
		Seed: "CONTRACT.md, Changes that are rejected",
		Doc:  "a trusteeship change may not name the member as its own management account",
	}
	ManagementInTrusteeship = &Rule{
		Code: "management_in_trusteeship",
		Seed: "seed 000, What is financial trusteeship (no chains); CONTRACT.md",
		Doc:  "the management account may not itself be in trusteeship at the change (no chains)",
	}
	MemberIsManagement = &Rule{
		Code: "member_is_management",
		Seed: "seed 000, What is financial trusteeship (no chains); CONTRACT.md",
		Doc:  "a member that manages members of its own may not be put in trusteeship (no chains)",
	}
	MemberCap = &Rule{
		Code: "member_cap",
		Seed: "seed 000, Additional notes (maximum of 300 managed member accounts); seed 001, rule 8",
		Doc:  "a management account may hold at most 300 managed members at once",
	}
	UnknownAccount = &Rule{
		Code: "unknown_account",
		Seed: "seed 001, rule 7; CONTRACT.md, Input: accounts",
		Doc:  "with --accounts, a change naming an account the file does not list is rejected",
	}
	EnterpriseMismatch = &Rule{
		Code: "enterprise_mismatch",
		Seed: "seed 000, Additional notes (same enterprise entity); seed 001, rule 7",
		Doc:  "with --accounts, trusteeship between accounts of different enterprises is rejected",
	}
)

// The timing rules (CONTRACT.md, "Whether a line falls after a change").
var (
	UnsettledHold = &Rule{
		Code: "unsettled_hold",
		Seed: "seed 000, Scenario 1; seed 001, rule 5.1",
		Doc: "an accepted line of the member and product, in the cycle of the change, issued before it and unsettled at it, " +
			"holds the change back for that product until the next billing cycle",
	}
	EndTime = &Rule{
		Code: "end_time",
		Seed: "seed 000, Scenario 2; seed 001, rule 5.2",
		Doc:  "--timing end-time: a line falls after a change when its usage_end is at or after the change",
	}
	NextPeriod = &Rule{
		Code: "next_period",
		Seed: "seed 000, takes effect from the next billing cycle; seed 001, rule 3 (the March 10 example)",
		Doc:  "--timing next-period: a line falls after a change when its usage_start is later than the change",
	}
	LatestChange = &Rule{
		Code: "latest_change",
		Seed: "CONTRACT.md, The payer of a line",
		Doc:  "the payer of a line is set by the latest accepted change it falls after; before any, the member pays",
	}
)

// MaxMembers is the most managed members one management account may hold
// (seed 000, Additional notes; seed 001, rule 8).
const MaxMembers = 300

// The settlement input rules (CONTRACT.md, Settlement: the inputs), and the
// accounts file's.
var (
	DuplicateAccount = &Rule{Code: "duplicate_account", Seed: "CONTRACT.md, Input: accounts",
		Doc: "an exact copy of an earlier accounts row: the first stands, the copy is rejected"}
	AmbiguousAccount = &Rule{Code: "ambiguous_account", Seed: "CONTRACT.md, Input: accounts",
		Doc: "an account listed with different enterprises: all of its rows are rejected, and changes naming it become unknown_account"}
	DuplicateDiscount = &Rule{Code: "duplicate_discount", Seed: "CONTRACT.md, Input: discounts",
		Doc: "an exact copy of an earlier discount row: the first stands, the copy is rejected"}
	AmbiguousDiscount = &Rule{Code: "ambiguous_discount", Seed: "CONTRACT.md, Input: discounts",
		Doc: "two different rows with one discount_id, or two discounts of one account for one product_code whose validity overlaps, are all rejected"}
	DuplicateEnterprise = &Rule{Code: "duplicate_enterprise", Seed: "CONTRACT.md, Input: enterprises",
		Doc: "an exact copy of an earlier enterprises row: the first stands, the copy is rejected"}
	AmbiguousEnterprise = &Rule{Code: "ambiguous_enterprise", Seed: "CONTRACT.md, Input: enterprises",
		Doc: "conflicting rows for one enterprise_id are all rejected; the enterprise gets the defaults"}
	DuplicateCredit = &Rule{Code: "duplicate_credit", Seed: "CONTRACT.md, Input: credits",
		Doc: "an exact copy of an earlier credit row: the first stands, the copy is rejected"}
	AmbiguousCredit = &Rule{Code: "ambiguous_credit", Seed: "CONTRACT.md, Input: credits",
		Doc: "one credit_id for different rows: all of them are rejected"}
	DuplicateBalance = &Rule{Code: "duplicate_balance", Seed: "CONTRACT.md, Settlement (copies are removed before ids are compared, in every settlement input)",
		Doc: "an exact copy of an earlier balances row: the first stands, the copy is rejected"}
	AmbiguousBalance = &Rule{Code: "ambiguous_balance", Seed: "CONTRACT.md, Input: balances and alerts",
		Doc: "one account and currency on two different rows: all of them are rejected"}
)

// Whose discount a line gets (CONTRACT.md, "Whose discount a line gets"):
// the first of these that applies names the discount owner.
var (
	SelfPayDiscount = &Rule{Code: "self_pay_discount",
		Seed: "CONTRACT.md, Whose discount a line gets, rule 1",
		Doc:  "a member that pays for itself gets its own discount"}
	CommunicationsDiscount = &Rule{Code: "communications_discount",
		Seed: "seed 000, Key considerations (legacy members used the management account's discounts \"except for Alibaba Cloud Communications\"); seed 001, rule 2",
		Doc:  "a communications product (alicom) always gets the member's own discount"}
	LegacyInheritance = &Rule{Code: "legacy_inheritance",
		Seed: "seed 000, What does financial trusteeship cover (\"Existing managed member accounts that were set up before the upgrade to the new version will continue to share the management account's discounts\")",
		Doc:  "a trusteeship that began before the member's enterprise upgraded shares the management account's discount"}
	EntityDiscounts = &Rule{Code: "entity_discounts",
		Seed: "seed 000, What does financial trusteeship cover (\"Once configured, all accounts within the same enterprise, including new ones, will automatically share discounts\")",
		Doc:  "once entity-level discounts are configured for the member's enterprise (at or before the line's usage_start), the line gets the payer's discount"}
	NewMemberOwnDiscount = &Rule{Code: "new_member_own_discount",
		Seed: "seed 000, What does financial trusteeship cover (\"new managed member accounts only use their own discount policies\")",
		Doc:  "otherwise a managed member uses its own discount"}
	DiscountApplied = &Rule{Code: "discount_applied",
		Seed: "CONTRACT.md, The discount applied",
		Doc:  "the owner's discount valid at usage_start for the product, else for *, else none; discount_amount = list_amount x rate rounded to 9 digits, halves away from zero"}
)

// The credit rules (CONTRACT.md, "Input: credits").
var (
	OwnCredits = &Rule{Code: "own_credits",
		Seed: "CONTRACT.md, Which credits may pay a statement row (the member pays for itself)",
		Doc:  "a member that pays for itself uses its own credits of any kind"}
	SharedCredits = &Rule{Code: "shared_credits",
		Seed: "seed 000, Key considerations (\"By default, the management account shares its vouchers and stored value cards with all its managed member accounts\"; sharing with specific accounts); seed 001, rule 2",
		Doc:  "the payer's credits pay its members' rows when the member is in the credit's sharing, except its coupons on communications products"}
	MemberCouponsAliTelecom = &Rule{Code: "member_coupons_alitelecom",
		Seed: "seed 001, rule 2 (\"Linked accounts can still use their own coupons for AliTelecom\")",
		Doc:  "a managed member's own coupons pay its communications rows"}
	MemberCreditsFrozen = &Rule{Code: "member_credits_frozen",
		Seed: "seed 000, Key considerations (\"A managed member account's vouchers and stored value cards cannot be used\"); seed 001, rule 4",
		Doc:  "no other credit of a managed member pays: not its vouchers or stored-value cards, not its coupons outside communications"}
	CreditOrder = &Rule{Code: "credit_order",
		Seed: "CONTRACT.md, Order",
		Doc:  "rows in (billing_cycle, payer, member, product, currency) order; per row coupons, then vouchers, then stored-value cards, each earliest valid_to first, then credit_id; each takes the smaller of what is owed and its balance"}
)

// The alert rules (CONTRACT.md, "Input: balances and alerts").
var (
	SpendingAlert = &Rule{Code: "spending",
		Seed: "seed 000, Key considerations (\"Available Credit Alert and spending alerts are sent to the management account\"); seed 001, Trusteeship rule 1",
		Doc:  "a payer whose amount due in a cycle and currency is above its spending_alert gets an alert"}
	LowCreditAlert = &Rule{Code: "low_credit",
		Seed: "seed 001, Rules for linked accounts (\"If the main account has insufficient funds, all resources in linked accounts become unavailable\"); seed 000, Key considerations",
		Doc:  "an account not in trusteeship whose amount due in the latest cycle is above its available_credit gets an alert: every member it pays for is at risk"}
)

// The prepaid rules (CONTRACT.md, "Charge types and prepaid resources").
var (
	AdjustmentInTrusteeship = &Rule{Code: "adjustment_in_trusteeship",
		Seed: "seed 000, Additional notes (\"Price adjustments are not supported for prepaid orders from a managed member account\")",
		Doc:  "an adjustment line of a subscription, of a member in trusteeship at its issued_at, is rejected"}
	RefundOfTransferredResource = &Rule{Code: "refund_of_transferred_resource",
		Seed: "seed 000, Additional notes (transferred resources \"have no financial value, meaning you cannot receive a refund\"); seed 001, rule 6",
		Doc:  "a refund of a resource whose latest earlier purchase was made under another relationship (another account paying for the member) is rejected"}
)
