package web

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// page is the whole chat page: markup, CSS and script inline, no external
// resources, so it works offline and the CSP can forbid every other origin.
//
//go:embed static/index.html
var page []byte

// pageCSP allows exactly the inline <style> and <script> blocks of page (by
// hash), fetches to this origin, and nothing else.
var pageCSP = buildCSP(string(page))

var (
	styleBlock  = regexp.MustCompile(`(?s)<style>(.*?)</style>`)
	scriptBlock = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
)

func buildCSP(html string) string {
	hashes := func(re *regexp.Regexp) string {
		var out []string
		for _, m := range re.FindAllStringSubmatch(html, -1) {
			sum := sha256.Sum256([]byte(m[1]))
			out = append(out, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
		}
		if len(out) == 0 {
			return "'none'"
		}
		return strings.Join(out, " ")
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src " + hashes(scriptBlock),
		"style-src " + hashes(styleBlock),
		"connect-src 'self'",
		"img-src 'self' data:",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

func servePage(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderContentSecurityPolicy, pageCSP)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(page)
}
