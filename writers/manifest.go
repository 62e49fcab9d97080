package writers

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Manifest is DIR/manifest.json: what a run read, what it wrote, and the
// totals that [Verify] re-checks.
type Manifest struct {
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
	UsageRead        int64 `json:"usage_read"`
	UsageBilled      int64 `json:"usage_billed"`
	UsageRejected    int64 `json:"usage_rejected"`
	ChangesRead      int64 `json:"changes_read"`
	ChangesAccepted  int64 `json:"changes_accepted"`
	ChangesRejected  int64 `json:"changes_rejected"`
	AccountsRead     int64 `json:"accounts_read"`
	AccountsAccepted int64 `json:"accounts_accepted"`
	AccountsRejected int64 `json:"accounts_rejected"`
	BillFiles        int64 `json:"bill_files"`
	SummaryRows      int64 `json:"summary_rows"`
}

// Totals are the exact list_amount sums of one currency, at scale 9. Read
// covers every row whose amount and currency both parse; Read = Billed +
// Rejected to the last digit.
type Totals struct {
	Read     string `json:"read"`
	Billed   string `json:"billed"`
	Rejected string `json:"rejected"`
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
		return fmt.Errorf("writing manifest.json: %w", unwrapPath(err))
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("writing manifest.json: %w", unwrapPath(err))
	}
	return f.Close()
}

// ReadManifest reads dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "manifest.json"), unwrapPath(err))
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a billcons manifest: %w", filepath.Join(dir, "manifest.json"), err)
	}
	return &m, nil
}
