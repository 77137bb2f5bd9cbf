package console

import (
	"embed"

	"github.com/gofiber/fiber/v2"
)

// Path is where Register mounts the page.
const Path = "/console"

//go:embed static
var static embed.FS

// csp allows the page's own script, style and API calls, and nothing else:
// no inline script, no other origin, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Register mounts the console page and its assets on r.
func Register(r fiber.Router) {
	r.Get(Path, serve("static/index.html", fiber.MIMETextHTMLCharsetUTF8))
	r.Get(Path+"/console.js", serve("static/console.js", "text/javascript; charset=utf-8"))
	r.Get(Path+"/console.css", serve("static/console.css", "text/css; charset=utf-8"))
}

func serve(name, mime string) fiber.Handler {
	b, err := static.ReadFile(name)
	if err != nil {
		panic("console: missing embedded " + name) // a build mistake
	}
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, mime)
		c.Set(fiber.HeaderContentSecurityPolicy, csp)
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		c.Set(fiber.HeaderXFrameOptions, "DENY")
		c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
		return c.Send(b)
	}
}
