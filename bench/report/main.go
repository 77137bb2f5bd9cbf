// Command report turns the rows bench/run.sh collected (one JSON object per
// line: the load generators' RESULT lines plus system, mode and level) into
// the Markdown tables of bench/RESULTS.md on stdout and an SVG chart of
// turns/s and p99 latency against concurrency, one line per system. It
// uses the standard library only, so the chart needs no external tool.
//
//	go run ./bench/report -rows out/rows.jsonl -svg bench/chart.svg >> bench/RESULTS.md
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

// row is one measurement. The two load generators name a few fields
// differently (bench/loadgen: server_*, the peers' loadgen: bot_*);
// value reads either.
type row map[string]any

func (r row) str(k string) string {
	s, _ := r[k].(string)
	return s
}

func (r row) value(keys ...string) (float64, bool) {
	for _, k := range keys {
		if v, ok := r[k].(float64); ok {
			return v, true
		}
	}
	return 0, false
}

func (r row) cell(format string, keys ...string) string {
	v, ok := r.value(keys...)
	if !ok {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

func main() {
	rowsPath := flag.String("rows", "", "rows file written by bench/run.sh")
	svgPath := flag.String("svg", "", "write the chart here")
	flag.Parse()
	rows, err := readRows(*rowsPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	writeTables(os.Stdout, rows)
	if *svgPath != "" {
		if err := os.WriteFile(*svgPath, []byte(chart(rows)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
	}
}

func readRows(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

func pick(rows []row, mode string) []row {
	var out []row
	for _, r := range rows {
		if r.str("mode") == mode {
			out = append(out, r)
		}
	}
	return out
}

func writeTables(w io.Writer, rows []row) {
	if lv := pick(rows, "levels"); len(lv) > 0 {
		fmt.Fprintln(w, "### Closed loop: C concurrent conversations (same load generator for all three)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| system | C | conversations | turns/s | p50 ms | p99 ms | failed | server CPU ms/turn | peak RSS MiB | % of relay |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		relay := map[float64]float64{}
		for _, r := range lv {
			if r.str("system") == "relay" {
				c, _ := r.value("c")
				relay[c], _ = r.value("turns_per_s")
			}
		}
		for _, r := range lv {
			c, _ := r.value("c")
			tps, _ := r.value("turns_per_s")
			ratio := "–"
			if base := relay[c]; base > 0 && r.str("system") != "relay" {
				ratio = fmt.Sprintf("%.0f%%", 100*tps/base)
			}
			fmt.Fprintf(w, "| %s | %.0f | %s | %.0f | %s | %s | %s | %s | %s | %s |\n", r.str("system"), c,
				r.cell("%.0f", "conversations"), tps, r.cell("%.1f", "turn_p50_ms"), r.cell("%.1f", "turn_p99_ms"),
				r.cell("%.0f", "errors", "failed"), r.cell("%.3f", "bot_cpu_ms_per_turn", "server_cpu_ms_per_turn"),
				r.cell("%.0f", "bot_rss_peak_mib", "server_rss_peak_mib"), ratio)
		}
		fmt.Fprintln(w)
	}
	if rt := pick(rows, "rate"); len(rt) > 0 {
		fmt.Fprintln(w, "### Open loop: turns offered at a fixed rate")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Latency runs from each turn's scheduled time; \"sent late\" counts turns the load generator sent more than")
		fmt.Fprintln(w, "1 ms after it, and the send lag is by how much (the load generator's own delay, included in the latency).")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| system | offered turns/s | carried turns/s | p50 ms | p99 ms | failed | sent late | send lag p99 ms | server CPU ms/turn | peak RSS MiB |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, r := range rt {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.str("system"), r.cell("%.0f", "offered_per_s", "rate"),
				r.cell("%.0f", "turns_per_s"), r.cell("%.1f", "turn_p50_ms"), r.cell("%.1f", "turn_p99_ms"),
				r.cell("%.0f", "failed"), r.cell("%.0f", "late"), r.cell("%.1f", "send_lag_p99_ms"),
				r.cell("%.3f", "server_cpu_ms_per_turn"), r.cell("%.0f", "server_rss_peak_mib"))
		}
		fmt.Fprintln(w)
	}
	if bt := pick(rows, "batch"); len(bt) > 0 {
		fmt.Fprintln(w, "### Batch: one signed webhook carrying N first messages")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| system | messages | acknowledged after ms | last reply after ms | failed | server CPU s | peak RSS MiB |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|")
		for _, r := range bt {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.str("system"), r.cell("%.0f", "batch"),
				r.cell("%.0f", "batch_ack_ms"), r.cell("%.0f", "batch_replies_ms"), r.cell("%.0f", "failed"),
				r.cell("%.2f", "server_cpu_s"), r.cell("%.0f", "server_rss_peak_mib"))
		}
		fmt.Fprintln(w)
	}
	if sc := pick(rows, "scale"); len(sc) > 0 {
		fmt.Fprintln(w, "### Scale: one server fed at C=64 while stored conversations accumulate")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| stored conversations (after the phase) | turns/s | p99 ms | failed | server CPU ms/turn | peak RSS MiB | bytes on disk | per stored conversation | per conversation since the first phase | filled by |")
		fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
		first, _ := sc[0].value("stored")
		firstDisk, _ := sc[0].value("disk_bytes")
		for _, r := range sc {
			stored, _ := r.value("stored")
			disk, _ := r.value("disk_bytes")
			per, since := "–", "–"
			if stored > 0 {
				per = fmt.Sprintf("%.0f", disk/stored)
			}
			if stored > first {
				since = fmt.Sprintf("%.0f", (disk-firstDisk)/(stored-first))
			}
			fmt.Fprintf(w, "| %.0f | %s | %s | %s | %s | %s | %.0f | %s | %s | %s |\n", stored, r.cell("%.0f", "turns_per_s"),
				r.cell("%.1f", "turn_p99_ms"), r.cell("%.0f", "errors", "failed"),
				r.cell("%.3f", "bot_cpu_ms_per_turn", "server_cpu_ms_per_turn"),
				r.cell("%.0f", "bot_rss_peak_mib", "server_rss_peak_mib"), disk, per, since, filledBy(r))
		}
		fmt.Fprintln(w)
		scaleSteps(w, sc, pick(rows, "scale-relay"))
	}
}

// filledBy says how a scale phase's conversations came: over HTTP from the
// load generator, or bench/seed (how many, in how long) for a seeding row.
func filledBy(r row) string {
	if _, ok := r.value("step"); ok {
		return "load generator, C=64: the measured step"
	}
	switch f := r.str("fill"); f {
	case "seed":
		if k, ok := r.value("seeded"); ok {
			secs, _ := r.value("seed_s")
			return fmt.Sprintf("bench/seed: %.0f in %.0f s", k, secs)
		}
		return "bench/seed"
	case "", "http":
		return "load generator, C=64"
	default:
		return f
	}
}

// scaleSteps writes the measured phases of bench/run.sh --scale-only (the
// scale rows that carry a step) next to the relay measured right after each,
// and each step's turns/s and p99 against the first step's.
func scaleSteps(w io.Writer, sc, relays []row) {
	var steps []row
	for _, r := range sc {
		if _, ok := r.value("step"); ok {
			steps = append(steps, r)
		}
	}
	if len(steps) == 0 {
		return
	}
	relay := map[float64]row{}
	for _, r := range relays {
		s, _ := r.value("step")
		relay[s] = r
	}
	fmt.Fprintln(w, "### Scale steps: Parley measured at each step, the relay right after it")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| step | stored before → after | filled by | turns/s | vs first step | p99 ms | vs first step | failed | server CPU ms/turn | peak RSS MiB | bytes on disk per stored conversation | relay turns/s | relay p99 ms | % of relay | load average |")
	fmt.Fprintln(w, "|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	firstTPS, _ := steps[0].value("turns_per_s")
	firstP99, _ := steps[0].value("turn_p99_ms")
	versus := func(v, first float64) string {
		if first == 0 {
			return "–"
		}
		return fmt.Sprintf("%+.0f%%", 100*(v/first-1))
	}
	for _, r := range steps {
		step, _ := r.value("step")
		before, _ := r.value("stored_before")
		stored, _ := r.value("stored")
		disk, _ := r.value("disk_bytes")
		tps, _ := r.value("turns_per_s")
		p99, _ := r.value("turn_p99_ms")
		per := "–"
		if stored > 0 {
			per = fmt.Sprintf("%.0f", disk/stored)
		}
		rl, ok := relay[step]
		pct := "–"
		if rt, _ := rl.value("turns_per_s"); ok && rt > 0 {
			pct = fmt.Sprintf("%.0f%%", 100*tps/rt)
		}
		fill := "load generator"
		if r.str("fill") == "seed" {
			fill = "bench/seed"
		}
		fmt.Fprintf(w, "| %.0f | %.0f → %.0f | %s | %.0f | %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			step, before, stored, fill, tps, versus(tps, firstTPS), p99, versus(p99, firstP99), r.cell("%.0f", "errors", "failed"),
			r.cell("%.3f", "bot_cpu_ms_per_turn", "server_cpu_ms_per_turn"), r.cell("%.0f", "bot_rss_peak_mib", "server_rss_peak_mib"),
			per, rl.cell("%.0f", "turns_per_s"), rl.cell("%.1f", "turn_p99_ms"), pct, r.cell("%.2f", "load1"))
	}
	fmt.Fprintln(w)
}

// chart draws two panels side by side: turns/s and p99 ms against C (on a
// log2 axis), one coloured line per system.
func chart(rows []row) string {
	lv := pick(rows, "levels")
	var systems []string
	var levels []float64
	for _, r := range lv {
		if !slices.Contains(systems, r.str("system")) {
			systems = append(systems, r.str("system"))
		}
		if c, ok := r.value("c"); ok && !slices.Contains(levels, c) {
			levels = append(levels, c)
		}
	}
	slices.Sort(levels)
	colours := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"}
	const pw, ph, left, top, gap = 360.0, 240.0, 60.0, 40.0, 90.0
	var b strings.Builder
	width, height := left+2*pw+gap+20, top+ph+60
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	panels := []struct {
		title string
		keys  []string
	}{{"turns/s (higher is better)", []string{"turns_per_s"}}, {"p99 turn latency, ms (lower is better)", []string{"turn_p99_ms"}}}
	for pi, p := range panels {
		x0 := left + float64(pi)*(pw+gap)
		maxV := 0.0
		for _, r := range lv {
			if v, ok := r.value(p.keys...); ok {
				maxV = math.Max(maxV, v)
			}
		}
		maxV = niceCeil(maxV)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-weight="bold">%s</text>`+"\n", x0, top-15, p.title)
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#888"/>`+"\n", x0, top, pw, ph)
		for i := 0; i <= 4; i++ {
			y := top + ph - ph*float64(i)/4
			fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#eee"/>`, x0, y, x0+pw, y)
			fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-5, y+4, short(maxV*float64(i)/4))
		}
		xAt := func(c float64) float64 {
			if len(levels) < 2 {
				return x0 + pw/2
			}
			lo, hi := math.Log2(levels[0]), math.Log2(levels[len(levels)-1])
			return x0 + 20 + (pw-40)*(math.Log2(c)-lo)/(hi-lo)
		}
		for _, c := range levels {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">C=%.0f</text>`+"\n", xAt(c), top+ph+16, c)
		}
		for si, s := range systems {
			var pts []string
			for _, r := range lv {
				c, _ := r.value("c")
				v, ok := r.value(p.keys...)
				if r.str("system") != s || !ok || maxV == 0 {
					continue
				}
				x, y := xAt(c), top+ph-ph*v/maxV
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, x, y, colours[si%len(colours)])
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), colours[si%len(colours)])
		}
	}
	for si, s := range systems {
		x := left + float64(si)*160
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="14" height="4" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			x, top+ph+40, colours[si%len(colours)], x+20, top+ph+46, s)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func short(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.1fk", v/1000)
	}
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
