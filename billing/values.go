package billing

import (
	"errors"
	"fmt"
	"strings"
)

// Errors returned by the value parsers.
var (
	ErrID       = errors.New("id must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
	ErrIDDots   = errors.New(`id "." or ".." would name a parent folder`)
	ErrCurrency = errors.New("currency is not an ISO 4217 code of three capital letters")
	ErrEnum     = errors.New("not one of the allowed values")
)

// ParseID checks an account, line or change id: 1 to 64 characters of
// A-Z a-z 0-9 . _ - (CONTRACT.md, Values). Ids become path segments, so "."
// and ".." are refused as well.
func ParseID(s string) (string, error) {
	if len(s) == 0 || len(s) > 64 {
		return "", fmt.Errorf("%w: %s", ErrID, quoteShort(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "", fmt.Errorf("%w: %s", ErrID, quoteShort(s))
		}
	}
	if s == "." || s == ".." {
		return "", fmt.Errorf("%w: %q", ErrIDDots, s)
	}
	return s, nil
}

// ParseCurrency checks an ISO 4217 code: exactly three capital letters.
func ParseCurrency(s string) (string, error) {
	if len(s) != 3 || !isUpper(s[0]) || !isUpper(s[1]) || !isUpper(s[2]) {
		return "", fmt.Errorf("%w: %s", ErrCurrency, quoteShort(s))
	}
	return s, nil
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// ParseSubscriptionType reads subscription_type, case-insensitively:
// "subscription", or "payasyougo" (also "payg").
func ParseSubscriptionType(s string) (SubscriptionType, error) {
	switch lower(s) {
	case "subscription":
		return Subscription, nil
	case "payasyougo", "payg":
		return PayAsYouGo, nil
	}
	return 0, fmt.Errorf("%w: %s is not subscription, payasyougo or payg", ErrEnum, quoteShort(s))
}

// ParsePaymentStatus reads payment_status, case-insensitively.
func ParsePaymentStatus(s string) (PaymentStatus, error) {
	switch lower(s) {
	case "settled":
		return Settled, nil
	case "unsettled":
		return Unsettled, nil
	}
	return 0, fmt.Errorf("%w: %s is not settled or unsettled", ErrEnum, quoteShort(s))
}

// ParsePolicy reads policy, case-insensitively.
func ParsePolicy(s string) (Policy, error) {
	switch strings.ToLower(s) {
	case "trusteeship":
		return PolicyTrusteeship, nil
	case "none":
		return PolicyNone, nil
	}
	return 0, fmt.Errorf("%w: %s is not trusteeship or none", ErrEnum, quoteShort(s))
}

// lower is strings.ToLower(s) without its pass over s when s is already
// one of the lower-case words an enum column is read as: every line
// carries its subscription type and payment status.
func lower(s string) string {
	switch s {
	case "subscription", "payasyougo", "payg", "settled", "unsettled", "", "usage":
		return s
	}
	return strings.ToLower(s)
}

// quoteShort quotes s for an error message, cutting it at 80 bytes so that a
// megabyte-long field does not become a megabyte-long reason.
func quoteShort(s string) string {
	const max = 80
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:max], len(s))
}
