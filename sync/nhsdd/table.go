// Package nhsdd keeps the NHS Data Dictionary datasets current: it reads our table of
// data elements (docs/nhs-data-dictionary-datasets.md), fetches each element's page,
// reads the code tables under "National Codes", "Permitted National Codes" and "Default
// Codes", and stores the options through the store's guarded sync, which never blanks a
// dataset and versions only real changes.
package nhsdd

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"caregraph/docs"
)

// Element is one row of the table: a data element offered as a dataset.
type Element struct {
	Key  string
	Name string
	URL  string
	Tags []string
}

var (
	keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,99}$`)
	tagPattern = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// Elements parses the table compiled into the binary.
func Elements() ([]Element, error) {
	return ParseTable(docs.NHSDDDatasets)
}

// ParseTable reads the first markdown table whose header is Key | Name | NHS DD page |
// Tags. Everything about it is checked, and any fault fails the whole table with the
// line it is on: the system we replace silently read no rows from a table whose format
// had changed, and synced nothing for months.
func ParseTable(md string) ([]Element, error) {
	lines := strings.Split(md, "\n")
	start := -1
	for i, l := range lines {
		cells, ok := splitRow(l)
		if ok && len(cells) == 4 && strings.EqualFold(cells[0], "key") && strings.EqualFold(cells[1], "name") &&
			strings.EqualFold(cells[2], "nhs dd page") && strings.EqualFold(cells[3], "tags") {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("NHS DD dataset table: no table with the header | Key | Name | NHS DD page | Tags | found")
	}
	if start+1 >= len(lines) || !isDelimiter(lines[start+1]) {
		return nil, fmt.Errorf("NHS DD dataset table line %d: the header must be followed by a | --- | delimiter row", start+2)
	}
	var out []Element
	seenKey := map[string]int{}
	seenURL := map[string]int{}
	for i := start + 2; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" {
			break
		}
		n := i + 1
		cells, ok := splitRow(line)
		if !ok {
			return nil, fmt.Errorf("NHS DD dataset table line %d: not a table row: %q", n, line)
		}
		if len(cells) != 4 {
			return nil, fmt.Errorf("NHS DD dataset table line %d: %d cells, want 4 (Key | Name | NHS DD page | Tags)", n, len(cells))
		}
		e := Element{Key: cells[0], Name: cells[1], URL: cells[2]}
		if !keyPattern.MatchString(e.Key) {
			return nil, fmt.Errorf("NHS DD dataset table line %d: key %q must be lower-case letters, digits, _ and -", n, e.Key)
		}
		if prev, dup := seenKey[e.Key]; dup {
			return nil, fmt.Errorf("NHS DD dataset table line %d: key %q already used on line %d", n, e.Key, prev)
		}
		seenKey[e.Key] = n
		if e.Name == "" {
			return nil, fmt.Errorf("NHS DD dataset table line %d: %s has no name", n, e.Key)
		}
		if err := checkPageURL(e.URL); err != nil {
			return nil, fmt.Errorf("NHS DD dataset table line %d: %s: %w", n, e.Key, err)
		}
		if prev, dup := seenURL[e.URL]; dup {
			return nil, fmt.Errorf("NHS DD dataset table line %d: %s points at the same page as line %d", n, e.Key, prev)
		}
		seenURL[e.URL] = n
		for _, t := range strings.Split(cells[3], ",") {
			t = strings.TrimSpace(t)
			if t == "" {
				continue
			}
			if !tagPattern.MatchString(t) {
				return nil, fmt.Errorf("NHS DD dataset table line %d: tag %q must be lower-case words joined by -", n, t)
			}
			e.Tags = append(e.Tags, t)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("NHS DD dataset table line %d: the table has no rows", start+1)
	}
	return out, nil
}

// splitRow splits a markdown table row "| a | b |" into trimmed cells.
func splitRow(line string) ([]string, bool) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || len(line) < 2 {
		return nil, false
	}
	parts := strings.Split(line[1:len(line)-1], "|")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts, true
}

func isDelimiter(line string) bool {
	cells, ok := splitRow(line)
	if !ok {
		return false
	}
	for _, c := range cells {
		if strings.Trim(c, ":-") != "" || !strings.Contains(c, "-") {
			return false
		}
	}
	return true
}

// checkPageURL accepts the absolute https URL of a data element page.
func checkPageURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("page %q is not an absolute https URL", s)
	}
	if !strings.HasPrefix(u.Path, "/data_elements/") || !strings.HasSuffix(u.Path, ".html") {
		return fmt.Errorf("page %q is not a data element page (/data_elements/….html)", s)
	}
	return nil
}

// Rebase moves a listed page URL onto base (NHS_DD_BASE_URL): its scheme and host
// replace the page's, and a path on base is put in front of the page's path, so that a
// mirror at https://mirror.example/nhsdd serves /nhsdd/data_elements/….
func Rebase(page, base string) (string, error) {
	u, err := url.Parse(page)
	if err != nil {
		return "", fmt.Errorf("page URL %q: %w", page, err)
	}
	b, err := url.Parse(base)
	if err != nil || b.Scheme == "" || b.Host == "" {
		return "", fmt.Errorf("NHS_DD_BASE_URL %q is not an absolute URL", base)
	}
	u.Scheme, u.Host = b.Scheme, b.Host
	u.Path = strings.TrimRight(b.Path, "/") + u.Path
	u.RawPath = ""
	return u.String(), nil
}
