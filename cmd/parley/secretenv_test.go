package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretEnvCannotNameParleysOwnSecrets: an integration's secret_env is
// read from serve's environment and sent to the integration's URL as a
// bearer token. Naming PARLEY_MASTER_KEY (or the WhatsApp app secret, the
// access token, the admin tokens) passed lint, so whoever could add a flow
// could have the master key posted to an address of their choosing. lint,
// and so serve and chat, refuse it.
func TestSecretEnvCannotNameParleysOwnSecrets(t *testing.T) {
	src, err := os.ReadFile("../../flows/newsletter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"PARLEY_MASTER_KEY", "PARLEY_WHATSAPP_APP_SECRET", "PARLEY_WHATSAPP_ACCESS_TOKEN", "PARLEY_ADMIN_TOKENS"} {
		flow := strings.Replace(string(src), "secret_env: MAILER_TOKEN", "secret_env: "+name, 1)
		if flow == string(src) {
			t.Fatal("the newsletter flow no longer names MAILER_TOKEN: update the test")
		}
		path := filepath.Join(dir, "newsletter.yaml")
		if err := os.WriteFile(path, []byte(flow), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb strings.Builder
		code := run([]string{"lint", path}, strings.NewReader(""), &out, &errb)
		if code != exitFindings || !strings.Contains(out.String(), "PARLEY-104") || !strings.Contains(out.String(), "Parley's own") {
			t.Errorf("lint of a flow whose secret_env is %s: exit %d\n%s%s\nwant exit 1 and PARLEY-104 saying it is Parley's own setting", name, code, out.String(), errb.String())
		}
		code = run([]string{"chat", "--flow", path}, strings.NewReader("hi\n"), &out, &errb)
		if code != exitFindings {
			t.Errorf("chat ran a flow whose secret_env is %s: exit %d", name, code)
		}
	}
	// The control: the shipped variable name lints clean.
	var out, errb strings.Builder
	if code := run([]string{"lint", "../../flows/newsletter.yaml"}, strings.NewReader(""), &out, &errb); code != exitOK {
		t.Fatalf("control: the shipped newsletter flow does not lint clean: exit %d\n%s", code, out.String())
	}
}
