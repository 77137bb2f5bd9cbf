package compile

import (
	"fmt"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
)

// TodayKey is the environment name under which the runtime passes the
// turn's date (YYYY-MM-DD, UTC) to today() and age(). Like LangKey it
// cannot be spelled in a flow.
const TodayKey = "\x00today"

// Date helpers for conditions and templates (issue 11, item 4). Dates are
// held as YYYY-MM-DD, so they also compare with < and >= directly.
//
//	today()              the date of the message being answered
//	age(born)            whole years from born to today
//	add_days(d, n)       d plus n days (n may be negative)
//	add_months(d, n)     d plus n months (31 Jan + 1 month is 28/29 Feb)
//	add_years(d, n)      d plus n years (29 Feb + 1 year is 28 Feb)
//	days_between(a, b)   days from a to b (negative when b is earlier)
//
// A helper given a field that is not held (an empty date) fails, and a
// condition that fails is false.
var dateHelpers = []string{"today", "age", "add_days", "add_months", "add_years", "days_between"}

const isoDate = "2006-01-02"

func parseISO(v any) (time.Time, error) {
	s, _ := v.(string)
	t, err := time.Parse(isoDate, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("not a date: the field may not be held")
	}
	return t, nil
}

func toInt(v any) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case float64:
		if n == float64(int(n)) {
			return int(n), nil
		}
	}
	return 0, fmt.Errorf("a whole number of days, months or years is needed")
}

// addMonths adds n months, keeping the day within the month reached.
func addMonths(t time.Time, n int) time.Time {
	first := time.Date(t.Year(), t.Month()+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(t.Day(), last)-1)
}

// dateOptions are the expr functions behind dateHelpers. today and age are
// patched to receive TodayKey as a last argument (datePatch).
func dateOptions() []expr.Option {
	shift := func(unit func(time.Time, int) time.Time) func(args ...any) (any, error) {
		return func(args ...any) (any, error) {
			d, err := parseISO(args[0])
			if err != nil {
				return nil, err
			}
			n, err := toInt(args[1])
			if err != nil {
				return nil, err
			}
			return unit(d, n).Format(isoDate), nil
		}
	}
	return []expr.Option{
		expr.Function("today", func(args ...any) (any, error) {
			return args[0], nil
		}, new(func(string) string)),
		expr.Function("age", func(args ...any) (any, error) {
			born, err := parseISO(args[0])
			if err != nil {
				return nil, err
			}
			now, err := parseISO(args[1])
			if err != nil {
				return nil, err
			}
			years := now.Year() - born.Year()
			if now.Before(addMonths(born, 12*years)) {
				years--
			}
			return years, nil
		}, new(func(string, string) int)),
		expr.Function("add_days", shift(func(t time.Time, n int) time.Time { return t.AddDate(0, 0, n) }),
			new(func(string, int) string), new(func(string, float64) string)),
		expr.Function("add_months", shift(addMonths),
			new(func(string, int) string), new(func(string, float64) string)),
		expr.Function("add_years", shift(func(t time.Time, n int) time.Time { return addMonths(t, 12*n) }),
			new(func(string, int) string), new(func(string, float64) string)),
		expr.Function("days_between", func(args ...any) (any, error) {
			a, err := parseISO(args[0])
			if err != nil {
				return nil, err
			}
			b, err := parseISO(args[1])
			if err != nil {
				return nil, err
			}
			return int(b.Sub(a).Hours() / 24), nil
		}, new(func(string, string) int)),
	}
}

// datePatch rewrites today() into today(<TodayKey>) and age(d) into
// age(d, <TodayKey>), and reports a wrong number of arguments in plain
// words.
type datePatch struct{ err *file.Error }

func (d *datePatch) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	callee, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	want := map[string]int{"today": 0, "age": 1}
	n, ok := want[callee.Value]
	if !ok || len(call.Arguments) == n+1 && isTodayKey(call.Arguments[n]) {
		return
	}
	if len(call.Arguments) != n {
		if d.err == nil {
			msg := "today() takes nothing, like born <= today()"
			if n == 1 {
				msg = "age() takes one date field, like age(born) >= 18"
			}
			d.err = &file.Error{Location: call.Location(), Message: msg}
		}
		return
	}
	key := &ast.IdentifierNode{Value: TodayKey}
	key.SetLocation(call.Location())
	call.Arguments = append(call.Arguments, key)
}

func isTodayKey(n ast.Node) bool {
	id, ok := n.(*ast.IdentifierNode)
	return ok && id.Value == TodayKey
}
