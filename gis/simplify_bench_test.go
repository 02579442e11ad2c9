package gis

import (
	"fmt"
	"testing"
)

// BenchmarkSimplifyCoverage simplifies a 7×7 grid coverage of about 50,000 vertices, the size of the
// biggest real boundary layer, at tolerances spanning the zoom levels an import computes.
func BenchmarkSimplifyCoverage(b *testing.B) {
	// 50 km cells with 254 inner points per border: 49 cells × 4 borders × 255 points ≈ 50,000.
	in, _ := gridCoverage(7, 7, 7, 50000, 254, 150)
	b.Logf("%d vertices in %d features", numVertices(in), len(in))
	for _, tolerance := range []float64{10, 100, 1000} {
		b.Run(fmt.Sprintf("tolerance=%gm", tolerance), func(b *testing.B) {
			b.ReportAllocs()
			vertices := 0
			for b.Loop() {
				vertices = numVertices(SimplifyCoverage(in, tolerance))
			}
			b.ReportMetric(float64(vertices), "vertices")
		})
	}
}
