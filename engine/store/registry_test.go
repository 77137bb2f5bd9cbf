package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestRegistryOpensByNameAndScheme registers a backend the way a backend
// package does in init and opens it by name and by URL scheme; unknown
// names and duplicate registrations are refused.
func TestRegistryOpensByNameAndScheme(t *testing.T) {
	var got []Config
	Register("regtest", func(_ context.Context, c Config) (Store, error) {
		got = append(got, c)
		return nil, nil
	})
	if _, err := Open(t.Context(), "regtest", Config{Dir: "/d"}); err != nil {
		t.Fatalf("Open(regtest) = %v", err)
	}
	if _, err := OpenURL(t.Context(), Config{URL: "RegTest://host/db"}); err != nil {
		t.Fatalf("OpenURL(regtest://) = %v", err)
	}
	if len(got) != 2 || got[0].Dir != "/d" || got[1].URL != "RegTest://host/db" {
		t.Errorf("the opener got %+v, want the two configs passed through", got)
	}
	_, err := OpenURL(t.Context(), Config{URL: "mysql://db"})
	if !errors.Is(err, ErrUnknownBackend) || !strings.Contains(err.Error(), "regtest") {
		t.Errorf("OpenURL(mysql://) = %v, want ErrUnknownBackend listing the registered names", err)
	}
	if _, err := OpenURL(t.Context(), Config{URL: "no-scheme"}); !errors.Is(err, ErrUnknownBackend) {
		t.Errorf("OpenURL(no scheme) = %v, want ErrUnknownBackend", err)
	}
	for _, name := range []string{"regtest", "", "Upper"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", name)
				}
			}()
			Register(name, func(context.Context, Config) (Store, error) { return nil, nil })
		}()
	}
}
