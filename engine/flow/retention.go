package flow

import (
	"fmt"
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
