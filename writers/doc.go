// Package writers owns what analysts see: the output tree of a run.
//
//	DIR/bills/billing_cycle=YYYY-MM/payer_account_id=ID/part-NNNNN.parquet
//	DIR/summary/summary.parquet
//	DIR/rejects/usage.parquet, changes.parquet (and accounts.parquet with --accounts)
//	DIR/changes/accepted.parquet
//	DIR/views.sql
//	DIR/manifest.json
//
// [Begin] stages a new tree beside DIR under a lock and [Tree.Commit] swaps
// it in atomically, so DIR always holds a complete tree. [Bills] writes the
// bills from lines sorted by partition, encoding up to two part files at
// once; [WriteViews] writes views.sql for DuckDB; [Close] methods
// write the Parquet footers. [Verify] re-checks a finished tree from its
// files alone, and [ReadBills] reads bills back for reports and tests.
package writers
