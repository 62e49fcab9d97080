// Package readers turns input files into typed billing records.
//
// It works in two layers. A [Table] reads one CSV (plain or gzip) or Parquet
// file as rows of text, each stamped with its 1-based data row; Parquet
// timestamps and decimals are rendered as RFC 3339 and exact decimal text, so
// one set of value parsers (package billing) judges every input the same way.
// A decoder ([UsageDecoder], [ChangeDecoder], [AccountDecoder]) maps a table's
// header onto the contract's columns by name and turns each row into a record
// or a [*billing.RowError] that names the column and the value.
//
// File-level problems (unreadable file, unknown extension, missing required
// column) are returned as errors that name the file; row-level problems never
// stop a read.
//
// Readers hold no billing logic: which lines are duplicates and who pays is
// decided by packages rules and pipeline.
package readers
