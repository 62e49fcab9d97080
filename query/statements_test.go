package query

import (
	"slices"
	"testing"
)

// TestStatements splits at the semicolons that end statements only.
func TestStatements(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want []string
	}{
		{"SELECT 1; SELECT 2", []string{"SELECT 1", "SELECT 2"}},
		{"SELECT 1;", []string{"SELECT 1"}},
		{";; SELECT 1 ;;", []string{"SELECT 1"}},
		{"SELECT 'a;b'; SELECT 'it''s;'", []string{"SELECT 'a;b'", "SELECT 'it''s;'"}},
		{`SELECT "x;y" FROM t; SELECT 2`, []string{`SELECT "x;y" FROM t`, "SELECT 2"}},
		{"SELECT $$a;b$$; SELECT 3", []string{"SELECT $$a;b$$", "SELECT 3"}},
		{"SELECT 1 -- a; comment\n; SELECT 2", []string{"SELECT 1 -- a; comment", "SELECT 2"}},
		{"SELECT /* ; */ 1; /* only a comment */; -- and another", []string{"SELECT /* ; */ 1"}},
		{"SELECT 'unterminated;", []string{"SELECT 'unterminated;"}},
	} {
		if got := Statements(c.sql); !slices.Equal(got, c.want) {
			t.Errorf("Statements(%q) = %q, want %q", c.sql, got, c.want)
		}
	}
}
