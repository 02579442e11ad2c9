package main

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"caregraph/auth"
	"caregraph/graph/model"
	"caregraph/store"
)

// guardedTypes hold data about people: every path to them through the schema must
// refuse callers the Policy does not admit. The audit issues add Patient, Visit,
// Submission and the submission errors here.
var guardedTypes = []string{"User", "Token", "AccessLogEntry", "TotpEnrolment",
	"Submission", "Patient", "Visit", "Transfer", "SubmissionError", "PatientKpi", "OdsReviewItem"}

// selfScoped are fields that answer about the caller only, so they refuse an anonymous
// caller but give anyone signed in their own data. For them the walk checks that a
// user of another unit sees nothing of the victim unit's.
var selfScoped = map[string]string{
	"Query.me":             "the caller's own account",
	"Query.myTokens":       "the caller's own tokens",
	"Mutation.enrolTotp":   "sets up the caller's own second factor",
	"Mutation.confirmTotp": "confirms the caller's own second factor",
	// login answers to the credentials given, not to the caller: with the placeholder
	// (wrong) password it refuses everyone with UNAUTHENTICATED.
	"Mutation.login": "public entry point; the credentials are the check",
}

// mustReach are paths the walk has to find, so that a broken introspection query
// cannot make the test pass by finding nothing.
var mustReach = []string{
	"Query.me", "Query.users.nodes", "Query.users.edges.node", "Query.user", "Query.tokens",
	"Query.accessLog.nodes", "Query.node<User>", "Query.node<Token>", "Query.node<AccessLogEntry>",
	"Query.paediatricDiabetesUnit.users", "Mutation.createUser.user", "Mutation.updateUser",
	"Mutation.revokeToken", "Mutation.login.user", "Mutation.enrolTotp",
	"Query.submissions", "Query.submission", "Query.patients.nodes", "Query.patient", "Query.node<Submission>",
	"Query.node<Patient>", "Query.paediatricDiabetesUnit.submissions", "Query.paediatricDiabetesUnit.patients.nodes",
	"Mutation.submitAuditCsv.submission",
}

// schemaType is the part of an introspected type the walk needs.
type schemaType struct {
	Kind          string
	Name          string
	Fields        []schemaField
	InputFields   []schemaArg
	PossibleTypes []struct{ Name string }
	EnumValues    []struct{ Name string }
}

type schemaField struct {
	Name string
	Args []schemaArg
	Type typeRef
}

type schemaArg struct {
	Name string
	Type typeRef
}

type typeRef struct {
	Kind   string
	Name   *string
	OfType *typeRef
}

func (t typeRef) named() string {
	if t.Name != nil {
		return *t.Name
	}
	if t.OfType != nil {
		return t.OfType.named()
	}
	return ""
}

const introspection = `{ __schema { queryType { name } mutationType { name } types {
  kind name possibleTypes { name } enumValues { name }
  fields(includeDeprecated: true) { name args { name type { ...Ref } } type { ...Ref } }
  inputFields { name type { ...Ref } } } } }
fragment Ref on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }`

// step is one field on a path from a root type, with the type condition to apply to
// its result when the field's type is an interface or union.
type step struct {
	parent string
	field  schemaField
	on     string
}

type schemaWalk struct {
	types   map[string]schemaType
	reaches map[string]bool
}

func newSchemaWalk(types []schemaType) *schemaWalk {
	w := &schemaWalk{types: map[string]schemaType{}, reaches: map[string]bool{}}
	for _, t := range types {
		w.types[t.Name] = t
	}
	for _, g := range guardedTypes {
		if _, ok := w.types[g]; ok {
			w.reaches[g] = true
		}
	}
	// A type reaches a guarded one when a field, or a possible type, does: iterate to a
	// fixed point.
	for changed := true; changed; {
		changed = false
		for name, t := range w.types {
			if w.reaches[name] || strings.HasPrefix(name, "__") {
				continue
			}
			for _, f := range t.Fields {
				if w.reaches[f.Type.named()] {
					w.reaches[name], changed = true, true
				}
			}
			for _, p := range t.PossibleTypes {
				if w.reaches[p.Name] {
					w.reaches[name], changed = true, true
				}
			}
		}
	}
	return w
}

func (w *schemaWalk) guarded(name string) bool { return slices.Contains(guardedTypes, name) }

// paths lists every path from root that ends at a guarded type, never passing through
// one (the guard on the first guarded type is what is tested) and never visiting a
// type twice on one path.
func (w *schemaWalk) paths(root string) [][]step {
	var out [][]step
	var walk func(typeName string, prefix []step, seen map[string]bool)
	walk = func(typeName string, prefix []step, seen map[string]bool) {
		for _, f := range w.types[typeName].Fields {
			target := f.Type.named()
			if !w.reaches[target] {
				continue
			}
			targets := []string{""}
			if tt := w.types[target]; tt.Kind == "INTERFACE" || tt.Kind == "UNION" {
				targets = nil
				for _, p := range tt.PossibleTypes {
					if w.reaches[p.Name] {
						targets = append(targets, p.Name)
					}
				}
			}
			for _, on := range targets {
				next := target
				if on != "" {
					next = on
				}
				path := append(slices.Clone(prefix), step{parent: typeName, field: f, on: on})
				if w.guarded(next) {
					out = append(out, path)
					continue
				}
				if seen[next] {
					continue
				}
				seen[next] = true
				walk(next, path, seen)
				delete(seen, next)
			}
		}
	}
	walk(root, nil, map[string]bool{root: true})
	return out
}

func pathName(path []step) string {
	var b strings.Builder
	b.WriteString(path[0].parent)
	for _, s := range path {
		b.WriteString("." + s.field.Name)
		if s.on != "" {
			b.WriteString("<" + s.on + ">")
		}
	}
	return b.String()
}

// victim is what the placeholders point at: objects of unit PZ001.
type victim struct {
	pzCode  string
	email   string
	userID  string
	tokenID string
	logID   string
	// The victim unit's audit data: an active submission of the open audit year, one of
	// its patients and that patient's NHS number.
	year         int
	submissionID string
	patientID    string
	nhsNumber    string
}

// placeholder returns a GraphQL literal for an argument or input field, and whether it
// names one of the victim's objects. target is the type the path's field leads to, so
// that an `id` names an object of that type.
func (w *schemaWalk) placeholder(name string, t typeRef, target string, v victim) (string, bool) {
	if t.Kind == "NON_NULL" {
		return w.placeholder(name, *t.OfType, target, v)
	}
	if t.Kind == "LIST" {
		lit, names := w.placeholder(name, *t.OfType, target, v)
		return "[" + lit + "]", names
	}
	switch strings.ToLower(name) {
	case "pzcode", "pzcodes":
		return strconv.Quote(v.pzCode), true
	case "userid":
		return strconv.Quote(v.userID), true
	case "email":
		return strconv.Quote(v.email), true
	case "id":
		switch target {
		case "Token":
			return strconv.Quote(v.tokenID), true
		case "AccessLogEntry":
			return strconv.Quote(v.logID), true
		case "PaediatricDiabetesUnit":
			return strconv.Quote(model.EncodeID("PaediatricDiabetesUnit", v.pzCode)), true
		case "Submission":
			return strconv.Quote(v.submissionID), true
		case "Patient":
			return strconv.Quote(v.patientID), true
		}
		return strconv.Quote(v.userID), true
	case "password", "currentpassword", "newpassword":
		return strconv.Quote("placeholder password"), false
	case "code", "totp":
		return strconv.Quote("000000"), false
	case "audityear":
		return strconv.Itoa(v.year), false
	}
	tt := w.types[t.named()]
	switch {
	case tt.Kind == "ENUM":
		return tt.EnumValues[0].Name, false
	case tt.Kind == "INPUT_OBJECT":
		var fields []string
		names := false
		for _, f := range tt.InputFields {
			lit, n := w.placeholder(f.Name, f.Type, target, v)
			if f.Type.Kind == "NON_NULL" || n {
				fields = append(fields, f.Name+": "+lit)
				names = names || n
			}
		}
		return "{" + strings.Join(fields, ", ") + "}", names
	case tt.Name == "Int", tt.Name == "Float":
		return "1", false
	case tt.Name == "Boolean":
		return "false", false
	case tt.Name == "ID":
		// An ID under another name (actingAdminId, say) is filled only when required.
		return strconv.Quote(v.userID), false
	case tt.Name == "Date":
		return `"2024-04-01"`, false
	case tt.Name == "Upload":
		// A file goes in a multipart request as the variable $file (see walkPost).
		return "$file", false
	}
	return `"placeholder"`, false
}

// query builds the operation for a path: required arguments always, optional ones when
// they can name the victim's objects (a unit filter, a user id).
func (w *schemaWalk) query(root string, path []step, v victim) string {
	inner := "__typename"
	if last := path[len(path)-1]; w.hasField(lastTarget(last), "id") {
		inner = "__typename id"
	}
	for i := len(path) - 1; i >= 0; i-- {
		s := path[i]
		var args []string
		for _, a := range s.field.Args {
			lit, names := w.placeholder(a.Name, a.Type, lastTarget(s), v)
			if a.Type.Kind == "NON_NULL" || names {
				args = append(args, a.Name+": "+lit)
			}
		}
		sel := s.field.Name
		if len(args) > 0 {
			sel += "(" + strings.Join(args, ", ") + ")"
		}
		if s.on != "" {
			inner = "... on " + s.on + " { " + inner + " }"
		}
		// Only the guarded end of the path asks for __typename, so that a guarded type
		// name in a response comes from there and nowhere else.
		inner = sel + " { " + inner + " }"
	}
	op := "query"
	if root == "Mutation" {
		op = "mutation"
	}
	if strings.Contains(inner, "$file") {
		op += "($file: Upload!)"
	}
	return op + " { " + inner + " }"
}

func lastTarget(s step) string {
	if s.on != "" {
		return s.on
	}
	return s.field.Type.named()
}

func (w *schemaWalk) hasField(typeName, field string) bool {
	for _, f := range w.types[typeName].Fields {
		if f.Name == field {
			return true
		}
	}
	return false
}

// leaks reports what of the guarded data a response holds: guarded type names, when
// typenames must not appear at all, and the victim's identifiers in any case.
func leaks(data json.RawMessage, v victim, anyGuarded bool) []string {
	var found []string
	text := string(data)
	if anyGuarded {
		for _, g := range guardedTypes {
			if strings.Contains(text, `"__typename":"`+g+`"`) {
				found = append(found, "a "+g)
			}
		}
	}
	for _, id := range []string{v.email, v.userID, v.tokenID, v.logID, v.submissionID, v.patientID, v.nhsNumber} {
		if id != "" && strings.Contains(text, id) {
			found = append(found, id)
		}
	}
	return found
}

// TestEveryPathToGuardedDataIsGuarded walks the schema by introspection, finds every
// field path from Query and Mutation to a guarded type, and checks each:
//
//   - no path ever returns guarded data to an anonymous caller, or anything of the
//     victim unit's accounts (ids, email) to a coordinator of another unit;
//   - where the path is live (the RCPCH audit team, asking the same query, gets guarded
//     objects back, so the objects on the way exist), the anonymous caller is refused
//     with UNAUTHENTICATED and the other unit's coordinator with FORBIDDEN. Mutations
//     take the victim's identifiers directly and are always held to this;
//   - every guard (the last field of a path) is proven on at least one live path.
//
// Paths through data this test does not create (organisations linked to units, say)
// are checked for leaks only; the guard at their end is proven through another path.
func TestEveryPathToGuardedDataIsGuarded(t *testing.T) {
	s := newAuthServer(t, nil)
	ctx := context.Background()

	// The victim unit PZ001 has a coordinator with a live token; the caller of the other
	// unit is PZ002's coordinator, the strongest role a non-admin has.
	victimUser := s.account(t, "victim@a.example", auth.Coordinator, "victim password", "PZ001")
	victimToken := s.login(t, "victim@a.example", "victim password", "")
	s.account(t, "other@b.example", auth.Coordinator, "other password", "PZ002")
	other := s.login(t, "other@b.example", "other password", "")
	team := s.auditTeamToken(t, "team@rcpch.example")

	var mine struct{ MyTokens []struct{ ID string } }
	s.as(t, victimToken, `{ myTokens { id } }`, nil, &mine)
	var logID int64
	if err := s.db.Pool.QueryRow(ctx, `SELECT max(id) FROM access_log WHERE user_id = $1 AND unit_id = $2`, victimUser.ID, s.units["PZ001"]).Scan(&logID); err != nil {
		t.Fatal(err)
	}
	v := victim{pzCode: "PZ001", email: "victim@a.example", userID: model.EncodeID("User", strconv.FormatInt(victimUser.ID, 10)),
		tokenID: mine.MyTokens[0].ID, logID: model.EncodeID("AccessLogEntry", strconv.FormatInt(logID, 10))}
	v.year, v.submissionID, v.patientID, v.nhsNumber = s.victimAuditData(t, "PZ001")
	// An ODS change waiting for review, so that the path to OdsReviewItem is live for the
	// audit team (and proven closed to everyone else).
	if _, err := store.New(s.db.Pool).QueueODSReview(ctx, store.ODSReviewItem{ODSCode: "RW6", Kind: store.ReviewClosure, Detail: "for the walk"}); err != nil {
		t.Fatal(err)
	}

	var schema struct {
		Schema struct {
			QueryType    struct{ Name string }
			MutationType *struct{ Name string }
			Types        []schemaType
		} `json:"__schema"`
	}
	s.as(t, "", introspection, nil, &schema)
	w := newSchemaWalk(schema.Schema.Types)
	query := schema.Schema.QueryType.Name
	roots := []string{query}
	if schema.Schema.MutationType != nil {
		roots = append(roots, schema.Schema.MutationType.Name)
	}

	found := map[string]bool{}
	proven := map[string]bool{} // guard (Type.field) → refused on a live path
	live := 0
	for _, root := range roots {
		for _, path := range w.paths(root) {
			name := pathName(path)
			found[name] = true
			last := path[len(path)-1]
			guard := last.parent + "." + last.field.Name
			if _, ok := proven[guard]; !ok {
				proven[guard] = false
			}
			why, self := selfScoped[root+"."+path[0].field.Name]
			q := w.query(root, path, v)
			t.Run(name, func(t *testing.T) {
				strict := root != query
				if root == query {
					_, admin := s.walkPost(t, team, q)
					strict = len(admin.Errors) == 0 && len(leaks(admin.Data, v, true)) > 0
				}
				if strict {
					live++
				}

				_, anon := s.walkPost(t, "", q)
				if l := leaks(anon.Data, v, true); len(l) > 0 {
					t.Errorf("anonymous sees %v\n%s\n%s", l, q, anon.Data)
				}
				if strict && !slices.Contains(errorCodes(anon), "UNAUTHENTICATED") {
					t.Errorf("anonymous: codes %v, want UNAUTHENTICATED\n%s", errorCodes(anon), q)
				}

				// The other unit's coordinator may see accounts of their own unit (a list of
				// every unit's users holds theirs); nothing of the victim unit's.
				_, stranger := s.walkPost(t, other, q)
				if l := leaks(stranger.Data, v, false); len(l) > 0 {
					t.Errorf("another unit's coordinator sees %v\n%s\n%s", l, q, stranger.Data)
				}
				if strict && !self && !slices.Contains(errorCodes(stranger), "FORBIDDEN") {
					t.Errorf("another unit's coordinator: codes %v, want FORBIDDEN\n%s", errorCodes(stranger), q)
				}
				if self {
					t.Logf("scoped to the caller (%s): checked for leaks of the victim's data", why)
				}
				if strict && !t.Failed() {
					proven[guard] = true
				}
			})
		}
	}
	var names []string
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	t.Logf("%d paths to guarded types, %d live:\n%s", len(names), live, strings.Join(names, "\n"))
	for _, want := range mustReach {
		if !found[want] {
			t.Errorf("the walk did not find %s", want)
		}
	}
	for guard, ok := range proven {
		if !ok {
			t.Errorf("no live path proves the guard on %s: give the walk data or placeholders that reach it", guard)
		}
	}
}
