package gis

// Output boundaries are precomputed at a fixed set of detail levels: one per web-map zoom
// from MinZoomLevel to MaxZoomLevel, and FullDetail. Coarser zooms share MinZoomLevel's
// geometry (it is already finer than they need); finer zooms get full detail, since the
// published generalised boundaries carry no more detail than zoom 12 can show.
const (
	MinZoomLevel = 4
	MaxZoomLevel = 12
	FullDetail   = 99
	// MaxZoom is the largest zoom a client may ask for.
	MaxZoom = 24
)

// FullDetailTolerance is the simplification at full detail: it removes only vertices
// within a metre of the line through their neighbours (about one in seven of the ICB
// boundaries' vertices), which no map can show, from boundaries generalised to 200 m.
const FullDetailTolerance = 1.0

// Tolerance returns the simplification tolerance in metres of a detail level.
func Tolerance(level int) float64 {
	if level == FullDetail {
		return FullDetailTolerance
	}
	return ZoomTolerance(level)
}

// Levels lists every detail level an import computes, FullDetail last.
func Levels() []int {
	return append(ZoomLevels(), FullDetail)
}

// ZoomLevels lists the zoom levels an import simplifies for.
func ZoomLevels() []int {
	levels := make([]int, 0, MaxZoomLevel-MinZoomLevel+1)
	for z := MinZoomLevel; z <= MaxZoomLevel; z++ {
		levels = append(levels, z)
	}
	return levels
}

// DetailLevel maps a requested zoom (nil for full detail) to a stored level.
func DetailLevel(zoom *int) int {
	switch {
	case zoom == nil || *zoom > MaxZoomLevel:
		return FullDetail
	case *zoom < MinZoomLevel:
		return MinZoomLevel
	default:
		return *zoom
	}
}
