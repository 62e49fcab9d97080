package writers

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/billcons/billcons/storage"
)

// Manifest is DIR/manifest.json: what a run read, what it wrote, and the
// totals that [Verify] re-checks.
type Manifest struct {
	// Format and FormatVersion say that the folder is a billcons tree
	// ([storage.TreeFormat]); a run replaces only such a folder.
	Format        string `json:"format"`
	FormatVersion int    `json:"format_version"`
	// TreeVersion is the number this version of the tree was published
	// under, BaseVersion the latest version when the command began (0: none),
	// Command what published it: run, rollback (then RolledBackTo is the
	// version whose content it republished) or commit.
	TreeVersion  int64  `json:"tree_version,omitempty"`
	BaseVersion  int64  `json:"base_version,omitempty"`
	Command      string `json:"command,omitempty"`
	RolledBackTo int64  `json:"rolled_back_to,omitempty"`
	// Accepted lists the guards a run passed on purpose (--accept-missing),
	// with what tripped them.
	Accepted []string `json:"accepted,omitempty"`
	// Cycles are the totals of the bills per billing cycle and currency,
	// for billcons versions and the guards.
	Cycles []CycleTotals `json:"cycles,omitempty"`
	// Closed are the closed cycles, oldest first (billcons close): no
	// later version changes their rows or their bills files.
	Closed []ClosedCycle `json:"closed,omitempty"`
	// Net are the net invoiced states of the closed cycles' lines, per
	// cycle a line belongs to.
	Net []NetTotals `json:"net,omitempty"`

	Program   string            `json:"program"`
	Version   string            `json:"version"`
	StartedAt string            `json:"started_at"`
	EndedAt   string            `json:"ended_at"`
	Options   map[string]any    `json:"options"`
	Inputs    []Input           `json:"inputs"`
	Outputs   []Output          `json:"outputs"`
	Counts    Counts            `json:"counts"`
	Totals    map[string]Totals `json:"totals"` // per currency
}

// Input is one file read.
type Input struct {
	Kind   string `json:"kind"` // usage, changes or accounts
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	Rows   int64  `json:"rows"`
}

// Counts are the row counts of a run. UsageRead = UsageBilled + UsageRejected,
// and the same for changes and accounts.
type Counts struct {
	UsageRead     int64 `json:"usage_read"`
	UsageBilled   int64 `json:"usage_billed"`
	UsageRejected int64 `json:"usage_rejected"`
	// LinesCarried are invoiced lines of closed cycles the inputs no
	// longer hold, kept as invoiced; CorrectionRows the correction rows
	// written in the open cycles.
	LinesCarried     int64 `json:"lines_carried,omitempty"`
	CorrectionRows   int64 `json:"correction_rows,omitempty"`
	ChangesRead      int64 `json:"changes_read"`
	ChangesAccepted  int64 `json:"changes_accepted"`
	ChangesRejected  int64 `json:"changes_rejected"`
	AccountsRead     int64 `json:"accounts_read"`
	AccountsAccepted int64 `json:"accounts_accepted"`
	AccountsRejected int64 `json:"accounts_rejected"`
	BillFiles        int64 `json:"bill_files"`
	SummaryRows      int64 `json:"summary_rows"`

	// The settlement inputs: read = accepted + rejected for each.
	DiscountsRead       int64 `json:"discounts_read"`
	DiscountsAccepted   int64 `json:"discounts_accepted"`
	DiscountsRejected   int64 `json:"discounts_rejected"`
	EnterprisesRead     int64 `json:"enterprises_read"`
	EnterprisesAccepted int64 `json:"enterprises_accepted"`
	EnterprisesRejected int64 `json:"enterprises_rejected"`
	CreditsRead         int64 `json:"credits_read"`
	CreditsAccepted     int64 `json:"credits_accepted"`
	CreditsRejected     int64 `json:"credits_rejected"`
	BalancesRead        int64 `json:"balances_read"`
	BalancesAccepted    int64 `json:"balances_accepted"`
	BalancesRejected    int64 `json:"balances_rejected"`
	CreditsApplied      int64 `json:"credits_applied"` // rows of credits/applied.parquet
	Alerts              int64 `json:"alerts"`
}

// Totals are the exact list_amount sums of one currency, at scale 9. Read
// covers every row whose amount and currency both parse; Read = Billed +
// Rejected to the last digit.
//
// The settlement totals are over the billed lines: Effective = Billed -
// Discount and Due = Effective - Coupon - Voucher - StoredValue.
type Totals struct {
	Read        string `json:"read"`
	Billed      string `json:"billed"`
	Rejected    string `json:"rejected"`
	Discount    string `json:"discount"`
	Effective   string `json:"effective"`
	Coupon      string `json:"coupon"`
	Voucher     string `json:"voucher"`
	StoredValue string `json:"stored_value"`
	Due         string `json:"due"`
	// Carried is the list amount of the invoiced lines of closed cycles
	// that the inputs no longer hold, kept as invoiced: the bills add up
	// to Billed + Carried.
	Carried string `json:"carried,omitempty"`
}

// CycleTotals are one billing cycle's lines and exact sums in one currency.
type CycleTotals struct {
	Cycle     string `json:"billing_cycle"`
	Currency  string `json:"currency"`
	Lines     int64  `json:"lines"`
	List      string `json:"list_amount"`
	Discount  string `json:"discount_amount"`
	Effective string `json:"effective_amount"`
	Due       string `json:"due_amount"`
}

// WriteManifest writes m to root/manifest.json.
func WriteManifest(root string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(root, "manifest.json")
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing manifest.json: %w", storage.UnwrapPath(err))
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("writing manifest.json: %w", storage.UnwrapPath(err))
	}
	return f.Close()
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "manifest.json"), storage.UnwrapPath(err))
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a billcons manifest: %w", filepath.Join(dir, "manifest.json"), err)
	}
	return &m, nil
}
