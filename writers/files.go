package writers

// TreeFile is one of the tree's files beside the bills: where it is, the
// view views.sql gives it, and, for a file of accepted input rows, the
// column that identifies a row (what the guards compare between versions)
// and the guard that names a lost one. Views, the guards and the fixtures'
// renderer read this list: a new file is added here once.
type TreeFile struct {
	Path  string // relative to the tree
	View  string // its view in views.sql
	Key   string // the id column of an accepted input's rows, or ""
	Guard string // missing_<Guard> when a row of Key is lost, or ""
	// Optional: written only when its input was given.
	Optional bool
}

// TreeFiles are the tree's files beside the bills, the index, manifest.json
// and views.sql, in the order views.sql defines their views.
var TreeFiles = []TreeFile{
	{Path: "summary/summary.parquet", View: "summary"},
	{Path: "changes/accepted.parquet", View: "changes", Key: "change_id", Guard: "changes"},
	{Path: "rejects/usage.parquet", View: "rejects_usage"},
	{Path: "rejects/changes.parquet", View: "rejects_changes"},
	{Path: "credits/applied.parquet", View: "credits_applied"},
	{Path: "credits/balances.parquet", View: "credit_balances", Key: "credit_id", Guard: "credits"},
	{Path: "alerts/alerts.parquet", View: "alerts"},
	{Path: "settlement/discounts.parquet", View: "discounts", Key: "discount_id", Guard: "discounts"},
	{Path: "settlement/enterprises.parquet", View: "enterprises", Key: "enterprise_id", Guard: "enterprises"},
	{Path: "settlement/accounts.parquet", View: "accounts", Key: "account_id", Guard: "accounts"},
	{Path: "rejects/discounts.parquet", View: "rejects_discounts", Optional: true},
	{Path: "rejects/enterprises.parquet", View: "rejects_enterprises", Optional: true},
	{Path: "rejects/credits.parquet", View: "rejects_credits", Optional: true},
	{Path: "rejects/balances.parquet", View: "rejects_balances", Optional: true},
	{Path: "rejects/accounts.parquet", View: "rejects_accounts", Optional: true},
}

// TreeFileOf returns the file whose view is view, or nil.
func TreeFileOf(view string) *TreeFile {
	return treeFile(func(f *TreeFile) bool { return f.View == view })
}

// treeFile returns the first file that is, or nil.
func treeFile(is func(*TreeFile) bool) *TreeFile {
	for i := range TreeFiles {
		if is(&TreeFiles[i]) {
			return &TreeFiles[i]
		}
	}
	return nil
}

// PathOf is the path of the file whose view is view: the one name every
// writer and reader of a file uses. An unknown view is a mistake in
// billcons, not in its input, and panics.
func PathOf(view string) string {
	f := TreeFileOf(view)
	if f == nil {
		panic("writers: no tree file has the view " + view)
	}
	return f.Path
}

// GuardedFile returns the file whose lost rows trip missing_<guard>, or nil.
func GuardedFile(guard string) *TreeFile {
	return treeFile(func(f *TreeFile) bool { return f.Guard == guard })
}
