package admin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// customerData are the actions that serve or change a customer's data.
var customerData = []string{ActionExport, ActionErase, ActionRectify, ActionBroadcast, ActionAuditRead,
	ActionHandoffsList, ActionHandoffsRead, ActionHandoffsReply, ActionHandoffsReturn, ActionHandoffsClose}

// replayAll calls every admin route with the cookies saved (put back before
// each call, as an attacker holding an old cookie would) and the CSRF
// header they carry, and reports the routes that did not answer 401 or
// reached a backend.
func replayAll(t *testing.T, se *staffEnv, who string, routes []endpoint, saved map[string]*http.Cookie) {
	t.Helper()
	b := se.browser("192.0.2.150")
	for _, rt := range routes {
		b.jar = map[string]*http.Cookie{}
		for k, c := range saved {
			b.jar[k] = c
		}
		calls := len(se.backend.calls) + len(se.handoffs.calls)
		st, body := b.api(t, rt.method, rt.path, `{"channel":"whatsapp","user":"`+canaryUser+`"}`)
		if st != http.StatusUnauthorized {
			t.Errorf("%s: %s %s answered %d, want 401: %s", who, rt.method, rt.path, st, body)
		}
		if n := len(se.backend.calls) + len(se.handoffs.calls); n != calls {
			t.Errorf("%s: %s %s reached the backend", who, rt.method, rt.path)
		}
		if strings.Contains(body, canaryUser) || strings.Contains(body, "hello") {
			t.Errorf("%s: %s %s answered with customer data: %s", who, rt.method, rt.path, body)
		}
	}
}

func jarCopy(b *browser) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for k, c := range b.jar {
		out[k] = c
	}
	return out
}

// TestNoCustomerDataWithoutTwoFactors walks every admin route (read from
// Fiber's table, so a route added later is walked too) with (a) no
// credentials, (b) a session that gave the password but not yet the code,
// both for an enrolled operator and for one shown the enrolment page, (c)
// the session of an account disabled since, (d) sessions past the idle and
// the absolute timeout on a fake clock: every one answers 401 and reaches
// no backend. The controls: the same full sessions worked just before, and
// a viewer (no second factor) gets 403 on every customer-data route.
func TestNoCustomerDataWithoutTwoFactors(t *testing.T) {
	se := newStaffEnv(t)
	routes := adminRoutes(se.app)
	dpo := se.signedInAs(t, "dpo")
	for _, a := range customerData {
		found := false
		for _, rt := range routes {
			before := len(se.backend.auditActions())
			dpo.api(t, rt.method, rt.path, `{"channel":"whatsapp","user":"`+canaryUser+`"}`)
			if acts := se.backend.auditActions()[before:]; len(acts) > 0 && strings.HasPrefix(acts[len(acts)-1], a+":") {
				found = true
				break
			}
		}
		if !found && a != ActionBroadcast { // the fake backend runs no broadcasts, but its route is walked
			t.Errorf("no admin route performs %s", a)
		}
	}

	replayAll(t, se, "no credentials", routes, nil)

	se.add(t, "enrolled", "operator")
	se.signIn(t, "enrolled", "192.0.2.151")
	half := se.browser("192.0.2.152")
	if st, page := half.send(t, "POST", LoginPath, url.Values{"name": {"enrolled"}, "password": {staffPassword}}, nil, ""); st != 200 || !strings.Contains(page, `name="code"`) {
		t.Fatalf("password of an enrolled operator: %d, want the code page:\n%s", st, page)
	}
	replayAll(t, se, "password only, code not given", routes, jarCopy(half))

	se.add(t, "newcomer", "dpo")
	half = se.browser("192.0.2.153")
	if st, page := half.send(t, "POST", LoginPath, url.Values{"name": {"newcomer"}, "password": {staffPassword}}, nil, ""); st != 200 || !strings.Contains(page, `id="secret"`) {
		t.Fatalf("first password of a DPO: %d, want the enrolment page:\n%s", st, page)
	}
	replayAll(t, se, "password only, enrolment not finished", routes, jarCopy(half))

	se.add(t, "leaver", "dpo")
	leaver := se.signIn(t, "leaver", "192.0.2.154")
	if st, body := leaver.api(t, "GET", "/admin/v1/handoffs", ""); st != 200 {
		t.Fatalf("control: the full session reads the queue: %d %s", st, body)
	}
	saved := jarCopy(leaver)
	if err := se.staff.SetDisabled(t.Context(), ActorCLI, "leaver", true); err != nil {
		t.Fatal(err)
	}
	replayAll(t, se, "disabled account's session", routes, saved)

	se.add(t, "idler", "operator")
	idler := se.signIn(t, "idler", "192.0.2.155")
	if st, _ := idler.api(t, "GET", "/admin/v1/handoffs", ""); st != 200 {
		t.Fatalf("control: the idler's session reads the queue: %d", st)
	}
	saved = jarCopy(idler)
	se.clock.Advance(DefaultSessionIdle + time.Second)
	replayAll(t, se, "session idle too long", routes, saved)

	se.add(t, "worker", "operator")
	worker := se.signIn(t, "worker", "192.0.2.156")
	for start := se.clock.Now(); se.clock.Now().Sub(start) < DefaultSessionMax; se.clock.Advance(DefaultSessionIdle / 2) {
		if st, _ := worker.api(t, "GET", "/admin/v1/handoffs", ""); st != 200 {
			t.Fatalf("control: a session in use %s after sign-in: %d", se.clock.Now().Sub(start), st)
		}
	}
	replayAll(t, se, "session past its absolute timeout", routes, jarCopy(worker))

	se.add(t, "viewer1", "viewer")
	viewer := se.signIn(t, "viewer1", "192.0.2.157")
	for _, rt := range routes {
		before := len(se.backend.auditActions())
		st, _ := viewer.api(t, rt.method, rt.path, `{"channel":"whatsapp","user":"`+canaryUser+`"}`)
		acts := se.backend.auditActions()[before:]
		if len(acts) == 0 {
			t.Fatalf("viewer %s %s: nothing audited", rt.method, rt.path)
		}
		action, _, _ := strings.Cut(acts[0], ":")
		if slices.Contains(customerData, action) && st != 403 {
			t.Errorf("a viewer (password only) %s %s: %d, want 403", rt.method, rt.path, st)
		}
	}
}

// signedInAs returns a fully signed-in browser of a fresh account of role.
func (se *staffEnv) signedInAs(t *testing.T, role string) *browser {
	t.Helper()
	name := "probe-" + role + "-" + strings.ToLower(randomHex(2))
	se.add(t, name, role)
	return se.signIn(t, name, "192.0.2.200")
}

// TestMeSaysWhoAndWhatTheRoleAllows: GET /me answers the account id, the
// role and exactly the role's actions from the grants table, for a
// session and for a legacy token; without credentials 401.
func TestMeSaysWhoAndWhatTheRoleAllows(t *testing.T) {
	se := newStaffEnv(t)
	for r, name := range roleNames {
		se.add(t, name+"-me", name)
		b := se.signIn(t, name+"-me", "192.0.2.160")
		st, body := b.api(t, "GET", Prefix+"/me", "")
		if st != 200 {
			t.Fatalf("%s: GET /me = %d %s", name, st, body)
		}
		var me struct {
			Actor, ID, Role string
			Actions         []string
		}
		if err := json.Unmarshal([]byte(body), &me); err != nil {
			t.Fatal(err)
		}
		a, err := se.staff.get(name + "-me")
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(grants[r])
		slices.Sort(want)
		if me.ID != a.ID || me.Role != name || me.Actor != name+":"+a.ID || !slices.Equal(me.Actions, want) {
			t.Errorf("%s: /me = %+v, want id %s and actions %v", name, me, a.ID, want)
		}
		if name == "viewer" && slices.ContainsFunc(me.Actions, func(x string) bool { return slices.Contains(customerData, x) }) {
			t.Errorf("a viewer is told it may touch customer data: %v", me.Actions)
		}
	}
	if st, _ := se.browser("192.0.2.161").api(t, "GET", Prefix+"/me", ""); st != 401 {
		t.Errorf("GET /me without credentials: %d, want 401", st)
	}
}
