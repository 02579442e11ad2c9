package nhsdd

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the parser's output")

// golden is what a page parses to: the page, or the error.
type golden struct {
	Page  *Page  `json:"page,omitempty"`
	Error string `json:"error,omitempty"`
}

// TestParsePagesGolden parses every page in testdata/ and compares the result with its
// .golden.json file; run with -update to rewrite them after a deliberate change, and
// read the diff.
func TestParsePagesGolden(t *testing.T) {
	pages, err := filepath.Glob("testdata/*.html")
	if err != nil || len(pages) < 8 {
		t.Fatalf("test pages: %v (%d found)", err, len(pages))
	}
	for _, path := range pages {
		name := strings.TrimSuffix(filepath.Base(path), ".html")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var g golden
			page, err := ParsePage(b)
			if err != nil {
				g.Error = err.Error()
			} else {
				g.Page = &page
			}
			got, _ := json.MarshalIndent(g, "", "  ")
			got = append(got, '\n')
			file := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -run TestParsePagesGolden -update ./sync/nhsdd/ to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s parses differently from %s:\n%s", path, file, got)
			}
		})
	}
}

// TestParsePageFacts states the facts the golden files must hold, so that an -update
// cannot quietly bless a wrong answer.
func TestParsePageFacts(t *testing.T) {
	parse := func(t *testing.T, name string) Page {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("testdata", name+".html"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParsePage(b)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	label := func(p Page, code string) (string, bool, bool) {
		for _, o := range p.Options {
			if o.Code == code {
				return o.Label, o.Retired, true
			}
		}
		return "", false, false
	}

	t.Run("ethnic category: national and default codes, nothing from the alias and where-used tables", func(t *testing.T) {
		p := parse(t, "ethnic_category")
		if len(p.Options) != 18 || p.Options[0].Code != "A" || p.Options[17].Code != "99" {
			t.Errorf("options: %v", p.Options)
		}
		if strings.Join(p.Sections, ",") != "national codes,default codes" || p.Title != "ETHNIC CATEGORY" {
			t.Errorf("sections %v, title %q", p.Sections, p.Title)
		}
		if _, _, ok := label(p, "Plural"); ok {
			t.Error("the Also Known As table was read as codes")
		}
		if !strings.HasPrefix(p.Summary, "The 16+1 ethnic data categories") {
			t.Errorf("summary: %q", p.Summary)
		}
	})
	t.Run("links and spans inside a cell keep their spaces", func(t *testing.T) {
		p := parse(t, "gender_identity_code")
		if l, _, _ := label(p, "Z"); l != "Not Stated (PERSON asked but declined to provide a response)" {
			t.Errorf("Z = %q", l)
		}
		if l, _, _ := label(p, "4"); l != "Other (not listed)" {
			t.Errorf("no-break spaces: 4 = %q", l)
		}
		if p.PublishedOn == nil || p.PublishedOn.Format("2006-01-02") != "2026-06-03" {
			t.Errorf("published on %v", p.PublishedOn)
		}
	})
	t.Run("td headers without thead, empty description kept, line breaks", func(t *testing.T) {
		p := parse(t, "admission_source__hospital_provider_spell_")
		l, _, ok := label(p, "37")
		if !ok || l != "" {
			t.Errorf("code 37: %q, present %v", l, ok)
		}
		if l, _, _ := label(p, "98"); l != "Not applicable - used for PATIENTS admitted as a transfer from another Hospital Provider Spell" {
			t.Errorf("98 = %q", l)
		}
		if len(p.Options) != 18 {
			t.Errorf("%d options, want 18", len(p.Options))
		}
	})
	t.Run("permitted national codes with upper-case headers", func(t *testing.T) {
		p := parse(t, "treatment_function_code__mental_health_")
		if len(p.Options) != 14 || p.Options[0].Code != "700" || p.Sections[0] != "permitted national codes" {
			t.Errorf("options %v, sections %v", p.Options, p.Sections)
		}
	})
	t.Run("retired codes flagged, the word itself is not a flag", func(t *testing.T) {
		p := parse(t, "consultation_medium_used")
		for code, want := range map[string]bool{"01": false, "98": false, "08": true, "09": true, "03": true, "07": true} {
			if _, retired, ok := label(p, code); !ok || retired != want {
				t.Errorf("code %s retired = %v (present %v), want %v", code, retired, ok, want)
			}
		}
		if labelSaysRetired("Retired") || labelSaysRetired("Retired from paid work") {
			t.Error("a plain 'Retired' label was taken for a retired code")
		}
	})
	t.Run("old layout inside a layout table with bold headings", func(t *testing.T) {
		p := parse(t, "smoking_status_code")
		if len(p.Options) != 6 || p.Options[5].Code != "9" || p.PublishedOn == nil {
			t.Errorf("options %v, published %v", p.Options, p.PublishedOn)
		}
		if l, _, _ := label(p, "Z"); l != "Not Stated (PERSON asked but declined to provide a response)" {
			t.Errorf("Z = %q", l)
		}
	})
	t.Run("malformed markup still yields the rows it holds", func(t *testing.T) {
		p := parse(t, "malformed")
		if len(p.Options) != 7 || p.Options[3].Label != "Other forceps, not breech" {
			t.Errorf("options %v", p.Options)
		}
	})
	for _, name := range []string{"layout_changed", "error_page"} {
		t.Run(name+" is an error", func(t *testing.T) {
			b, _ := os.ReadFile(filepath.Join("testdata", name+".html"))
			if _, err := ParsePage(b); !errors.Is(err, ErrNoCodes) {
				t.Errorf("err = %v, want ErrNoCodes", err)
			}
		})
	}
}

func TestParsePageEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		html string
		want string
	}{
		{"caption names the section", `<table><caption>National Codes</caption><tr><th>code</th><th>DESCRIPTION</th></tr><tr><td>1</td><td>One</td></tr></table>`, "1=One"},
		{"no section, no codes", `<table><tr><th>Code</th><th>Description</th></tr><tr><td>1</td><td>One</td></tr></table>`, "error"},
		{"description column first, colspan before it", `<h2>Default Codes</h2><table><tr><th colspan="2">Description</th><th>Code</th></tr><tr><td colspan="2">Not known</td><td>9</td></tr></table>`, "9=Not known"},
		{"duplicate code keeps the first", `<h2>National Codes</h2><table><tr><th>Code</th><th>Description</th></tr><tr><td>1</td><td>One</td></tr></table><h2>Default Codes</h2><table><tr><th>Code</th><th>Description</th></tr><tr><td>1</td><td>Uno</td></tr><tr><td>9</td><td>Nine</td></tr></table>`, "1=One;9=Nine"},
		{"section closed by another heading", `<h2>National Codes</h2><h2>Where Used</h2><table><tr><th>Code</th><th>Description</th></tr><tr><td>1</td><td>One</td></tr></table>`, "error"},
		{"row without description cell", `<h4>National Codes</h4><table><tr><td>Code</td><td>Description</td></tr><tr><td>X</td></tr></table>`, "X="},
		{"code marked retired in its cell", `<h2>National Codes</h2><table><tr><th>Code</th><th>Description</th></tr><tr><td>0 (Retired)</td><td>Not Known</td></tr></table>`, "0=Not Known!"},
		{"zero-width and soft hyphen dropped", "<h2>National Codes</h2><table><tr><th>Code</th><th>Description</th></tr><tr><td>\u200b1</td><td>Tele\u00adphone\u00a0 call</td></tr></table>", "1=Telephone call"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePage([]byte("<html><body>" + tt.html + "</body></html>"))
			got := "error"
			if err == nil {
				var parts []string
				for _, o := range p.Options {
					s := o.Code + "=" + o.Label
					if o.Retired {
						s += "!"
					}
					parts = append(parts, s)
				}
				got = strings.Join(parts, ";")
			}
			if got != tt.want {
				t.Errorf("got %q, want %q (err %v)", got, tt.want, err)
			}
		})
	}
}

// FuzzParsePage feeds the parser arbitrary bytes: it must never panic, and whatever it
// returns must be well formed (codes present and trimmed, labels valid text, no code twice).
func FuzzParsePage(f *testing.F) {
	// The small pages seed the corpus; the large ones slow the mutator to a crawl
	// without reaching code the small ones do not.
	pages, _ := filepath.Glob("testdata/*.html")
	for _, p := range pages {
		if b, err := os.ReadFile(p); err == nil && len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Add([]byte(`<h2>National Codes</h2><table><tr><th>Code<th>Description<tr><td>1<td>x`))
	f.Add([]byte(`<p><b>Default Codes</b></p><table><caption>National Codes</caption><tr><td colspan=2>Retired codes<tr><td><del>9</del><td>Old (Retired)</table>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePage(b)
		if err != nil {
			if !errors.Is(err, ErrNoCodes) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, o := range p.Options {
			if o.Code == "" || strings.TrimSpace(o.Code) != o.Code || strings.TrimSpace(o.Label) != o.Label {
				t.Fatalf("untidy option %+v", o)
			}
			if strings.Contains(o.Code, "  ") || strings.Contains(o.Label, "  ") {
				t.Fatalf("white space not collapsed: %+v", o)
			}
			if seen[o.Code] {
				t.Fatalf("code %q twice", o.Code)
			}
			seen[o.Code] = true
			if !utf8.ValidString(o.Label) && utf8.ValidString(string(b)) {
				t.Fatalf("invalid UTF-8 label from valid input: %q", o.Label)
			}
		}
	})
}
