package readers

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
)

// TestOptionalUsageColumns: usage_quantity, usage_unit, region,
// resource_name and tags are carried to the bills under their names (the
// Alibaba profile's Usage, UsageUnit, Region, NickName and Tag too); an
// empty value is null, a usage_quantity that is not an exact decimal or
// tags that are not key:value pairs reject the row, and tags are written
// as a JSON object (CONTRACT.md, Values; docs/inputs.md).
func TestOptionalUsageColumns(t *testing.T) {
	for _, tt := range []struct {
		profile, csv string
		codes        []string // per row: "" for a line, else the reason
		tags         []string // per line: tags as carried ("-" for null)
	}{
		{ProfileBillcons, header + ",usage_quantity,usage_unit,region,resource_name,tags\n" +
			"L1,m1,ecs,2024-01,payg,2024-01-01T00:00:00+08:00,2024-01-02T00:00:00+08:00,1,CNY,settled,2024-01-03T00:00:00+08:00,,24,Hours,cn-hangzhou,web,env:prod;team:data\n" +
			"L2,m1,ecs,2024-01,payg,2024-01-01T00:00:00+08:00,2024-01-02T00:00:00+08:00,1,CNY,settled,2024-01-03T00:00:00+08:00,,,,,,\n" +
			"L3,m1,ecs,2024-01,payg,2024-01-01T00:00:00+08:00,2024-01-02T00:00:00+08:00,1,CNY,settled,2024-01-03T00:00:00+08:00,,2.4e1,Hours,,,\n" +
			"L4,m1,ecs,2024-01,payg,2024-01-01T00:00:00+08:00,2024-01-02T00:00:00+08:00,1,CNY,settled,2024-01-03T00:00:00+08:00,,1,Hours,,,env\n",
			[]string{"", "", "invalid_usage_quantity", "invalid_tags"}, []string{`{"env":"prod","team":"data"}`, "-"}},
		{ProfileAlibaba, "RecordID,OwnerID,ProductCode,BillingCycle,SubscriptionType,UsageStartTime,UsageEndTime,PretaxGrossAmount,Currency,Status,PaymentTime,Usage,UsageUnit,Region,NickName,Tag\n" +
			"r1,o1,ecs,2024-01,PayAsYouGo,2024-01-01 00:00:00,2024-01-02 00:00:00,1,CNY,PayFinish,2024-01-03 00:00:00,24.5,Hours,cn-hangzhou,web,key:env value:prod\n" +
			"r2,o1,ecs,2024-01,PayAsYouGo,2024-01-01 00:00:00,2024-01-02 00:00:00,1,CNY,PayFinish,2024-01-03 00:00:00,lots,Hours,cn-hangzhou,web,\n",
			[]string{"", "invalid_usage_quantity"}, []string{`{"env":"prod"}`}},
	} {
		tab, err := Open(writeFile(t, "u.csv", []byte(tt.csv)))
		if err != nil {
			t.Fatal(err)
		}
		var extras ExtraColumns
		dec, err := NewUsageDecoderWith(tab, &extras, UsageOptions{Profile: tt.profile, Zone: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		var codes, tags []string
		if err := Each(context.Background(), tab, func(r *Row) error {
			var l billing.UsageLine
			if e := dec.Decode(r, &l); e != nil {
				codes = append(codes, e.Code)
				return nil
			}
			codes = append(codes, "")
			i := slices.Index(extras.Names(), "tags")
			if i < 0 {
				t.Fatalf("%s: no tags column among %q", tt.profile, extras.Names())
			}
			if l.Extra[i].Valid {
				tags = append(tags, l.Extra[i].S)
			} else {
				tags = append(tags, "-")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		tab.Close()
		for _, want := range []string{"usage_quantity", "usage_unit", "region", "resource_name", "tags"} {
			if !slices.Contains(extras.Names(), want) {
				t.Errorf("%s: %s is not carried (extras %q)", tt.profile, want, extras.Names())
			}
		}
		if !slices.Equal(codes, tt.codes) || !slices.Equal(tags, tt.tags) {
			t.Errorf("%s: reasons %q, tags %q; want %q, %q", tt.profile, codes, tags, tt.codes, tt.tags)
		}
	}
}

// TestTagsRemembered: a decoder remembers the tags values it has read, up
// to tagsRemembered of them; every line still carries exactly what
// billing.ParseTags makes of its own value, a bad value rejects its row
// each time it comes, and values past the memory's size are read as well.
func TestTagsRemembered(t *testing.T) {
	var b strings.Builder
	b.WriteString(header + ",tags\n")
	var raws []string
	for i := range 3 * tagsRemembered {
		var raw string
		switch {
		case i%7 == 3:
			raw = "env" // not key:value
		case i < tagsRemembered+200:
			raw = fmt.Sprintf("env:prod;team:t%d", i%(tagsRemembered+100))
		default:
			raw = fmt.Sprintf("team:t%d;env:dev", i%50)
		}
		raws = append(raws, raw)
		fmt.Fprintf(&b, "L%d,m1,ecs,2024-01,payg,2024-01-01T00:00:00+08:00,2024-01-02T00:00:00+08:00,1,CNY,settled,2024-01-03T00:00:00+08:00,,%s\n", i, raw)
	}
	dec, lines, errs := decodeFile(t, writeFile(t, "u.csv", []byte(b.String())))
	for _, e := range errs {
		i := e.Pos.Row - 1
		if _, err := billing.ParseTags(raws[i]); err == nil || e.Code != "invalid_tags" {
			t.Errorf("row %d (%q): %v", i+1, raws[i], e)
		}
	}
	for _, l := range lines {
		i, _ := strconv.Atoi(strings.TrimPrefix(l.LineID, "L"))
		if want, err := billing.ParseTags(raws[i]); err != nil || l.Extra[0].S != want {
			t.Errorf("row %d (%q): tags %s; want %s (%v)", i+1, raws[i], l.Extra[0].S, want, err)
		}
	}
	if len(lines)+len(errs) != len(raws) {
		t.Fatalf("%d rows read of %d", len(lines)+len(errs), len(raws))
	}
	if len(dec.tags) != tagsRemembered {
		t.Errorf("%d tags values remembered; want %d", len(dec.tags), tagsRemembered)
	}
}
