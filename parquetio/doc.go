// Package parquetio writes every Parquet file of billcons' output tree.
//
// The outputs' schemas are flat (text, 64-bit integers, 16-byte decimals,
// required or optional), so billcons writes them itself rather than
// through a general writer, which costs about five times as much per row
// (docs/performance.md): values are appended column by column as rows
// arrive (Group, Chunk), each row group is written one data page (v2,
// PLAIN, or a dictionary page and RLE_DICTIONARY indexes when a text
// column's values repeat) per column chunk with min/max statistics, and
// the footer is thrift-encoded by hand, naming its writer in created_by. A
// File is written group by group; a Writer takes rows and writes each
// full group behind them. Concat joins files of one schema row group by
// row group under one footer. What is written follows parquet-format's
// parquet.thrift and Encodings.md; the tests of package writers read every
// kind of column back with parquet-go, arrow-go and DuckDB.
//
// What each file holds (its columns and rows) is package writers'; reading
// Parquet is package readers'.
package parquetio
