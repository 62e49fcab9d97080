package writers

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestFocusTablesDocumented: docs/output.md shows the product table the
// FOCUS view uses, row for row, and every region.
func TestFocusTablesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/output.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range FocusProducts {
		row := fmt.Sprintf("| %s | %s | %s | %s | %s |", p.Code, p.Service, p.Category, p.Subcategory, p.ResourceType)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/output.md lacks the product row %q", row)
		}
	}
	flat := strings.Join(strings.Fields(string(doc)), " ")
	for _, r := range FocusRegions {
		if !strings.Contains(flat, r[0]+" "+r[1]) {
			t.Errorf("docs/output.md lacks the region %s %s", r[0], r[1])
		}
	}
}
