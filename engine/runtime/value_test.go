package runtime_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/runtime"
)

// TestParseValueChecksLikeAChatAnswer: rectification's check applies the
// field's own type, max_length, min/max and options, normalises like an
// answer in chat, and explains a refusal without repeating the value.
func TestParseValueChecksLikeAChatAnswer(t *testing.T) {
	p := loadFile(t, "testdata/kinds.yaml")
	tests := []struct {
		name, field, in, lang string
		want                  any    // nil: refused
		why                   string // in the refusal
	}{
		{"text within max_length", "name", "  Ada  ", "", "Ada", ""},
		{"text over max_length", "name", "Augusta Ada King", "", nil, `"name" takes text of 1 to 10 characters`},
		{"blank text", "name", "   ", "", nil, "text of 1 to 10"},
		{"number in range, Italian decimal comma", "age", "42,5", "it", 42.5, ""},
		{"number below min", "age", "17", "", nil, `"age" takes a number between 18 and 120`},
		{"number above max", "age", "121", "", nil, "between 18 and 120"},
		{"not a number", "age", "forty", "", nil, "a number"},
		{"boolean yes", "adult", "Yes", "", true, ""},
		{"boolean in the conversation's language", "adult", "sì", "it", true, ""},
		{"boolean nonsense", "adult", "perhaps", "", nil, "yes or no"},
		{"choice by id", "size", "l", "", "l", ""},
		{"choice by number", "size", "1", "", "s", ""},
		{"choice by title", "size", "large", "", "l", ""},
		{"choice by title in Italian", "size", "Piccola", "it", "s", ""},
		{"choice not an option", "size", "xl", "", nil, `"size" takes one of its options: s, l`},
		{"choice number out of range", "size", "3", "", nil, "s, l"},
		{"email normalised as in chat", "promo", "Ada@Example.COM", "", "Ada@example.com", ""},
		{"bad email", "promo", "ada-at-example", "", nil, "an email address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runtime.ParseValue(p, tc.field, tc.in, tc.lang)
			if tc.want != nil {
				if err != nil || got != tc.want {
					t.Errorf("ParseValue(%s, %q) = %v, %v; want %v", tc.field, tc.in, got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, runtime.ErrInvalidValue) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("ParseValue(%s, %q) = %v, %v; want ErrInvalidValue saying %q", tc.field, tc.in, got, err, tc.why)
			}
			if err != nil && strings.TrimSpace(tc.in) != "" && strings.Contains(err.Error(), tc.in) {
				t.Errorf("the refusal %q repeats the value", err)
			}
		})
	}
	if _, err := runtime.ParseValue(p, "nickname", "x", ""); err == nil || errors.Is(err, runtime.ErrInvalidValue) {
		t.Errorf("ParseValue of an undeclared field = %v; want a different error", err)
	}
}
