package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	viewerToken   = "viewer-token-0123456789abcdef"
	operatorToken = "operator-token-0123456789abcdef"
	dpoToken      = "dpo-token-0123456789abcdef"
	adminToken    = "admin-token-0123456789abcdef"
	hashedToken   = "hashed-dpo-token-0123456789abcdef"
)

func TestParseTokensFile(t *testing.T) {
	file := strings.Join([]string{
		"# admin tokens",
		"",
		"viewer:" + viewerToken,
		"  operator : " + operatorToken + "  ",
		"dpo:" + HashToken(hashedToken),
		"admin:" + adminToken,
	}, "\n")
	toks, err := ParseTokens(strings.NewReader(file), "tokens.txt")
	if err != nil {
		t.Fatalf("ParseTokens: %v", err)
	}
	if toks.Len() != 4 {
		t.Fatalf("Len() = %d, want 4", toks.Len())
	}
	for token, want := range map[string]Role{viewerToken: RoleViewer, operatorToken: RoleOperator, hashedToken: RoleDPO, adminToken: RoleAdmin} {
		p, ok := toks.Identify(token)
		if !ok || p.Role != want {
			t.Errorf("Identify(%s token) = %v, %v; want role %v", want, p, ok, want)
		}
		if len(p.ID) != 8 || strings.Contains(token, p.ID) {
			t.Errorf("principal id %q should be 8 hex characters unrelated to the token", p.ID)
		}
		if strings.Contains(HashToken(token), p.ID) {
			t.Errorf("principal id %q is part of the token hash", p.ID)
		}
		if got := p.Actor(); got != want.String()+":"+p.ID {
			t.Errorf("Actor() = %q, want role:id", got)
		}
	}
	for _, bad := range []string{"", "nope-nope-nope-nope-nope", viewerToken + "x", HashToken(viewerToken)} {
		if p, ok := toks.Identify(bad); ok {
			t.Errorf("Identify(%q) = %v, want no match", bad, p)
		}
	}
}

func TestTokensAreKeptOnlyAsHashes(t *testing.T) {
	toks, err := ParseTokenList("viewer:" + viewerToken + ", dpo:" + dpoToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range toks.hashes() {
		for _, tok := range []string{viewerToken, dpoToken} {
			if string(h[:]) == tok || hex.EncodeToString(h[:]) == tok || strings.Contains(string(h[:]), tok) {
				t.Errorf("a stored hash equals the token %q", tok)
			}
		}
	}
	want := sha256.Sum256([]byte(viewerToken))
	if toks.hashes()[0] != want {
		t.Errorf("stored hash is not SHA-256 of the token")
	}
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("loaded", "tokens", toks)
	for _, s := range []string{fmt.Sprint(toks), fmt.Sprintf("%+v", toks), fmt.Sprintf("%#v", *toks), logs.String()} {
		if strings.Contains(s, viewerToken) || strings.Contains(s, dpoToken) {
			t.Errorf("printed tokens contain a token: %s", s)
		}
	}
}

func TestParseTokensRejectsBadLinesWithoutQuotingThem(t *testing.T) {
	const secret = "some-secret-token-value-xyz"
	tests := []struct {
		name, text, want string
	}{
		{"no colon", secret, "tokens.txt:1: want role:token"},
		{"unknown role", "root:" + secret, "tokens.txt:1: unknown role"},
		{"short token", "viewer:short-" + secret[:2], "tokens.txt:1: token is shorter than 16"},
		{"bad hash", "viewer:sha256:" + secret, "tokens.txt:1: sha256: must be followed by 64 hex digits"},
		{"duplicate", "viewer:" + secret + "\n#\ndpo:" + secret, "tokens.txt:3: the same token appears twice"},
		{"every problem reported", "root:" + secret + "\n" + secret, "tokens.txt:2: want role:token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTokens(strings.NewReader(tc.text), "tokens.txt")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseTokens error = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:12]) {
				t.Errorf("error quotes the token: %v", err)
			}
		})
	}
}

func TestParseTokenListNamesTheEntry(t *testing.T) {
	_, err := ParseTokenList("viewer:" + viewerToken + ",boss:" + dpoToken)
	if err == nil || !strings.Contains(err.Error(), "PARLEY_ADMIN_TOKENS entry 2: unknown role") {
		t.Fatalf("error = %v, want entry 2 named", err)
	}
	if strings.Contains(err.Error(), dpoToken) {
		t.Errorf("error quotes the token: %v", err)
	}
	toks, err := ParseTokenList("")
	if err != nil || toks.Len() != 0 {
		t.Errorf(`ParseTokenList("") = %v, %v; want no tokens`, toks, err)
	}
}

func TestLoadTokensPrefersTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("dpo:"+dpoToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	toks, err := LoadTokens(path, "viewer:"+viewerToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := toks.Identify(viewerToken); ok {
		t.Error("env token accepted although a file was given")
	}
	if p, ok := toks.Identify(dpoToken); !ok || p.Role != RoleDPO {
		t.Errorf("file token: %v %v, want dpo", p, ok)
	}
	toks, err = LoadTokens("", "viewer:"+viewerToken)
	if err != nil || toks.Len() != 1 {
		t.Errorf("LoadTokens from env = %v, %v; want one token", toks, err)
	}
	if _, err := LoadTokens(filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Error("LoadTokens of a missing file succeeded")
	}
}

func TestNilTokensRefuseEverything(t *testing.T) {
	var toks *Tokens
	if _, ok := toks.Identify(viewerToken); ok || toks.Len() != 0 {
		t.Error("nil Tokens accepted a token")
	}
}
