package query

import "strings"

// Statements splits SQL text into its statements at the semicolons that end
// them: not those inside 'strings', "identifiers", $$dollar quotes$$, --
// comments or /* comments */. Each statement keeps its text without the
// semicolon; empty ones (a stray ";") are left out.
func Statements(sql string) []string {
	var out []string
	start := 0
	emit := func(end int) {
		if s := strings.TrimSpace(sql[start:end]); s != "" && !onlyComments(s) {
			out = append(out, s)
		}
		start = end + 1
	}
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; {
		case c == '\'' || c == '"':
			for i++; i < len(sql); i++ {
				if sql[i] == c {
					if i+1 < len(sql) && sql[i+1] == c { // a doubled quote
						i++
						continue
					}
					break
				}
			}
		case c == '$' && i+1 < len(sql) && sql[i+1] == '$':
			if j := strings.Index(sql[i+2:], "$$"); j >= 0 {
				i += j + 3
			} else {
				i = len(sql)
			}
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			if j := strings.IndexByte(sql[i:], '\n'); j >= 0 {
				i += j
			} else {
				i = len(sql)
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			if j := strings.Index(sql[i+2:], "*/"); j >= 0 {
				i += j + 3
			} else {
				i = len(sql)
			}
		case c == ';':
			emit(i)
		}
	}
	if start < len(sql) {
		emit(len(sql))
	}
	return out
}

// onlyComments reports whether s holds nothing but comments and space.
func onlyComments(s string) bool {
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		switch {
		case strings.HasPrefix(s, "--"):
			if j := strings.IndexByte(s, '\n'); j >= 0 {
				s = s[j+1:]
			} else {
				s = ""
			}
		case strings.HasPrefix(s, "/*"):
			j := strings.Index(s, "*/")
			if j < 0 {
				return true
			}
			s = s[j+2:]
		default:
			return false
		}
	}
	return true
}
