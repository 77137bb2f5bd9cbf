package main

import (
	"strings"
	"testing"
	"time"
)

// TestWhatsAppMaxAgeFromEnv: PARLEY_WHATSAPP_MAX_AGE reaches the server's
// WhatsApp config; unset leaves the server's 24-hour default.
func TestWhatsAppMaxAgeFromEnv(t *testing.T) {
	for value, want := range map[string]time.Duration{"": 0, "2h": 2 * time.Hour, "90m": 90 * time.Minute, "168h": 168 * time.Hour} {
		env := map[string]string{
			"PARLEY_WHATSAPP_APP_SECRET": "s", "PARLEY_WHATSAPP_ACCESS_TOKEN": "t",
			"PARLEY_WHATSAPP_PHONE_NUMBER_ID": "1", "PARLEY_WHATSAPP_FLOW": "booking",
			"PARLEY_WHATSAPP_MAX_AGE": value,
		}
		cfg, err := whatsAppFromEnv(func(k string) string { return env[k] })
		if err != nil || cfg == nil || cfg.MaxAge != want {
			t.Errorf("PARLEY_WHATSAPP_MAX_AGE=%q: config %+v, %v; want MaxAge %s", value, cfg, err, want)
		}
	}
	for _, bad := range []string{"30s", "169h", "-1h", "a day"} {
		env := map[string]string{
			"PARLEY_WHATSAPP_APP_SECRET": "s", "PARLEY_WHATSAPP_ACCESS_TOKEN": "t",
			"PARLEY_WHATSAPP_PHONE_NUMBER_ID": "1", "PARLEY_WHATSAPP_FLOW": "booking",
			"PARLEY_WHATSAPP_MAX_AGE": bad,
		}
		if _, err := whatsAppFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "PARLEY_WHATSAPP_MAX_AGE must be a duration between 1m and 168h") {
			t.Errorf("PARLEY_WHATSAPP_MAX_AGE=%q: error %v, want one naming the variable and its range", bad, err)
		}
	}
}
