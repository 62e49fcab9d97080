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
