package whatsapp

import (
	"bytes"
	"net/url"
	"os"
	"strings"
	"testing"
)

// signatureExample reads the worked example of the reference: the secret, the
// exact body between the marker lines and the header Meta would send.
func signatureExample(t testing.TB) (secret, body []byte, header string) {
	t.Helper()
	raw, err := os.ReadFile("testdata/signature-example.txt")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "App secret") {
			secret = []byte(strings.TrimSpace(lines[i+1]))
		}
		if l == "-----BEGIN BODY-----" {
			body = []byte(lines[i+1])
		}
		if strings.HasPrefix(l, "X-Hub-Signature-256: ") && header == "" && body != nil {
			header = strings.TrimPrefix(l, "X-Hub-Signature-256: ")
		}
	}
	if len(secret) == 0 || len(body) != 541 || header == "" {
		t.Fatalf("cannot parse signature example: secret %d bytes, body %d bytes (want 541), header %q", len(secret), len(body), header)
	}
	return secret, body, header
}

func TestSignMatchesReferenceVectors(t *testing.T) {
	if got, want := Sign([]byte("secret"), []byte("test")), "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"; got != want {
		t.Errorf("Sign(secret, test) = %q, want %q", got, want)
	}
	secret, body, header := signatureExample(t)
	if got := Sign(secret, body); got != header {
		t.Errorf("Sign(example) = %q, want %q", got, header)
	}
}

func TestVerifySignature(t *testing.T) {
	secret, body, header := signatureExample(t)
	reencoded := bytes.ReplaceAll(bytes.ReplaceAll(body, []byte(`Jos\u00e9`), []byte("José")), []byte(`Ol\u00e1`), []byte("Olá"))
	hexPart := strings.TrimPrefix(header, "sha256=")
	flipped := []byte(header)
	if flipped[len(flipped)-1] == '0' {
		flipped[len(flipped)-1] = '1'
	} else {
		flipped[len(flipped)-1] = '0'
	}
	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{"reference example is accepted", secret, body, header, true},
		{"upper case hex is accepted", secret, body, "sha256=" + strings.ToUpper(hexPart), true},
		{"body re-encoded to UTF-8 is rejected", secret, reencoded, header, false},
		{"signature of the re-encoded body does not verify the raw one", secret, body, "sha256=42e4b7f22b4f7fefd6759f85ae7aff8127a1427c9d5fc1a9310e65019384ed87", false},
		{"one flipped digit is rejected", secret, body, string(flipped), false},
		{"wrong secret is rejected", []byte("another-secret"), body, header, false},
		{"empty secret is rejected", nil, body, Sign(nil, body), false},
		{"missing header is rejected", secret, body, "", false},
		{"prefix only is rejected", secret, body, "sha256=", false},
		{"missing prefix is rejected", secret, body, hexPart, false},
		{"sha1 prefix is rejected", secret, body, "sha1=" + hexPart, false},
		{"upper case prefix is rejected", secret, body, "SHA256=" + hexPart, false},
		{"non-hex digest is rejected", secret, body, "sha256=" + strings.Repeat("zz", 32), false},
		{"short digest is rejected", secret, body, header[:len(header)-2], false},
		{"long digest is rejected", secret, body, header + "00", false},
		{"odd length digest is rejected", secret, body, header[:len(header)-1], false},
		{"surrounding space is rejected", secret, body, " " + header, false},
		{"trailing newline in body is rejected", secret, append(bytes.Clone(body), '\n'), header, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := VerifySignature(tc.secret, tc.body, tc.header); got != tc.want {
				t.Errorf("VerifySignature = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestVerifySignatureAnyAcceptsEitherSecretDuringRotation(t *testing.T) {
	secret, body, header := signatureExample(t)
	old := []byte("old-secret")
	if !VerifySignatureAny([][]byte{old, secret}, body, header) {
		t.Error("new secret second: rejected, want accepted")
	}
	if !VerifySignatureAny([][]byte{secret, old}, body, header) {
		t.Error("new secret first: rejected, want accepted")
	}
	if VerifySignatureAny([][]byte{old, nil}, body, header) {
		t.Error("neither secret: accepted, want rejected")
	}
	if VerifySignatureAny(nil, body, header) {
		t.Error("no secrets: accepted, want rejected")
	}
	if VerifySignatureAny([][]byte{secret}, body, "sha256=") {
		t.Error("malformed header: accepted, want rejected")
	}
}

func TestVerifyHandshake(t *testing.T) {
	const token = "parley-example-verify-token"
	tests := []struct {
		name  string
		query string
		token string
		want  string
		ok    bool
	}{
		{"reference example echoes the challenge", "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=parley-example-verify-token", token, "1158201444", true},
		{"challenge is echoed verbatim, not as a number", "hub.mode=subscribe&hub.challenge=00012&hub.verify_token=" + token, token, "00012", true},
		{"wrong token", "hub.mode=subscribe&hub.challenge=1&hub.verify_token=nope", token, "", false},
		{"token prefix", "hub.mode=subscribe&hub.challenge=1&hub.verify_token=parley", token, "", false},
		{"missing token", "hub.mode=subscribe&hub.challenge=1", token, "", false},
		{"wrong mode", "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=" + token, token, "", false},
		{"missing mode", "hub.challenge=1&hub.verify_token=" + token, token, "", false},
		{"missing challenge", "hub.mode=subscribe&hub.verify_token=" + token, token, "", false},
		{"empty configured token never matches", "hub.mode=subscribe&hub.challenge=1&hub.verify_token=", "", "", false},
		{"keys without dots are not read", "hub_mode=subscribe&hub_challenge=1&hub_verify_token=" + token, token, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := VerifyHandshake(q, tc.token)
			if got != tc.want || ok != tc.ok {
				t.Errorf("VerifyHandshake = (%q, %v), want (%q, %v)", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzVerifySignature(f *testing.F) {
	secret, body, header := signatureExample(f)
	f.Add(secret, body, header)
	f.Add([]byte("secret"), []byte("test"), "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914")
	f.Add([]byte("secret"), []byte("test"), "sha256=")
	f.Add([]byte(""), []byte(""), "")
	f.Fuzz(func(t *testing.T, secret, body []byte, header string) {
		got := VerifySignature(secret, body, header)
		// Only the exact signature (in either hex case) may verify.
		want := len(secret) > 0 && strings.EqualFold(header, Sign(secret, body)) && strings.HasPrefix(header, "sha256=")
		if got != want {
			t.Fatalf("VerifySignature(%q, %q, %q) = %v, want %v", secret, body, header, got, want)
		}
		if len(secret) > 0 && !VerifySignature(secret, body, Sign(secret, body)) {
			t.Fatalf("own signature rejected")
		}
	})
}

func TestValidChallenge(t *testing.T) {
	for challenge, want := range map[string]bool{
		"1158201444": true, "0": true, strings.Repeat("9", MaxChallengeDigits): true,
		"": false, strings.Repeat("9", MaxChallengeDigits+1): false, "12a": false, "<b>1</b>": false,
		" 1": false, "1\n": false, "-1": false, "１２": false, // fullwidth digits are not ASCII
	} {
		if got := ValidChallenge(challenge); got != want {
			t.Errorf("ValidChallenge(%q) = %v, want %v", challenge, got, want)
		}
	}
}
