package billing

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// The optional usage columns FOCUS and analysts use (docs/inputs.md). They
// are carried through to the bills under these names; usage_quantity and
// tags are checked (and tags written as a JSON object) on the way.
const (
	ColNameUsageQuantity = "usage_quantity"
	ColNameUsageUnit     = "usage_unit"
	ColNameRegion        = "region"
	ColNameResourceName  = "resource_name"
	ColNameTags          = "tags"
)

// MaxQuantityDigits is the most integer digits a usage_quantity may have:
// quantities are DECIMAL(38,9), so 29 digits before the point.
const MaxQuantityDigits = 29

// ParseQuantity checks a usage_quantity: an exact decimal, optionally
// signed, with at most 9 fractional digits and 29 integer digits. It
// returns the text as given (with surrounding spaces trimmed): a quantity
// is never rounded.
func ParseQuantity(s string) (string, error) {
	t := strings.TrimSpace(s)
	digits := t
	if digits != "" && (digits[0] == '+' || digits[0] == '-') {
		digits = digits[1:]
	}
	intPart, frac, dot := strings.Cut(digits, ".")
	ok := intPart != "" && allDigits(intPart) && (!dot || (frac != "" && allDigits(frac)))
	if !ok {
		return "", fmt.Errorf("usage_quantity %s is not a decimal number", quoteShort(s))
	}
	if len(frac) > 9 {
		return "", fmt.Errorf("usage_quantity %s has %d fractional digits; at most 9 are allowed (it is never rounded)", quoteShort(s), len(frac))
	}
	if n := len(strings.TrimLeft(intPart, "0")); n > MaxQuantityDigits {
		return "", fmt.Errorf("usage_quantity %s has %d integer digits; at most %d are allowed", quoteShort(s), n, MaxQuantityDigits)
	}
	return t, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// MaxTags is the most tags a line may carry; MaxTagText the longest key or
// value, in characters.
const (
	MaxTags    = 200
	MaxTagText = 256
)

// ParseTags reads a tags value and returns it as a JSON object of strings,
// keys in the order given. It accepts
//   - a JSON object whose values are strings: {"env":"prod","team":"data"};
//   - key:value pairs separated by ";": env:prod;team:data (spaces around
//     keys and values are trimmed; a value may contain ":");
//   - Alibaba Cloud's form of the same pairs: key:env value:prod;key:team value:data.
//
// A key may not be empty or repeat. "" returns "".
func ParseTags(s string) (string, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return "", nil
	}
	if !utf8.ValidString(t) {
		return "", fmt.Errorf("tags are not valid UTF-8: %s", quoteShort(s))
	}
	if t[0] == '{' {
		keys, vals, err := jsonTagPairs(s, t)
		if err != nil {
			return "", err
		}
		return tagsJSON(s, keys, vals)
	}
	// Every line carries its tags: read them without allocating but for
	// the result (a reference reading checks this one: TestParseTagsSame).
	var kbuf, vbuf [8]string
	keys, vals := kbuf[:0], vbuf[:0]
	for rest := t; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, ";")
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		var k, v string
		if r, ok := strings.CutPrefix(pair, "key:"); ok && strings.Contains(r, " value:") {
			k, v, _ = strings.Cut(r, " value:")
		} else if k, v, ok = strings.Cut(pair, ":"); !ok {
			return "", fmt.Errorf("tags %s: %s is not key:value", quoteShort(s), quoteShort(pair))
		}
		keys, vals = append(keys, strings.TrimSpace(k)), append(vals, strings.TrimSpace(v))
	}
	return tagsJSON(s, keys, vals)
}

// jsonTagPairs reads tags t given as a JSON object of strings (s as given,
// for messages).
func jsonTagPairs(s, t string) (keys, vals []string, err error) {
	dec := json.NewDecoder(strings.NewReader(t))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("tags %s: not a JSON object", quoteShort(s))
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("tags %s: not a JSON object: %v", quoteShort(s), err)
		}
		v, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("tags %s: not a JSON object: %v", quoteShort(s), err)
		}
		vs, ok := v.(string)
		if !ok {
			return nil, nil, fmt.Errorf("tags %s: the value of %q is not a string", quoteShort(s), k)
		}
		keys, vals = append(keys, k.(string)), append(vals, vs)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, nil, fmt.Errorf("tags %s: not a JSON object", quoteShort(s))
	}
	if int(dec.InputOffset()) != len(t) {
		return nil, nil, fmt.Errorf("tags %s: text after the JSON object", quoteShort(s))
	}
	return keys, vals, nil
}

// tagsJSON checks tags s read as keys and vals, and writes them as one
// JSON object.
func tagsJSON(s string, keys, vals []string) (string, error) {
	if len(keys) > MaxTags {
		return "", fmt.Errorf("tags %s: %d tags; at most %d are allowed", quoteShort(s), len(keys), MaxTags)
	}
	// A repeated key is looked for one by one among a line's few tags, by
	// a set among up to MaxTags.
	var seen map[string]bool
	if len(keys) > 16 {
		seen = make(map[string]bool, len(keys))
	}
	n := 2
	for i, k := range keys {
		if k == "" {
			return "", errors.New("tags " + quoteShort(s) + ": a tag has an empty key")
		}
		if seen != nil && seen[k] || seen == nil && slices.Contains(keys[:i], k) {
			return "", fmt.Errorf("tags %s: the key %q repeats", quoteShort(s), k)
		}
		if seen != nil {
			seen[k] = true
		}
		if utf8.RuneCountInString(k) > MaxTagText || utf8.RuneCountInString(vals[i]) > MaxTagText {
			return "", fmt.Errorf("tags %s: a key or value is longer than %d characters", quoteShort(s), MaxTagText)
		}
		n += len(k) + len(vals[i]) + 6
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range keys {
		b = AppendJSONString(appendJSONKey(b, i, k), vals[i])
	}
	b = append(b, '}')
	return unsafe.String(unsafe.SliceData(b), len(b)), nil // b is not written again
}
