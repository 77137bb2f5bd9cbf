package main

import (
	"bytes"
	"image"
	_ "image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/parleyhq/parley/engine/compile"
)

// decodeQR reads the QR code in a PNG file back, as a phone camera would.
func decodeQR(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("the QR file is not an image: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("no QR code could be read from %s: %v", path, err)
	}
	return res.GetText()
}

// TestLinkPrintsAnEntryLinkAndItsQRCode runs `parley link` as an author
// would: the printed link goes to the number from the environment with
// the flow's greeting and the campaign reference, and the PNG decodes back
// to exactly that link; the start text, sent as is, yields the campaign.
func TestLinkPrintsAnEntryLinkAndItsQRCode(t *testing.T) {
	t.Setenv("PARLEY_WHATSAPP_NUMBER", "+39 02 1234 5678")
	t.Setenv("PARLEY_WHATSAPP_FLOW", "booking")
	png := filepath.Join(t.TempDir(), "poster.png")
	var out, errb bytes.Buffer
	if code := run([]string{"link", "booking", "--flows", "../../flows", "--campaign", "spring-24", "--qr", png}, strings.NewReader(""), &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	link := strings.TrimSpace(out.String())
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != "wa.me" || u.Path != "/390212345678" {
		t.Errorf("link %q does not go to https://wa.me/390212345678", link)
	}
	start := u.Query().Get("text")
	if start != "Hi (ref: spring-24)" || compile.EntryCampaign(start) != "spring-24" {
		t.Errorf("start text %q, want %q carrying spring-24", start, "Hi (ref: spring-24)")
	}
	if got := decodeQR(t, png); got != link {
		t.Errorf("the QR code reads %q, want the printed link %q", got, link)
	}
	// Without a campaign the text is the bare greeting, in the flow's
	// first language.
	out.Reset()
	if code := run([]string{"link", "--number", "390212345678", "booking", "--flows", "../../flows"}, strings.NewReader(""), &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := strings.TrimSpace(out.String()); got != "https://wa.me/390212345678?text=Hi" {
		t.Errorf("link without campaign: %q", got)
	}
}

// TestLinkRefusesWhatWouldNotWork: every refusal says what to do, exits 2
// and prints no link.
func TestLinkRefusesWhatWouldNotWork(t *testing.T) {
	t.Setenv("PARLEY_WHATSAPP_NUMBER", "")
	t.Setenv("PARLEY_WHATSAPP_FLOW", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"booking"}, "--number"},
		{[]string{"booking", "--number", "12"}, "8 to 15 digits"},
		{[]string{"booking", "--number", "390212345678", "--campaign", "ada@example.com"}, "never a customer"},
		{[]string{"booking", "--number", "390212345678", "--campaign", "spring 24"}, "letters, digits"},
		{[]string{"booking", "--number", "390212345678", "--campaign", strings.Repeat("x", 25)}, "1 to 24"},
		{[]string{"booking", "--number", "390212345678", "--text", "STOP"}, "keyword"},
		{[]string{"bookng", "--number", "390212345678"}, `no flow with id "bookng"`},
		{[]string{"--number", "390212345678"}, "name one flow"},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"link", "--flows", "../../flows"}, tc.args...), strings.NewReader(""), &out, &errb)
		if code != exitUsage || out.Len() != 0 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("link %v: exit %d, stdout %q, stderr %q; want exit 2, no link, and %q", tc.args, code, out.String(), errb.String(), tc.want)
		}
	}
	t.Setenv("PARLEY_WHATSAPP_FLOW", "pizza")
	var out, errb bytes.Buffer
	if code := run([]string{"link", "booking", "--flows", "../../flows", "--number", "390212345678"}, strings.NewReader(""), &out, &errb); code != exitUsage || !strings.Contains(errb.String(), `serves flow "pizza"`) {
		t.Errorf("a link to a flow the number does not serve: exit %d, %q", code, errb.String())
	}
}
