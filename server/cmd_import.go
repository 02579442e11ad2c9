package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"caregraph/shapefiles"
	"caregraph/store"
)

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

var _ flag.Value = (*stringList)(nil)

func cmdImportShapefiles(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "import-shapefiles", "import-shapefiles [--layer NAME]... [--dir DIR]\n\nImports boundary layers listed in shapefiles/manifest.json into PostGIS. Each layer\nis replaced in one transaction: a failed import leaves the stored layer untouched.")
	var layers stringList
	fs.Var(&layers, "layer", "layer to import, by name or kind (repeatable; default all): countries, nhs-england-regions, integrated-care-boards, local-health-boards, london-boroughs")
	dir := fs.String("dir", e.cfg.DataDir, "data folder holding shapefiles/<folder>/<stem>.shp (CAREGRAPH_DATA_DIR)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	m, err := shapefiles.LoadManifest()
	if err != nil {
		return err
	}
	selected, err := m.Select(layers)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	db, err := openMigrated(ctx, e)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	st := store.New(db.Pool)
	if _, err = shapefiles.ImportAll(ctx, st, selected, *dir, e.stderr); err != nil {
		return err
	}
	// New boundaries can move sites between areas: place them again.
	n, err := st.PlaceOrganisations(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "placed %d organisation versions again in the new boundaries\n", n)
	return nil
}
