package perf

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Plot is a time series of ping round trips with the moves of a roaming
// run marked, drawn as SVG by WriteSVG with the standard library only.
type Plot struct {
	Title string
	// Points are the pings in the order sent: X seconds since the start,
	// Y the round trip in milliseconds, Lost when no reply came.
	Points []PlotPoint
	// Marks are the moves: a vertical line at X seconds with a label.
	Marks []PlotMark
	// Width and Height of the image in pixels (default 900 by 360).
	Width, Height int
}

// PlotPoint is one ping.
type PlotPoint struct {
	X, Y float64
	Lost bool
}

// PlotMark is one move.
type PlotMark struct {
	X     float64
	Label string
}

// Margins of the drawing area, in pixels.
const (
	plotLeft, plotRight, plotTop, plotBottom = 64, 20, 78, 48
)

// WriteSVG draws the plot: axes with ticks in seconds and milliseconds,
// the round trips of answered pings as a line (broken where pings were
// lost), each lost ping as a red mark along the top of the drawing area,
// each move as a dashed vertical line with its number, the numbered
// moves' labels in a key under the time axis, and a legend. Points or
// marks that are not finite numbers are left out.
func (p Plot) WriteSVG(w io.Writer) error {
	W, H := p.Width, p.Height
	if W <= 0 {
		W = 900
	}
	if H <= 0 {
		H = 360
	}
	W, H = max(W, plotLeft+plotRight+100), max(H, plotTop+plotBottom+100)
	pts := make([]PlotPoint, 0, len(p.Points))
	for _, pt := range p.Points {
		if finite(pt.X) && (pt.Lost || finite(pt.Y)) {
			pts = append(pts, pt)
		}
	}
	marks := make([]PlotMark, 0, len(p.Marks))
	for _, m := range p.Marks {
		if finite(m.X) {
			marks = append(marks, m)
		}
	}

	// The moves are numbered on their lines and named in a key under the
	// axis, as many to a row as fit.
	var keyRows [][]string
	rowWidth := 0
	for i, m := range marks {
		entry := fmt.Sprintf("%d %s", i+1, m.Label)
		w := int(float64(len([]rune(entry)))*keyCharWidth) + keyGap
		if len(keyRows) == 0 || rowWidth+w > W-plotLeft-plotRight {
			keyRows = append(keyRows, nil)
			rowWidth = 0
		}
		keyRows[len(keyRows)-1] = append(keyRows[len(keyRows)-1], entry)
		rowWidth += w
	}
	keyTop := H // the key's first row, below the axis title
	H += len(keyRows) * keyRowHeight

	// Ranges: x from 0 (or the least x) to the greatest x; y from 0 to the
	// greatest round trip.
	xmin, xmax, ymax := 0.0, 1.0, 1.0
	first := true
	for _, pt := range pts {
		if first {
			xmin, xmax, first = min(0, pt.X), pt.X, false
		}
		xmin, xmax = min(xmin, pt.X), max(xmax, pt.X)
		if !pt.Lost {
			ymax = max(ymax, pt.Y)
		}
	}
	for _, m := range marks {
		xmin, xmax = min(xmin, m.X), max(xmax, m.X)
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	xstep := niceStep(xmax-xmin, 10)
	ystep := niceStep(ymax, 5)
	ymax = math.Ceil(ymax/ystep) * ystep
	x0, x1 := float64(plotLeft), float64(W-plotRight)
	y0, y1 := float64(keyTop-plotBottom), float64(plotTop)
	sx := func(x float64) float64 { return x0 + (x-xmin)/(xmax-xmin)*(x1-x0) }
	sy := func(y float64) float64 { return y0 - y/ymax*(y0-y1) }

	bw := bufio.NewWriter(w)
	pr := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	pr(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	pr(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	pr(`<rect x="0" y="0" width="%d" height="%d" fill="white"/>`+"\n", W, H)
	if p.Title != "" {
		pr(`<text x="%d" y="20" font-size="15" font-weight="bold">%s</text>`+"\n", plotLeft, esc(p.Title))
	}
	// Grid, ticks and axis labels.
	pr(`<g stroke="#ddd" stroke-width="1">` + "\n")
	for k := 1; float64(k)*ystep <= ymax+ystep/2; k++ {
		y := float64(k) * ystep
		pr(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", f1(x0), f1(sy(y)), f1(x1), f1(sy(y)))
	}
	pr("</g>\n")
	pr(`<g stroke="black" stroke-width="1"><line x1="%s" y1="%s" x2="%s" y2="%s"/><line x1="%s" y1="%s" x2="%s" y2="%s"/></g>`+"\n",
		f1(x0), f1(y0), f1(x1), f1(y0), f1(x0), f1(y0), f1(x0), f1(y1))
	pr(`<g text-anchor="middle">` + "\n")
	for k := math.Ceil(xmin / xstep); k*xstep <= xmax+xstep/1e6; k++ {
		x := k * xstep
		pr(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="black"/><text x="%s" y="%s">%s</text>`+"\n",
			f1(sx(x)), f1(y0), f1(sx(x)), f1(y0+4), f1(sx(x)), f1(y0+17), tick(x, xstep))
	}
	pr(`<text x="%s" y="%d">time (s)</text>`+"\n", f1((x0+x1)/2), keyTop-10)
	pr("</g>\n")
	pr(`<g text-anchor="end">` + "\n")
	for k := 0; float64(k)*ystep <= ymax+ystep/2; k++ {
		y := float64(k) * ystep
		pr(`<text x="%s" y="%s">%s</text>`+"\n", f1(x0-6), f1(sy(y)+4), tick(y, ystep))
	}
	pr("</g>\n")
	pr(`<text x="14" y="%s" transform="rotate(-90 14 %s)" text-anchor="middle">round trip (ms)</text>`+"\n",
		f1((y0+y1)/2), f1((y0+y1)/2))

	// Moves: a numbered line each, and the key.
	pr(`<g class="moves">` + "\n")
	for i, m := range marks {
		x := f1(sx(m.X))
		pr(`<line class="move" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#3060c0" stroke-width="1.5" stroke-dasharray="5,3"/>`+"\n",
			x, f1(y0), x, f1(y1-16))
		pr(`<text class="move-number" x="%s" y="%s" fill="#3060c0" text-anchor="middle" font-weight="bold">%d</text>`+"\n",
			x, f1(y1-19), i+1)
	}
	for r, row := range keyRows {
		x := plotLeft
		for _, entry := range row {
			pr(`<text class="move-label" x="%d" y="%d" fill="#3060c0" font-size="11">%s</text>`+"\n",
				x, keyTop+8+r*keyRowHeight, esc(entry))
			x += int(float64(len([]rune(entry)))*keyCharWidth) + keyGap
		}
	}
	pr("</g>\n")

	// Round trips: one polyline per run of answered pings.
	var run []string
	flush := func() {
		if len(run) > 0 {
			pr(`<polyline class="rtt" fill="none" stroke="#208040" stroke-width="1.2" points="%s"/>`+"\n", strings.Join(run, " "))
			run = run[:0]
		}
	}
	lost := 0
	for _, pt := range pts {
		if pt.Lost {
			flush()
			lost++
			continue
		}
		run = append(run, f1(sx(pt.X))+","+f1(sy(min(pt.Y, ymax))))
	}
	flush()
	pr(`<g class="lost" fill="#d02020">` + "\n")
	for _, pt := range pts {
		if pt.Lost {
			pr(`<rect class="loss" x="%s" y="%s" width="2" height="8"/>`+"\n", f1(sx(pt.X)-1), f1(y1))
		}
	}
	pr("</g>\n")

	// Legend, one row above the drawing area.
	lx := plotLeft
	pr(`<g class="legend" font-size="11">`)
	pr(`<line x1="%d" y1="36" x2="%d" y2="36" stroke="#208040" stroke-width="2"/><text x="%d" y="40">reply round trip</text>`,
		lx, lx+18, lx+22)
	pr(`<rect x="%d" y="31" width="2" height="8" fill="#d02020"/><text x="%d" y="40">lost (%d of %d)</text>`,
		lx+120, lx+126, lost, len(pts))
	pr(`<line x1="%d" y1="36" x2="%d" y2="36" stroke="#3060c0" stroke-dasharray="5,3"/><text x="%d" y="40">move</text>`,
		lx+235, lx+253, lx+257)
	pr("</g>\n")
	pr("</svg>\n")
	return bw.Flush()
}

// The key of the moves: an estimate of a character's width at font size 11,
// the gap between entries and the height of a row, in pixels.
const (
	keyCharWidth = 6.2
	keyGap       = 18
	keyRowHeight = 16
)

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// niceStep returns a step of 1, 2 or 5 times a power of ten that divides
// span into about n intervals.
func niceStep(span float64, n int) float64 {
	if span <= 0 || !finite(span) {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// tick formats a tick value with as many decimals as step needs.
func tick(v, step float64) string {
	if math.Abs(v) < step/1e6 {
		return "0"
	}
	decimals := max(0, int(math.Ceil(-math.Log10(step)-1e-9)))
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// esc escapes text for SVG.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
