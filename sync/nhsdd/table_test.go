package nhsdd

import (
	"strings"
	"testing"
)

func TestCompiledTable(t *testing.T) {
	es, err := Elements()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 48 {
		t.Fatalf("%d data elements, want the 48 of the list", len(es))
	}
	byKey := map[string]Element{}
	for _, e := range es {
		byKey[e.Key] = e
		if len(e.Tags) == 0 {
			t.Errorf("%s has no tags", e.Key)
		}
	}
	mh := byKey["main_specialty_code_mental_health"]
	if !strings.Contains(mh.URL, "main_specialty_code__mental_health_.html") || !strings.Contains(mh.Name, "Mental Health") {
		t.Errorf("the mental-health variant is not named as such: %+v", mh)
	}
	if e := byKey["ethnic_category"]; e.URL != "https://www.datadictionary.nhs.uk/data_elements/ethnic_category.html" || strings.Join(e.Tags, ",") != "demographic" {
		t.Errorf("ethnic_category: %+v", e)
	}
}

func TestParseTableFailsLoudly(t *testing.T) {
	const head = "Intro text.\n\n| Key | Name | NHS DD page | Tags |\n| --- | --- | --- | --- |\n"
	const row = "| ethnic_category | Ethnic Category | https://www.datadictionary.nhs.uk/data_elements/ethnic_category.html | demographic |\n"
	tests := []struct {
		name string
		md   string
		want string
	}{
		{"ok", head + row + "\nLater prose | with a pipe |\n", ""},
		{"the old format with link cells", "| Dataset Name | NHS DD URL | Categories |\n|---|---|---|\n| Ethnic Category | [Link](https://www.datadictionary.nhs.uk/data_elements/ethnic_category.html) | demographics |\n", "no table with the header"},
		{"no rows", head, "the table has no rows"},
		{"no delimiter", "| Key | Name | NHS DD page | Tags |\n" + row, "delimiter"},
		{"missing cell", head + "| ethnic_category | Ethnic Category | demographic |\n", "3 cells, want 4"},
		{"bad key", head + strings.Replace(row, "ethnic_category |", "Ethnic Category! |", 1), "key \"Ethnic Category!\""},
		{"duplicate key", head + row + strings.Replace(row, "ethnic_category.html", "other.html", 1), "already used on line 5"},
		{"duplicate page", head + row + strings.Replace(row, "| ethnic_category |", "| ethnic_again |", 1), "same page as line 5"},
		{"markdown link instead of URL", head + strings.Replace(row, "https://www.datadictionary.nhs.uk/data_elements/ethnic_category.html", "[Link](https://www.datadictionary.nhs.uk/data_elements/ethnic_category.html)", 1), "not an absolute https URL"},
		{"not a data element page", head + strings.Replace(row, "data_elements/ethnic_category.html", "attributes/ethnic_category.html", 1), "not a data element page"},
		{"bad tag", head + strings.Replace(row, "| demographic |", "| Demographic Data |", 1), "tag \"Demographic Data\""},
		{"no name", head + strings.Replace(row, "| Ethnic Category |", "|  |", 1), "has no name"},
		{"garbage line inside the table", head + row + "ethnic_category, oops\n", "not a table row"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := ParseTable(tt.md)
			if tt.want == "" {
				if err != nil || len(es) != 1 {
					t.Fatalf("%v, %v", es, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRebase(t *testing.T) {
	page := "https://www.datadictionary.nhs.uk/data_elements/ethnic_category.html"
	tests := map[string]string{
		"https://www.datadictionary.nhs.uk": page,
		"http://127.0.0.1:8123":             "http://127.0.0.1:8123/data_elements/ethnic_category.html",
		"https://mirror.example/nhsdd/":     "https://mirror.example/nhsdd/data_elements/ethnic_category.html",
	}
	for base, want := range tests {
		got, err := Rebase(page, base)
		if err != nil || got != want {
			t.Errorf("Rebase(%s) = %s, %v; want %s", base, got, err, want)
		}
	}
	if _, err := Rebase(page, "mirror.example"); err == nil {
		t.Error("a base without scheme was accepted")
	}
}
