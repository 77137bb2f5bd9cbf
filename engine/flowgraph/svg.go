package flowgraph

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// SVG layout: a small layered drawing, so parley graph --format svg needs
// no Graphviz. Steps are put in layers by the longest path from the start
// over forward edges (edges back to a step already on the path, loops such
// as a re-prompt, are drawn as curves on the right); each layer is a row,
// steps in file order, rows centred.
const (
	svgCharW   = 7.2 // average width of a 12px sans-serif character
	svgLineH   = 16
	svgPadX    = 12
	svgPadY    = 8
	svgGapX    = 40
	svgGapY    = 56
	svgMargin  = 24
	svgTitleH  = 28
	svgBackGap = 28
	svgLaneW   = 18
)

type svgBox struct {
	x, y, w, h float64
	layer      int
}

func (g *Graph) layout() (boxes map[string]*svgBox, back map[int]bool, right, width, height float64) {
	index := map[string]int{}
	for i, n := range g.Nodes {
		index[n.ID] = i
	}
	out := make([][]int, len(g.Nodes)) // edge indexes by source
	for i, e := range g.Edges {
		out[index[e.From]] = append(out[index[e.From]], i)
	}
	// Depth-first from the start: an edge to a node on the stack goes back.
	back = map[int]bool{}
	state := make([]int, len(g.Nodes)) // 0 new, 1 on stack, 2 done
	var order []int                    // post-order
	var visit func(int)
	visit = func(n int) {
		state[n] = 1
		for _, ei := range out[n] {
			t := index[g.Edges[ei].To]
			switch state[t] {
			case 0:
				visit(t)
			case 1:
				back[ei] = true
			}
		}
		state[n] = 2
		order = append(order, n)
	}
	for i := range g.Nodes {
		if state[i] == 0 {
			visit(i)
		}
	}
	// Longest path over forward edges, in topological order.
	layer := make([]int, len(g.Nodes))
	for k := len(order) - 1; k >= 0; k-- {
		n := order[k]
		for _, ei := range out[n] {
			if back[ei] {
				continue
			}
			t := index[g.Edges[ei].To]
			layer[t] = max(layer[t], layer[n]+1)
		}
	}
	// The end sits below everything.
	if e, ok := index[endNode]; ok {
		for i := range layer {
			if i != e {
				layer[e] = max(layer[e], layer[i]+1)
			}
		}
	}
	nLayers := 0
	for _, l := range layer {
		nLayers = max(nLayers, l+1)
	}
	rows := make([][]int, nLayers)
	for i := range g.Nodes {
		rows[layer[i]] = append(rows[layer[i]], i)
	}
	boxes = map[string]*svgBox{}
	rowW := make([]float64, nLayers)
	rowH := make([]float64, nLayers)
	for l, row := range rows {
		for k, i := range row {
			n := g.Nodes[i]
			longest := 0
			for _, line := range n.Lines {
				longest = max(longest, utf8.RuneCountInString(line))
			}
			b := &svgBox{w: float64(longest)*svgCharW + 2*svgPadX, h: float64(len(n.Lines))*svgLineH + 2*svgPadY, layer: l}
			boxes[n.ID] = b
			if k > 0 {
				rowW[l] += svgGapX
			}
			rowW[l] += b.w
			rowH[l] = max(rowH[l], b.h)
		}
	}
	for _, w := range rowW {
		width = max(width, w)
	}
	y := float64(svgMargin + svgTitleH)
	for l, row := range rows {
		x := svgMargin + (width-rowW[l])/2
		for _, i := range row {
			b := boxes[g.Nodes[i].ID]
			b.x, b.y = x, y+(rowH[l]-b.h)/2
			x += b.w + svgGapX
		}
		y += rowH[l] + svgGapY
	}
	for _, b := range boxes {
		right = max(right, b.x+b.w)
	}
	lanes := 0
	for i, e := range g.Edges {
		if back[i] || boxes[e.To].layer != boxes[e.From].layer+1 {
			lanes++
		}
	}
	width = right + svgBackGap + float64(lanes)*svgLaneW + svgMargin + 60
	height = y - svgGapY + svgMargin
	return boxes, back, right, width, height
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

// WriteSVG writes a self-contained SVG: no script, no external reference.
func (g *Graph) WriteSVG(w io.Writer) error {
	boxes, back, right, width, height := g.layout()
	lane := 0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, "<title>%s</title>\n", xmlEscaper.Replace(g.Title))
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>` + "\n")
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="15" font-weight="bold">%s</text>`+"\n", svgMargin, svgMargin+8, xmlEscaper.Replace(g.Title))
	var labels strings.Builder
	for i, e := range g.Edges {
		from, to := boxes[e.From], boxes[e.To]
		dash := ""
		if e.Alt {
			dash = ` stroke-dasharray="5,4"`
		}
		var lx, ly float64
		if back[i] || to.layer != from.layer+1 {
			// Loops and edges that skip rows go round the right-hand side,
			// each in its own lane, so they cross no step.
			x1, y1 := from.x+from.w, from.y+from.h/2
			x2, y2 := to.x+to.w, to.y+to.h/2
			cx := right + svgBackGap + float64(lane)*svgLaneW
			lane++
			fmt.Fprintf(&b, `<path d="M%.1f,%.1f H%.1f V%.1f H%.1f" fill="none" stroke="#555"%s marker-end="url(#arrow)"/>`+"\n", x1, y1, cx, y2, x2, dash)
			lx, ly = cx, (y1+y2)/2
		} else {
			x1, y1 := from.x+from.w/2, from.y+from.h
			x2, y2 := to.x+to.w/2, to.y
			fmt.Fprintf(&b, `<path d="M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="none" stroke="#555"%s marker-end="url(#arrow)"/>`+"\n", x1, y1, x1, y1+svgGapY/2, x2, y2-svgGapY/2, x2, y2, dash)
			lx, ly = (x1+x2)/2, (y1+y2)/2
		}
		if e.Label != "" {
			lw := float64(utf8.RuneCountInString(e.Label))*6.2 + 8
			fmt.Fprintf(&labels, `<rect x="%.1f" y="%.1f" width="%.1f" height="16" rx="3" fill="#ffffff" fill-opacity="0.9"/><text x="%.1f" y="%.1f" text-anchor="middle" font-size="11" fill="#333">%s</text>`+"\n",
				lx-lw/2, ly-11, lw, lx, ly+1, xmlEscaper.Replace(e.Label))
		}
	}
	for _, n := range g.Nodes {
		bx := boxes[n.ID]
		fill, stroke := styleOf(n.Class)
		rx := 6.0
		if n.Class == classTerminal {
			rx = bx.h / 2
		}
		strokeW := 1.2
		if n.Class == classConsent || n.Class == classHandoff || n.Class == classCall {
			strokeW = 2.4
		}
		fmt.Fprintf(&b, `<g class="step %s" id="%s"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="%.1f" fill="%s" stroke="%s" stroke-width="%.1f"/>`,
			n.Class, xmlEscaper.Replace(n.ID), bx.x, bx.y, bx.w, bx.h, rx, fill, stroke, strokeW)
		for k, line := range n.Lines {
			weight := ""
			if k == 0 {
				weight = ` font-weight="bold"`
			}
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle"%s>%s</text>`, bx.x+bx.w/2, bx.y+svgPadY+float64(k+1)*svgLineH-4, weight, xmlEscaper.Replace(line))
		}
		b.WriteString("</g>\n")
	}
	b.WriteString(labels.String())
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
