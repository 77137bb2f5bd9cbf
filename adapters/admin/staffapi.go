package admin

import (
	"errors"
	"mime"

	"github.com/gofiber/fiber/v2"
)

// Staff management over the admin API (admin role), so that access can be
// revoked while parley serve runs, which the Badger store's CLI cannot.
const (
	ActionStaffList   = "staff.list"
	ActionStaffChange = "staff.change"
)

func (h *handler) registerStaffAPI(g fiber.Router) {
	g.Get("/staff", h.guard(ActionStaffList, h.staffList))
	g.Get("/staff/tokens", h.guard(ActionStaffList, h.staffTokens))
	g.Post("/staff/disable", h.guard(ActionStaffChange, h.staffSetDisabled(true)))
	g.Post("/staff/enable", h.guard(ActionStaffChange, h.staffSetDisabled(false)))
	g.Post("/staff/tokens/revoke", h.guard(ActionStaffChange, h.staffRevoke))
}

func (h *handler) staffList(rq *request) error {
	if ok, err := h.begin(rq); !ok {
		return err
	}
	list, err := h.staff.List()
	if err != nil {
		return h.backendFailure(rq, err)
	}
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	return rq.c.JSON(fiber.Map{"accounts": list})
}

func (h *handler) staffTokens(rq *request) error {
	if ok, err := h.begin(rq); !ok {
		return err
	}
	list, err := h.staff.Tokens()
	if err != nil {
		return h.backendFailure(rq, err)
	}
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	return rq.c.JSON(fiber.Map{"tokens": list})
}

// staffBody decodes {"name": …} or {"id": …}; on a bad body it answers.
func (h *handler) staffBody(rq *request) (name, id string, ok bool, err error) {
	var b struct {
		Name string `json:"name"`
		ID   string `json:"id"`
	}
	mt, _, perr := mime.ParseMediaType(rq.c.Get(fiber.HeaderContentType))
	raw := rq.c.BodyRaw()
	if perr != nil || mt != fiber.MIMEApplicationJSON || len(raw) > h.maxBody || !decodeOne(raw, &b) {
		return "", "", false, h.failAfter(rq, OutcomeInvalid, fiber.StatusBadRequest, `body must be one JSON object: {"name": "<account>"} or {"id": "<token id>"}`)
	}
	return b.Name, b.ID, true, nil
}

func (h *handler) staffSetDisabled(disabled bool) actionFunc {
	return func(rq *request) error {
		name, _, ok, err := h.staffBody(rq)
		if !ok {
			return err
		}
		if ok, err := h.begin(rq); !ok {
			return err
		}
		if err := h.staff.SetDisabled(rq.c.UserContext(), rq.actor, name, disabled); err != nil {
			return h.staffFailure(rq, err)
		}
		h.finish(rq, OutcomeOK, fiber.StatusOK)
		return rq.c.JSON(fiber.Map{"ok": true})
	}
}

func (h *handler) staffRevoke(rq *request) error {
	_, id, ok, err := h.staffBody(rq)
	if !ok {
		return err
	}
	if ok, err := h.begin(rq); !ok {
		return err
	}
	if err := h.staff.RevokeToken(rq.c.UserContext(), rq.actor, id); err != nil {
		return h.staffFailure(rq, err)
	}
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	return rq.c.JSON(fiber.Map{"ok": true})
}

func (h *handler) staffFailure(rq *request, err error) error {
	if errors.Is(err, ErrNoAccount) || errors.Is(err, ErrNoToken) {
		return h.failAfter(rq, OutcomeNotFound, fiber.StatusNotFound, err.Error())
	}
	return h.backendFailure(rq, err)
}
