// Package writers owns what analysts see: the output tree of a run.
//
//	DIR/bills/billing_cycle=YYYY-MM/part-NNNNN.parquet
//	DIR/index/payers.parquet
//	DIR/summary/summary.parquet
//	DIR/rejects/usage.parquet, changes.parquet (and accounts.parquet with --accounts)
//	DIR/changes/accepted.parquet
//	DIR/views.sql
//	DIR/manifest.json
//
// [storage.Begin] stages a new tree beside DIR under a lock and [storage.Tree.Commit] swaps
// it in atomically, so DIR always holds a complete tree. [Bills] writes the
// bills of each cycle in large files, from lines sorted as they are stored,
// and the payers' index beside them; [WriteViews] writes views.sql for DuckDB; [Close] methods
// write the Parquet footers. [Verify] re-checks a finished tree from its
// files alone, and [ReadBills] reads bills back for reports and tests.
package writers
