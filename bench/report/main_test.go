package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportFromRows feeds rows as bench/run.sh writes them (the two load
// generators' field names mixed) and checks the tables and the chart.
func TestReportFromRows(t *testing.T) {
	rows := `{"system":"parley","mode":"levels","c":64,"turns_per_s":1500,"turn_p50_ms":20,"turn_p99_ms":80,"errors":0,"conversations":250,"bot_cpu_ms_per_turn":0.4,"bot_rss_peak_mib":300}
{"system":"relay","mode":"levels","c":64,"turns_per_s":6000,"turn_p50_ms":5,"turn_p99_ms":30,"errors":0,"conversations":1000,"bot_cpu_ms_per_turn":0.08,"bot_rss_peak_mib":27}
{"system":"parley","mode":"levels","c":1,"turns_per_s":1000,"turn_p99_ms":2,"errors":0}
{"system":"relay","mode":"rate","c":256,"rate":1000,"offered":20000,"offered_per_s":1000,"turns_per_s":999.9,"turn_p50_ms":1.2,"turn_p99_ms":4.56,"failed":0,"late":812,"send_lag_p99_ms":2.34,"server_cpu_ms_per_turn":0.2,"server_rss_peak_mib":20}
{"system":"parley","mode":"batch","c":0,"batch":5000,"batch_ack_ms":14480,"batch_replies_ms":14482,"failed":0,"server_cpu_s":6.1,"server_rss_peak_mib":261}
{"system":"parley","mode":"scale","c":64,"stored":1000,"disk_bytes":1000000,"turns_per_s":1600}
{"system":"parley","mode":"scale","c":64,"stored":3000,"disk_bytes":1020000,"turns_per_s":1500}
{"system":"parley","mode":"scale","c":64,"stored":5000,"disk_bytes":2000000,"turns_per_s":2000,"turn_p99_ms":40,"step":3000,"stored_before":3000,"errors":0,"bot_cpu_ms_per_turn":0.5,"bot_rss_peak_mib":140,"load1":1.5}
{"system":"relay","mode":"scale-relay","c":64,"step":3000,"turns_per_s":8000,"turn_p99_ms":10}
{"system":"parley","mode":"scale","c":64,"stored":12000,"disk_bytes":6000000,"turns_per_s":1800,"turn_p99_ms":50,"step":10000,"stored_before":10000,"errors":0,"bot_cpu_ms_per_turn":0.6,"bot_rss_peak_mib":150,"load1":2,"fill":"http"}
{"system":"parley","mode":"scale","c":0,"fill":"seed","stored":100000,"disk_bytes":270000000,"seeded":88000,"seed_s":300,"load1":3}
{"system":"parley","mode":"scale","c":64,"stored":101000,"disk_bytes":271000000,"turns_per_s":1500,"turn_p99_ms":60,"step":100000,"stored_before":100000,"errors":0,"bot_cpu_ms_per_turn":0.7,"bot_rss_peak_mib":200,"load1":3,"fill":"seed"}
`
	path := filepath.Join(t.TempDir(), "rows.jsonl")
	if err := os.WriteFile(path, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readRows(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	writeTables(&b, got)
	out := b.String()
	for _, want := range []string{
		"| parley | 64 | 250 | 1500 | 20.0 | 80.0 | 0 | 0.400 | 300 | 25% |", // a quarter of the relay
		"| relay | 64 | 1000 | 6000 | 5.0 | 30.0 | 0 | 0.080 | 27 | – |",
		"| parley | 1 | – | 1000 | – | 2.0 | 0 | – | – | – |", // no relay at C=1: no ratio
		"| parley | 5000 | 14480 | 14482 | 0 | 6.10 | 261 |",
		"| relay | 1000 | 1000 | 1.2 | 4.6 | 0 | 812 | 2.3 | 0.200 | 20 |",
		"| 3000 | 1500 | – | – | – | – | 1020000 | 340 | 10 | load generator, C=64 |", // 20,000 bytes for 2,000 more
		"| 100000 | – | – | – | – | – | 270000000 | 2700 | 2717 | bench/seed: 88000 in 300 s |",
		"| 101000 | 1500 | 60.0 | 0 | 0.700 | 200 | 271000000 | 2683 | 2700 | load generator, C=64: the measured step |",
		// a step with its relay: a quarter of it; the next step without one, 10% slower and 25% later than the first
		"| 3000 | 3000 → 5000 | load generator | 2000 | +0% | 40.0 | +0% | 0 | 0.500 | 140 | 400 | 8000 | 10.0 | 25% | 1.50 |",
		"| 10000 | 10000 → 12000 | load generator | 1800 | -10% | 50.0 | +25% | 0 | 0.600 | 150 | 500 | – | – | – | 2.00 |",
		"| 100000 | 100000 → 101000 | bench/seed | 1500 | -25% |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tables lack %q:\n%s", want, out)
		}
	}
	svg := chart(got)
	if n := strings.Count(svg, "<polyline"); n != 4 { // two systems, two panels
		t.Errorf("%d lines in the chart, want 4:\n%s", n, svg)
	}
	if !strings.Contains(svg, ">C=64<") || !strings.Contains(svg, ">relay<") || !strings.Contains(svg, ">10.0k<") {
		t.Errorf("chart lacks its axis labels or legend:\n%s", svg)
	}
}
