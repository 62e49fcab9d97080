package billing

import "testing"

// TestParseTags: the forms docs/inputs.md lists for tags, written as one
// JSON object of strings (FOCUS Tags, a KeyValueFormat).
func TestParseTags(t *testing.T) {
	for in, want := range map[string]string{
		"":                                       "",
		"env:prod;team:data":                     `{"env":"prod","team":"data"}`,
		" env : prod ; ; url:http://x ":          `{"env":"prod","url":"http://x"}`,
		"key:env value:prod;key:team value:data": `{"env":"prod","team":"data"}`,
		`{"b":"2","a":"1"}`:                      `{"b":"2","a":"1"}`,
		`{"报表":"值"}`:                             `{"报表":"值"}`,
		"env:":                                   `{"env":""}`,
	} {
		got, err := ParseTags(in)
		if err != nil || got != want {
			t.Errorf("ParseTags(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"env", ":prod", "env:a;env:b", `{"a":1}`, `{"a":"1"} x`, `["a"]`, `{"a":"1"`, "\xff:x"} {
		if got, err := ParseTags(in); err == nil {
			t.Errorf("ParseTags(%q) = %q, want an error", in, got)
		}
	}
}

// TestParseQuantity: usage_quantity is an exact decimal, never rounded.
func TestParseQuantity(t *testing.T) {
	for in, want := range map[string]string{"1": "1", " 0.5 ": "0.5", "-24": "-24", "+3.000000001": "+3.000000001",
		"12345678901234567890123456789.123456789": "12345678901234567890123456789.123456789"} {
		if got, err := ParseQuantity(in); err != nil || got != want {
			t.Errorf("ParseQuantity(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "1e3", "1.", ".5", "1.0000000001", "123456789012345678901234567890", "1,5", "NaN"} {
		if got, err := ParseQuantity(in); err == nil {
			t.Errorf("ParseQuantity(%q) = %q, want an error", in, got)
		}
	}
}
