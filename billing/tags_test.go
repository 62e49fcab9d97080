package billing

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestAppendJSONString: the JSON of a string is json.Marshal's, byte for
// byte: every byte alone, then random strings of the characters JSON and
// HTML escape, control characters, U+2028, U+2029, CJK text and invalid
// UTF-8.
func TestAppendJSONString(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("AppendJSONString(%q) = %s, json.Marshal %s", s, got[1:], want)
		}
	}
	for c := range 256 {
		check(string([]byte{byte(c)}))
		check("a" + string([]byte{byte(c)}) + "b")
	}
	parts := []string{"a", "Z", " ", `"`, `\`, "<", ">", "&", "\x00", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t",
		"\u2028", "\u2029", "\u2027", "报表", "é", "\xff", "\xe2\x80", "\xed\xa0\x80", "\U0001F600", "\ufffd"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		check(b.String())
	}
}

// TestParseTagsSame: ParseTags reads every tags value as the reading it
// replaced did (a JSON object built by json.Marshal from the pairs split
// whole), values, errors and all, on random values of the forms
// docs/inputs.md lists and of malformed ones.
func TestParseTagsSame(t *testing.T) {
	atoms := []string{"env", "team", "prod", "a", "", " ", "  ", ":", ";", "key:", " value:", "<b>", "&", `"`, "\\", "报表",
		"\t", "\xff", "\u2028", "{", "}", `{"a":"1"}`, strings.Repeat("x", 257), "http://x"}
	r := rand.New(rand.NewPCG(3, 4))
	var same, failed int
	for n := range 50000 {
		var b strings.Builder
		switch n % 4 {
		case 0: // key:value pairs
			for i := range r.IntN(6) {
				if i > 0 {
					b.WriteString(";")
				}
				fmt.Fprintf(&b, "%s%s:%s", atoms[r.IntN(len(atoms))], atoms[r.IntN(len(atoms))], atoms[r.IntN(len(atoms))])
			}
		case 1: // Alibaba's form
			for i := range r.IntN(6) {
				if i > 0 {
					b.WriteString(";")
				}
				fmt.Fprintf(&b, "key:%s value:%s", atoms[r.IntN(len(atoms))], atoms[r.IntN(len(atoms))])
			}
		case 2: // many pairs, some repeated
			for i := range 10 + r.IntN(200) {
				fmt.Fprintf(&b, "k%d:v;", r.IntN(1000)+i*1000*r.IntN(2))
			}
		default: // anything
			for range r.IntN(10) {
				b.WriteString(atoms[r.IntN(len(atoms))])
			}
		}
		in := b.String()
		want, werr := referenceParseTags(in)
		got, err := ParseTags(in)
		if got != want || (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
			t.Fatalf("ParseTags(%q) = %q, %v; the reference reading %q, %v", in, got, err, want, werr)
		}
		same++
		if err != nil {
			failed++
		}
	}
	if failed == 0 || failed == same {
		t.Fatalf("%d of %d values rejected: the values do not exercise both outcomes", failed, same)
	}
}

// marshalObject is the JSON object json.Marshal made of keys and vals,
// member by member, as tags were written before AppendJSONString.
func marshalObject(keys, vals []string) ([]byte, error) {
	b := []byte{'{'}
	for i := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		kj, _ := json.Marshal(keys[i])
		vj, _ := json.Marshal(vals[i])
		b = append(append(append(b, kj...), ':'), vj...)
	}
	return append(b, '}'), nil
}

// referenceParseTags is ParseTags as it was first written, kept to check
// the faster one against.
func referenceParseTags(s string) (string, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return "", nil
	}
	if !utf8.ValidString(t) {
		return "", fmt.Errorf("tags are not valid UTF-8: %s", quoteShort(s))
	}
	var keys, vals []string
	if t[0] == '{' { // read as before: jsonTagPairs is the code it was
		var err error
		if keys, vals, err = jsonTagPairs(s, t); err != nil {
			return "", err
		}
	} else {
		for _, pair := range strings.Split(t, ";") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			var k, v string
			if rest, ok := strings.CutPrefix(pair, "key:"); ok && strings.Contains(rest, " value:") {
				k, v, _ = strings.Cut(rest, " value:")
			} else if k, v, ok = strings.Cut(pair, ":"); !ok {
				return "", fmt.Errorf("tags %s: %s is not key:value", quoteShort(s), quoteShort(pair))
			}
			keys, vals = append(keys, strings.TrimSpace(k)), append(vals, strings.TrimSpace(v))
		}
	}
	if len(keys) > MaxTags {
		return "", fmt.Errorf("tags %s: %d tags; at most %d are allowed", quoteShort(s), len(keys), MaxTags)
	}
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		if k == "" {
			return "", errors.New("tags " + quoteShort(s) + ": a tag has an empty key")
		}
		if seen[k] {
			return "", fmt.Errorf("tags %s: the key %q repeats", quoteShort(s), k)
		}
		seen[k] = true
		if utf8.RuneCountInString(k) > MaxTagText || utf8.RuneCountInString(vals[i]) > MaxTagText {
			return "", fmt.Errorf("tags %s: a key or value is longer than %d characters", quoteShort(s), MaxTagText)
		}
	}
	b, err := marshalObject(keys, vals)
	return string(b), err
}
