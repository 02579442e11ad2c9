package nhsdd

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"caregraph/store"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// ErrNoCodes is returned for a page with no readable code table under the code
// sections: most likely its layout changed.
var ErrNoCodes = errors.New("no code table found under National Codes, Permitted National Codes or Default Codes (has the page layout changed?)")

// The sections whose tables hold codes, as the NHS Data Dictionary names them.
var codeSections = map[string]bool{
	"national codes":           true,
	"permitted national codes": true,
	"default codes":            true,
}

// Page is what a data element page holds for us.
type Page struct {
	// Title is the data element's name as the page heads it.
	Title string `json:"title"`
	// Summary is the first paragraph after the title, if any.
	Summary string `json:"summary,omitempty"`
	// Sections lists the code sections read, in page order.
	Sections []string `json:"sections"`
	// Options are the codes of every code section in page order; a code that appears
	// twice is kept where it first appears.
	Options []store.Option `json:"options"`
	// PublishedOn is the publication date the page states, if it states one.
	PublishedOn *time.Time `json:"published_on,omitempty"`
}

// ParsePage reads a data element page. It fails with ErrNoCodes when no code section
// holds a table with Code and Description columns and at least one code.
func ParsePage(b []byte) (Page, error) {
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		return Page{}, fmt.Errorf("parse page: %w", err)
	}
	p := &parser{seen: map[string]bool{}}
	p.walk(doc)
	if len(p.page.Options) == 0 {
		return p.page, ErrNoCodes
	}
	p.page.PublishedOn = publishedOn(doc)
	return p.page, nil
}

type parser struct {
	page    Page
	section string
	seen    map[string]bool
	// afterTitle is set from the h1 until the first paragraph, for the summary.
	afterTitle bool
}

// walk visits the document in order: headings open and close sections, and tables
// inside a code section are read.
func (p *parser) walk(n *html.Node) {
	if n.Type == html.ElementNode {
		switch n.DataAtom {
		case atom.Script, atom.Style, atom.Noscript, atom.Template, atom.Head:
			return
		case atom.H1:
			if p.page.Title == "" {
				p.page.Title = inlineText(n)
				p.afterTitle = true
			}
		case atom.P:
			if p.afterTitle {
				if s := text(n); s != "" && !isCodeSection(s) {
					p.page.Summary = truncate(s, 1000)
					p.afterTitle = false
				}
			}
		case atom.Table:
			if p.table(n) {
				return
			}
			// Not a code table: it may still hold one (pages laid out with tables).
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				p.walk(c)
			}
			return
		}
		if name, ok := p.heading(n); ok {
			p.afterTitle = p.afterTitle && n.DataAtom == atom.H1
			if codeSections[name] {
				p.section = name
			} else if isStrongHeading(n) {
				p.section = ""
			}
			if !hasBlockChild(n) {
				return
			}
			// A heading left open by broken markup swallows what follows it.
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		p.walk(c)
	}
}

// heading reports whether n heads a section, and its folded text. Real headings (h1–h6,
// or an element styled as a title) open or close sections; a paragraph or emphasis whose
// whole text is a code section's name opens that section, since older pages set their
// headings that way.
func (p *parser) heading(n *html.Node) (string, bool) {
	if isStrongHeading(n) {
		return fold(inlineText(n)), true
	}
	switch n.DataAtom {
	case atom.P, atom.Strong, atom.B, atom.Dt, atom.Div, atom.Span:
		if hasBlockChild(n) {
			return "", false
		}
		if s := fold(text(n)); codeSections[s] {
			return s, true
		}
	}
	return "", false
}

func isStrongHeading(n *html.Node) bool {
	switch n.DataAtom {
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		return true
	}
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == "sectiontitle" || c == "title" || strings.HasSuffix(c, "-title") || strings.HasSuffix(c, "__title") {
			return !hasBlockChild(n)
		}
	}
	return false
}

// inlineText is the text of n up to its first block-level child.
func inlineText(n *html.Node) string {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (isBlock(c.DataAtom) || c.DataAtom == atom.Table) {
			break
		}
		writeText(&b, c)
	}
	return normalise(b.String())
}

func hasBlockChild(n *html.Node) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (isBlock(c.DataAtom) || c.DataAtom == atom.Table) {
			return true
		}
	}
	return false
}

func isCodeSection(s string) bool { return codeSections[fold(s)] }

// fold lower-cases, collapses spaces and drops a trailing colon, for matching names.
func fold(s string) string {
	return strings.TrimSpace(strings.TrimSuffix(strings.ToLower(normalise(s)), ":"))
}

// table reads one table and reports whether it was a code table. Outside a code section
// only a caption naming one makes it count; inside, a table without Code and
// Description headers is passed over.
func (p *parser) table(t *html.Node) bool {
	section := p.section
	if c := child(t, atom.Caption); c != nil {
		if s := fold(text(c)); codeSections[s] {
			section = s
		}
	}
	if section == "" {
		return false
	}
	rows := tableRows(t)
	codeCol, descCol, first := -1, -1, -1
	for i, r := range rows {
		codeCol, descCol = headerColumns(r)
		if codeCol >= 0 && descCol >= 0 {
			first = i + 1
			break
		}
	}
	if first < 0 {
		return false
	}
	found := false
	retiredGroup := false
	for _, r := range rows[first:] {
		cells := cellsByColumn(r)
		if len(cells) == 1 && span(r[0]) > 1 {
			// A row across the table groups the rows under it, as "Retired codes" does.
			retiredGroup = strings.Contains(fold(text(r[0])), "retired")
			continue
		}
		codeCell, ok := cells[codeCol]
		if !ok {
			continue
		}
		code := text(codeCell)
		if code == "" {
			continue
		}
		var label string
		descCell, hasDesc := cells[descCol]
		if hasDesc {
			label = text(descCell)
		}
		retired := retiredGroup || markedRetired(codeCell) || (hasDesc && markedRetired(descCell)) || rowMarkedRetired(r)
		code, codeRetired := stripRetiredMarker(code)
		if code == "" {
			continue
		}
		retired = retired || codeRetired || labelSaysRetired(label)
		found = true
		if p.seen[code] {
			continue
		}
		p.seen[code] = true
		p.page.Options = append(p.page.Options, store.Option{Code: code, Label: label, Retired: retired})
	}
	if found && (len(p.page.Sections) == 0 || p.page.Sections[len(p.page.Sections)-1] != section) {
		p.page.Sections = append(p.page.Sections, section)
	}
	return true
}

// tableRows returns the rows of t (in thead, tbody, tfoot or directly under it, but not
// those of nested tables), each as its cells.
func tableRows(t *html.Node) [][]*html.Node {
	var rows [][]*html.Node
	var visit func(n *html.Node)
	visit = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			switch c.DataAtom {
			case atom.Thead, atom.Tbody, atom.Tfoot:
				visit(c)
			case atom.Tr:
				var cells []*html.Node
				for d := c.FirstChild; d != nil; d = d.NextSibling {
					if d.Type == html.ElementNode && (d.DataAtom == atom.Td || d.DataAtom == atom.Th) {
						cells = append(cells, d)
					}
				}
				if len(cells) > 0 {
					rows = append(rows, cells)
				}
			}
		}
	}
	visit(t)
	return rows
}

// headerColumns finds the Code and Description columns of a header row.
func headerColumns(cells []*html.Node) (code, desc int) {
	code, desc = -1, -1
	for col, c := range cellsByColumn(cells) {
		switch strings.Trim(fold(text(c)), "* ") {
		case "code":
			code = col
		case "description":
			desc = col
		}
	}
	return code, desc
}

// cellsByColumn places the cells of a row by column, counting colspan.
func cellsByColumn(cells []*html.Node) map[int]*html.Node {
	out := make(map[int]*html.Node, len(cells))
	col := 0
	for _, c := range cells {
		out[col] = c
		col += span(c)
	}
	return out
}

func span(c *html.Node) int {
	n, err := strconv.Atoi(strings.TrimSpace(attr(c, "colspan")))
	if err != nil || n < 1 {
		return 1
	}
	return min(n, 100)
}

// markedRetired reports whether a cell is marked retired: a class naming it on the
// cell or inside it, or all of its text struck through.
func markedRetired(c *html.Node) bool {
	classed, struck, plain := false, false, false
	var visit func(n *html.Node, inDel bool)
	visit = func(n *html.Node, inDel bool) {
		if n.Type == html.ElementNode {
			classed = classed || classRetired(n)
			switch n.DataAtom {
			case atom.Del, atom.S, atom.Strike:
				inDel = true
			}
		}
		if n.Type == html.TextNode && strings.TrimSpace(n.Data) != "" {
			if inDel {
				struck = true
			} else {
				plain = true
			}
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			visit(ch, inDel)
		}
	}
	visit(c, false)
	return classed || (struck && !plain)
}

func rowMarkedRetired(cells []*html.Node) bool {
	return len(cells) > 0 && cells[0].Parent != nil && classRetired(cells[0].Parent)
}

func classRetired(n *html.Node) bool {
	for _, c := range strings.Fields(strings.ToLower(attr(n, "class"))) {
		if strings.Contains(c, "retired") {
			return true
		}
	}
	return false
}

// A description marks a retired code as "(Retired)", "(Retired 1 April 2021)" or
// "Retired: …". A description that is just the word, such as an employment status of
// "Retired", is an ordinary code.
var retiredLabel = regexp.MustCompile(`(?i)(\(\s*retired\b[^)]*\)|\[\s*retired\b[^\]]*\]|^retired\s*[:\-–]\s*\S)`)

func labelSaysRetired(label string) bool { return retiredLabel.MatchString(label) }

// stripRetiredMarker removes a "(retired)" note written after a code in its cell.
func stripRetiredMarker(code string) (string, bool) {
	if loc := retiredLabel.FindStringIndex(code); loc != nil && loc[0] > 0 {
		return strings.TrimSpace(code[:loc[0]]), true
	}
	return code, false
}

// text returns the text of n as a reader sees it: inline markup and links keep the
// spaces around them as written, block elements and line breaks separate words,
// non-breaking spaces are spaces, and runs of white space become one.
func text(n *html.Node) string {
	var b strings.Builder
	writeText(&b, n)
	return normalise(b.String())
}

// writeText writes the text of n with spaces for block boundaries, unnormalised.
func writeText(b *strings.Builder, n *html.Node) {
	var visit func(n *html.Node)
	visit = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
			return
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Template:
				return
			case atom.Br:
				b.WriteByte(' ')
				return
			}
		}
		block := n.Type == html.ElementNode && isBlock(n.DataAtom)
		if block {
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c)
		}
		if block {
			b.WriteByte(' ')
		}
	}
	visit(n)
}

func isBlock(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Li, atom.Ul, atom.Ol, atom.Dl, atom.Dt, atom.Dd, atom.Tr, atom.Td, atom.Th,
		atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Section, atom.Article, atom.Blockquote,
		atom.Pre, atom.Hr, atom.Header, atom.Footer, atom.Figure, atom.Figcaption, atom.Caption:
		return true
	}
	return false
}

// normalise folds every kind of white space to single spaces and drops invisible
// characters (zero-width spaces, soft hyphens, byte order marks).
func normalise(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u00ad' || r == '\ufeff':
			continue
		case unicode.IsSpace(r) || r == '\u00a0' || r == '\u2007' || r == '\u202f':
			space = true
			continue
		case unicode.IsControl(r):
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := strings.LastIndex(s[:n], " ")
	if cut <= 0 {
		cut = n
	}
	return strings.ToValidUTF8(s[:cut], "") + "…"
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return a.Val
		}
	}
	return ""
}

func child(n *html.Node, a atom.Atom) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.DataAtom == a {
			return c
		}
	}
	return nil
}

var (
	// publishedText finds a stated publication date: "Publication Date: 18 September
	// 2014", "Published 3 June 2026", "Date published: 2026-06-03".
	publishedText = regexp.MustCompile(`(?i)\b(?:publication date|date published|published(?: on)?|release date)\s*:?\s*` +
		`(\d{1,2}(?:st|nd|rd|th)? (?:january|february|march|april|may|june|july|august|september|october|november|december) \d{4}|\d{4}-\d{2}-\d{2})`)
	publishedMeta = map[string]bool{
		"dcterms.issued": true, "dcterms.modified": true, "dc.date.issued": true, "dc.date.modified": true,
		"dc.date": true, "article:published_time": true, "article:modified_time": true, "publication_date": true,
	}
)

// publishedOn returns the publication date a page states: a date in a recognised meta
// element, else a "Publication Date: …" style statement in its text.
func publishedOn(doc *html.Node) *time.Time {
	var found *time.Time
	var visit func(n *html.Node)
	visit = func(n *html.Node) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode && n.DataAtom == atom.Meta {
			name := strings.ToLower(attr(n, "name") + attr(n, "property"))
			if publishedMeta[name] {
				found = parseDate(attr(n, "content"))
			}
		}
		for c := n.FirstChild; c != nil && found == nil; c = c.NextSibling {
			visit(c)
		}
	}
	visit(doc)
	if found != nil {
		return found
	}
	if m := publishedText.FindStringSubmatch(text(doc)); m != nil {
		return parseDate(m[1])
	}
	return nil
}

var ordinal = regexp.MustCompile(`(?i)^(\d{1,2})(?:st|nd|rd|th)\b`)

func parseDate(s string) *time.Time {
	s = ordinal.ReplaceAllString(strings.TrimSpace(s), "$1")
	for _, layout := range []string{"2006-01-02", time.RFC3339, "2 January 2006", "02 January 2006"} {
		v := s
		if layout == "2006-01-02" && len(v) > 10 {
			v = v[:10]
		}
		if t, err := time.Parse(layout, titleMonth(v)); err == nil {
			d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
			return &d
		}
	}
	return nil
}

// titleMonth capitalises a month name so that time.Parse accepts "3 june 2026".
func titleMonth(s string) string {
	f := strings.Fields(s)
	if len(f) == 3 && len(f[1]) > 1 {
		f[1] = strings.ToUpper(f[1][:1]) + strings.ToLower(f[1][1:])
		return strings.Join(f, " ")
	}
	return s
}
