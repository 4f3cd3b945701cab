package perf

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

// svgDoc is what the tests read back of a written SVG.
type svgDoc struct {
	texts     []string
	classes   map[string]int
	polyPts   int
	width     string
	elemCount int
}

func parseSVG(t *testing.T, b []byte) svgDoc {
	t.Helper()
	doc := svgDoc{classes: map[string]int{}}
	d := xml.NewDecoder(bytes.NewReader(b))
	var inText bool
	var text strings.Builder
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			depth++
			doc.elemCount++
			if depth == 1 {
				if tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" {
					t.Fatalf("root element %v", tok.Name)
				}
			}
			for _, a := range tok.Attr {
				switch a.Name.Local {
				case "class":
					doc.classes[a.Value]++
				case "width":
					if depth == 1 {
						doc.width = a.Value
					}
				case "points":
					doc.polyPts += len(strings.Fields(a.Value))
				}
			}
			if tok.Name.Local == "text" {
				inText = true
				text.Reset()
			}
		case xml.CharData:
			if inText {
				text.Write(tok)
			}
		case xml.EndElement:
			depth--
			if tok.Name.Local == "text" {
				inText = false
				doc.texts = append(doc.texts, text.String())
			}
		}
	}
	if depth != 0 {
		t.Fatalf("unbalanced elements")
	}
	return doc
}

func hasText(d svgDoc, s string) bool {
	for _, x := range d.texts {
		if x == s {
			return true
		}
	}
	return false
}

// TestPlotSVG checks the SVG writer: well-formed SVG whose polylines hold
// exactly the answered pings, one loss mark per lost ping, one numbered
// line per move and its label in the key with the text intact (markup
// escaped), the axis titles, and nothing drawn for values that are not
// numbers.
func TestPlotSVG(t *testing.T) {
	p := Plot{Title: `Roaming <run> & "pings"`}
	lost := 0
	for i := range 300 {
		pt := PlotPoint{X: float64(i) * 0.1, Y: 0.2 + float64(i%7)/10}
		if i >= 100 && i < 110 || i == 250 {
			pt.Lost, pt.Y = true, 0
			lost++
		}
		p.Points = append(p.Points, pt)
	}
	p.Points = append(p.Points, PlotPoint{X: math.NaN(), Y: 1}, PlotPoint{X: 31, Y: math.Inf(1)})
	p.Marks = []PlotMark{{X: 10, Label: "home -> fa1"}, {X: 25, Label: "fa1 -> fa2 <local>"}, {X: math.NaN(), Label: "never"}}
	var b bytes.Buffer
	if err := p.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	d := parseSVG(t, b.Bytes())
	if d.width != "900" {
		t.Errorf("width %q, want the default 900", d.width)
	}
	if d.polyPts != 300-lost {
		t.Errorf("%d points on the round-trip lines, want %d", d.polyPts, 300-lost)
	}
	if d.classes["rtt"] != 3 {
		t.Errorf("%d round-trip lines, want 3 (broken by two runs of losses)", d.classes["rtt"])
	}
	if d.classes["loss"] != lost {
		t.Errorf("%d loss marks, want %d", d.classes["loss"], lost)
	}
	if d.classes["move"] != 2 || d.classes["move-number"] != 2 || d.classes["move-label"] != 2 {
		t.Errorf("%d move lines, %d numbers and %d labels, want 2 each", d.classes["move"], d.classes["move-number"], d.classes["move-label"])
	}
	for _, s := range []string{"1 home -> fa1", "2 fa1 -> fa2 <local>", "1", "2", `Roaming <run> & "pings"`, "time (s)", "round trip (ms)",
		"lost (11 of 300)"} {
		if !hasText(d, s) {
			t.Errorf("no text %q in %q", s, d.texts)
		}
	}
	if hasText(d, "never") {
		t.Error("a move at NaN was drawn")
	}
}

// TestPlotSVGEmpty checks that a plot without points or marks, or with
// one point, is still a well-formed SVG with its axes.
func TestPlotSVGEmpty(t *testing.T) {
	for _, p := range []Plot{{}, {Points: []PlotPoint{{X: 5, Y: 0}}}, {Marks: []PlotMark{{X: 0, Label: "x"}}, Width: 10, Height: 10}} {
		var b bytes.Buffer
		if err := p.WriteSVG(&b); err != nil {
			t.Fatal(err)
		}
		d := parseSVG(t, b.Bytes())
		if !hasText(d, "time (s)") || d.classes["rtt"] > 1 {
			t.Errorf("plot %+v: texts %q, classes %v", p, d.texts, d.classes)
		}
	}
}

// TestNiceStep checks the axis steps: 1, 2 or 5 times a power of ten,
// giving about the number of intervals asked for.
func TestNiceStep(t *testing.T) {
	for _, tt := range []struct {
		span float64
		n    int
		want float64
	}{{10, 10, 1}, {42, 10, 5}, {0.9, 5, 0.2}, {1234, 10, 200}, {0, 5, 1}, {math.NaN(), 5, 1}} {
		if got := niceStep(tt.span, tt.n); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("niceStep(%v, %d) = %v, want %v", tt.span, tt.n, got, tt.want)
		}
	}
	if got := tick(0.6000000001, 0.2); got != "0.6" {
		t.Errorf("tick = %q, want 0.6", got)
	}
}

// TestPlotSVGKeyRows checks that a key too long for one row wraps and the
// image grows by a row for it.
func TestPlotSVGKeyRows(t *testing.T) {
	height := func(marks int) string {
		p := Plot{Width: 400, Height: 300}
		for i := range marks {
			p.Marks = append(p.Marks, PlotMark{X: float64(i), Label: "fa1→fa2 local"})
		}
		var b bytes.Buffer
		if err := p.WriteSVG(&b); err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(&b)
		for {
			tok, err := d.Token()
			if err != nil {
				t.Fatal(err)
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "svg" {
				for _, a := range se.Attr {
					if a.Name.Local == "height" {
						return a.Value
					}
				}
			}
		}
	}
	if h1, h20 := height(1), height(20); h1 == h20 {
		t.Errorf("height %s with one move and with twenty", h1)
	}
}
