// Package billing holds the record types and value parsers that the readers,
// rules, writers and pipeline packages share: bill lines, trusteeship changes,
// accounts, exact amounts, timestamps, billing cycles and input positions.
//
// It is a leaf package: it imports nothing of billcons, so every other package
// can use it without import cycles. Parsers here are strict: a value either
// parses exactly as CONTRACT.md describes or returns an error that names what is
// wrong; nothing is rounded, trimmed or guessed.
package billing
