package auth

import (
	"errors"
	"testing"
)

func TestDatasetPolicy(t *testing.T) {
	var pol Policy
	unit, other := int64(1), int64(2)
	coordinator := &Principal{Kind: KindUser, UserID: 1, Role: Coordinator, UnitIDs: []int64{unit}}
	editor := &Principal{Kind: KindUser, UserID: 2, Role: Editor, UnitIDs: []int64{unit}}
	reader := &Principal{Kind: KindUser, UserID: 3, Role: Reader, UnitIDs: []int64{unit}}
	team := &Principal{Kind: KindUser, UserID: 4, Role: AuditTeam}
	enrolling := &Principal{Kind: KindUser, UserID: 5, Role: AuditTeam, EnrolmentOnly: true}
	service := &Principal{Kind: KindService, UserID: 1, UnitIDs: []int64{unit}, Access: AccessSubmit}
	ours := DatasetSubject{UserCreated: true, UnitID: &unit}
	theirs := DatasetSubject{UserCreated: true, UnitID: &other}
	synced := DatasetSubject{Global: true}

	type check struct {
		name string
		err  error
		want error
	}
	checks := []check{
		{"anyone reads a global dataset", pol.CanReadDataset(nil, synced), nil},
		{"anonymous cannot read a unit's list", pol.CanReadDataset(nil, ours), ErrUnauthenticated},
		{"a reader reads their unit's list", pol.CanReadDataset(reader, ours), nil},
		{"a coordinator cannot read another unit's list", pol.CanReadDataset(coordinator, theirs), ErrForbidden},
		{"the audit team reads every list", pol.CanReadDataset(team, theirs), nil},
		{"a service token reads its unit's list", pol.CanReadDataset(service, ours), nil},

		{"an editor creates for their unit", pol.CanCreateDataset(editor, &unit), nil},
		{"an editor cannot create for another unit", pol.CanCreateDataset(editor, &other), ErrForbidden},
		{"a reader cannot create", pol.CanCreateDataset(reader, &unit), ErrForbidden},
		{"a coordinator cannot make a list of no unit", pol.CanCreateDataset(coordinator, nil), ErrForbidden},
		{"the audit team makes a list of no unit", pol.CanCreateDataset(team, nil), nil},
		{"a service token cannot create", pol.CanCreateDataset(service, &unit), ErrForbidden},
		{"anonymous cannot create", pol.CanCreateDataset(nil, &unit), ErrUnauthenticated},
		{"an audit team member enrolling a second factor cannot create", pol.CanCreateDataset(enrolling, nil), ErrForbidden},

		{"an editor edits their unit's list", pol.CanEditDataset(editor, ours), nil},
		{"a reader cannot edit", pol.CanEditDataset(reader, ours), ErrForbidden},
		{"nobody edits a synced dataset", pol.CanEditDataset(team, synced), ErrForbidden},
		{"an editor cannot edit another unit's list", pol.CanEditDataset(editor, theirs), ErrForbidden},
		{"the audit team edits any list", pol.CanEditDataset(team, theirs), nil},

		{"a coordinator publishes their unit's list", pol.CanPublishDataset(coordinator, ours), nil},
		{"an editor cannot publish", pol.CanPublishDataset(editor, ours), ErrForbidden},
		{"the audit team publishes any list", pol.CanPublishDataset(team, theirs), nil},

		{"a reader reads the job runs", pol.CanReadJobRuns(reader), nil},
		{"anonymous cannot read the job runs", pol.CanReadJobRuns(nil), ErrUnauthenticated},
	}
	for _, c := range checks {
		if c.want == nil && c.err != nil || c.want != nil && !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}

	if all, units := pol.DatasetScope(nil); all || units != nil {
		t.Error("anonymous scope")
	}
	if all, _ := pol.DatasetScope(team); !all {
		t.Error("the audit team sees every dataset")
	}
	if all, units := pol.DatasetScope(reader); all || len(units) != 1 || units[0] != unit {
		t.Error("a reader sees their unit's lists")
	}
	if all, units := pol.DatasetScope(enrolling); all || units != nil {
		t.Error("enrolment-only scope")
	}
}
