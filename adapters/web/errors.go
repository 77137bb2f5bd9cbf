package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gofiber/fiber/v2"
)

// ErrorHandler is a fiber.ErrorHandler that answers {"error":"<status text>"}
// with the status of a *fiber.Error (500 for any other error). It never writes
// err.Error() or a fiber.Error's message to the client: those can carry a
// panic text or a decoder message quoting the request. Use it in
// fiber.Config.ErrorHandler for the whole server.
func ErrorHandler(c *fiber.Ctx, err error) error {
	return writeError(c, statusOf(err))
}

// NewErrorHandler returns an ErrorHandler that also logs the method, route
// pattern and status of each failed request at warn (5xx at error). The
// error text is not logged either: a recovered panic may quote personal data.
func NewErrorHandler(log *slog.Logger) fiber.ErrorHandler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(c *fiber.Ctx, err error) error {
		code := statusOf(err)
		level := slog.LevelWarn
		if code >= 500 {
			level = slog.LevelError
		}
		log.Log(c.UserContext(), level, "request failed",
			"method", c.Method(), "route", c.Route().Path, "status", code)
		return writeError(c, code)
	}
}

func statusOf(err error) int {
	var fe *fiber.Error
	if errors.As(err, &fe) && fe.Code >= 400 && fe.Code <= 599 {
		return fe.Code
	}
	return fiber.StatusInternalServerError
}

// writeError answers {"error": msg} where msg is the standard status text.
func writeError(c *fiber.Ctx, code int) error {
	return writeJSONError(c, code, http.StatusText(code))
}

// writeJSONError answers {"error": msg}. msg must be a fixed text of ours,
// never built from the request.
func writeJSONError(c *fiber.Ctx, code int, msg string) error {
	if msg == "" {
		msg = "Error"
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return c.Status(code).JSON(fiber.Map{"error": msg})
}
