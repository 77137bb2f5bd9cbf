package flow

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ParseRetention parses a retention value: a whole number followed by a unit
// (m minutes, h hours, d days, w weeks, y years of 365 days), or the words
// "session" or "transient".
func ParseRetention(s string) (Retention, error) {
	switch s {
	case "session":
		return Retention{Kind: RetainSession}, nil
	case "transient":
		return Retention{Kind: RetainTransient}, nil
	}
	if len(s) < 2 {
		return Retention{}, fmt.Errorf("%q is not a retention: write a number and a unit such as 30d, 12h or 1y, or session or transient", s)
	}
	num, unit := s[:len(s)-1], s[len(s)-1]
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || strings.HasPrefix(num, "+") {
		return Retention{}, fmt.Errorf("%q is not a retention: write a positive whole number and a unit such as 30d, 12h or 1y", s)
	}
	var d time.Duration
	switch unit {
	case 'm':
		d = time.Minute
	case 'h':
		d = time.Hour
	case 'd':
		d = 24 * time.Hour
	case 'w':
		d = 7 * 24 * time.Hour
	case 'y':
		d = 365 * 24 * time.Hour
	default:
		return Retention{}, fmt.Errorf("%q has an unknown unit %q: use m, h, d, w or y (for example 30d)", s, string(unit))
	}
	if int64(n) > int64(100*365*24*time.Hour/d) {
		return Retention{}, fmt.Errorf("%q is longer than 100 years", s)
	}
	return Retention{Kind: RetainFor, For: time.Duration(n) * d}, nil
}

// String renders the retention the way it is written in a flow.
func (r Retention) String() string {
	switch r.Kind {
	case RetainSession:
		return "session"
	case RetainTransient:
		return "transient"
	}
	day := 24 * time.Hour
	switch {
	case r.For%(365*day) == 0:
		return strconv.Itoa(int(r.For/(365*day))) + "y"
	case r.For%day == 0:
		return strconv.Itoa(int(r.For/day)) + "d"
	case r.For%time.Hour == 0:
		return strconv.Itoa(int(r.For/time.Hour)) + "h"
	}
	return strconv.Itoa(int(r.For/time.Minute)) + "m"
}

// ParseAt reads the at: of a remind step: a date field's name, then any
// number of durations added or taken away, each a whole number of days
// (d), hours (h) or minutes (m): "day", "day - 1d", "day - 1d + 9h". The
// date stands for its midnight, UTC. It returns the field and the sum of
// the durations.
func ParseAt(s string) (field string, offset time.Duration, err error) {
	m := atForm.FindStringSubmatch(s)
	if m == nil {
		return "", 0, fmt.Errorf("write a date field, then durations to add or take away, such as day - 1d + 9h")
	}
	for _, t := range atTerm.FindAllStringSubmatch(m[2], -1) {
		n, _ := strconv.Atoi(t[2])
		if n > 3660 {
			return "", 0, fmt.Errorf("%s%s is too far: at most 3660 of a unit", t[2], t[3])
		}
		d := time.Duration(n) * map[string]time.Duration{"d": 24 * time.Hour, "h": time.Hour, "m": time.Minute}[t[3]]
		if t[1] == "-" {
			d = -d
		}
		offset += d
	}
	return m[1], offset, nil
}

var (
	atForm = regexp.MustCompile(`^\s*([a-z][a-z0-9_]*)((?:\s*[+-]\s*[0-9]{1,4}[dhm])*)\s*$`)
	atTerm = regexp.MustCompile(`([+-])\s*([0-9]{1,4})([dhm])`)
)
