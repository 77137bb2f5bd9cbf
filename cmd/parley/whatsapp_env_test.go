package main

import (
	"strings"
	"testing"
	"time"
)

// waEnvWithMaxAge is a complete WhatsApp environment with the given
// PARLEY_WHATSAPP_MAX_AGE.
func waEnvWithMaxAge(maxAge string) func(string) string {
	env := map[string]string{
		"PARLEY_WHATSAPP_APP_SECRET": "s", "PARLEY_WHATSAPP_ACCESS_TOKEN": "t",
		"PARLEY_WHATSAPP_PHONE_NUMBER_ID": "1", "PARLEY_WHATSAPP_FLOW": "booking",
		"PARLEY_WHATSAPP_MAX_AGE": maxAge,
	}
	return func(k string) string { return env[k] }
}

// TestWhatsAppMaxAgeFromEnv: PARLEY_WHATSAPP_MAX_AGE reaches the server's
// WhatsApp config (unset leaves the server's 24-hour default), and a value
// out of range is refused with a message naming the variable.
func TestWhatsAppMaxAgeFromEnv(t *testing.T) {
	for value, want := range map[string]time.Duration{"": 0, "2h": 2 * time.Hour, "90m": 90 * time.Minute, "168h": 168 * time.Hour} {
		cfg, err := whatsAppFromEnv(waEnvWithMaxAge(value))
		if err != nil || cfg == nil || cfg.MaxAge != want {
			t.Errorf("PARLEY_WHATSAPP_MAX_AGE=%q: config %+v, %v; want MaxAge %s", value, cfg, err, want)
		}
	}
	for _, bad := range []string{"30s", "169h", "-1h", "a day"} {
		_, err := whatsAppFromEnv(waEnvWithMaxAge(bad))
		if err == nil || !strings.Contains(err.Error(), "PARLEY_WHATSAPP_MAX_AGE must be a duration between 1m and 168h") {
			t.Errorf("PARLEY_WHATSAPP_MAX_AGE=%q: error %v, want one naming the variable and its range", bad, err)
		}
	}
}
