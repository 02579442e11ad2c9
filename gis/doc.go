// Package gis handles geometry without SQL: shapefile reading (polygon layers from ESRI
// shapefiles, validated before they reach the decoder so that no input file can crash
// the caller), the zoom levels boundaries are precomputed at, and simplification of
// boundary coverages for those levels.
package gis
