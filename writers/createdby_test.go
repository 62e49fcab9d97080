package writers

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/parquetio/parquettest"
)

// parquetJavaVersion is parquet-java's VersionParser pattern
// (org.apache.parquet.VersionParser.FORMAT): a created_by it does not match
// makes parquet-java ignore the statistics of every BYTE_ARRAY and
// FIXED_LEN_BYTE_ARRAY column (CorruptStatistics.shouldIgnoreStatistics).
var parquetJavaVersion = regexp.MustCompile(`^(.*?)\s+version\s*(?:([^(]*?)\s*(?:\(\s*build\s*([^)]*?)\s*\))?)?$`)

// TestCreatedByParquetJava: every file billcons writes says who wrote it in
// the form parquet-java parses, with a semantic version.
func TestCreatedByParquetJava(t *testing.T) {
	dir := t.TempDir()
	w, err := NewBills(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := billing.UsageLine{LineID: "L1", AccountID: "m", ProductCode: "ecs", Currency: "CNY", Cycle: billing.Cycle(2024 * 12)}
	if err := w.Write(&l, &Decided{Payer: "P", DiscountOwner: "m", DiscountRule: "member"}); err != nil {
		t.Fatal(err)
	}
	outs, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs { // a bills file and the index
		got := parquettest.Open(t, filepath.Join(dir, o.Path)).Metadata().CreatedBy
		m := parquetJavaVersion.FindStringSubmatch(got)
		if m == nil || m[1] != "billcons" || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(m[2]) || m[3] == "" {
			t.Errorf("%s: created_by %q: parquet-java would not parse it as APP version SEMVER (build B)", o.Path, got)
		}
	}
}
