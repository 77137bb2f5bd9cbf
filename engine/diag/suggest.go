package diag

import "strings"

// maxSuggestCandidates bounds the work of one suggestion. Among more names
// than this a near miss is as likely to be another name as the one meant,
// and a hostile flow with thousands of steps and thousands of bad targets
// would otherwise cost seconds.
const maxSuggestCandidates = 1000

// Suggest returns the candidate closest to name when it is close enough to be
// a plausible typo, or "" otherwise. Comparison ignores case.
func Suggest(name string, candidates []string) string {
	if len(candidates) > maxSuggestCandidates {
		return ""
	}
	limit := 1 + len([]rune(name))/3
	if limit > 3 {
		limit = 3
	}
	// Only a candidate within limit can be returned, so each comparison
	// stops as soon as it exceeds the best distance so far: a flow with
	// thousands of steps and thousands of bad targets stays fast.
	best, bestDist := "", limit+1
	ln := []rune(strings.ToLower(name))
	var buf []int
	for _, c := range candidates {
		d := levenshteinWithin(ln, []rune(strings.ToLower(c)), bestDist, &buf)
		if d < bestDist || (d == bestDist && d <= limit && c < best) {
			best, bestDist = c, d
		}
	}
	if bestDist > limit {
		return ""
	}
	return best
}

// DidYouMean formats a suggestion as `did you mean "x"?`, or "" when there is
// none.
func DidYouMean(name string, candidates []string) string {
	if s := Suggest(name, candidates); s != "" {
		return `did you mean "` + s + `"?`
	}
	return ""
}

// levenshteinWithin returns the edit distance between a and b, or any
// value above max once the distance is known to exceed max.
func levenshteinWithin(a, b []rune, max int, buf *[]int) int {
	if d := len(a) - len(b); d > max || -d > max {
		return max + 1
	}
	if cap(*buf) < 2*(len(b)+1) {
		*buf = make([]int, 2*(len(b)+1))
	}
	prev, cur := (*buf)[:len(b)+1], (*buf)[len(b)+1:2*(len(b)+1)]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > max {
			return max + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
