// Command relay is the ceiling any flow engine on this machine can reach
// with the WhatsApp Cloud API: a Fiber handler, as in `parley serve`, that
// checks the webhook's signature, decodes it and posts a fixed number of
// fixed replies per message to the Graph API (two for "hi", as the booking
// flow's greeting and consent question, one otherwise). No flow, no
// storage, no retries: bench/run.sh measures it beside Parley with the same
// load generator so Parley's figures can be read as a ratio of it.
//
//	go run ./bench/relay -addr 127.0.0.1:8090 -graph http://127.0.0.1:8788
//
// Only loopback addresses are accepted.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/adapters/whatsapp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address (loopback only)")
	graph := flag.String("graph", "", "base URL of the (fake) Graph API (loopback only)")
	version := flag.String("api-version", "v25.0", "Graph API version in the reply path")
	secret := flag.String("secret", "loadgen-app-secret", "WhatsApp app secret")
	flag.Parse()
	if err := run(*addr, *graph, *version, []byte(*secret)); err != nil {
		fmt.Fprintln(os.Stderr, "relay:", err)
		os.Exit(1)
	}
}

func run(addr, graph, version string, secret []byte) error {
	u, err := url.Parse(graph)
	if graph == "" || err != nil || !loopback(u.Host) {
		return fmt.Errorf("-graph must be a loopback URL such as http://127.0.0.1:8788, not %q", graph)
	}
	if !loopback(addr) {
		return fmt.Errorf("-addr must be a loopback address, not %q", addr)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}}
	app := fiber.New(fiber.Config{DisableStartupMessage: true, BodyLimit: whatsapp.MaxBodyBytes + 64<<10})
	app.Post("/webhook/whatsapp", func(c *fiber.Ctx) error {
		body := c.Body()
		if !whatsapp.VerifySignature(secret, body, c.Get(whatsapp.SignatureHeader)) {
			return c.SendStatus(fiber.StatusUnauthorized)
		}
		b, err := whatsapp.Decode(body)
		if err != nil {
			return c.SendStatus(fiber.StatusBadRequest)
		}
		for _, m := range b.Messages {
			n := 1
			if strings.EqualFold(string(m.Text), "hi") {
				n = 2
			}
			to, pnid := m.From.WaID, m.PhoneNumberID
			go func() {
				for i := range n {
					reply(client, fmt.Sprintf("%s/%s/%s/messages", graph, version, pnid), to, i)
				}
			}()
		}
		return c.SendStatus(fiber.StatusOK)
	})
	app.Get("/readyz", func(c *fiber.Ctx) error { return c.SendString("ok\n") })

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-stop; app.Shutdown() }()
	return app.Listen(addr)
}

// reply posts the i-th fixed reply to one customer.
func reply(client *http.Client, endpoint, to string, i int) {
	body := fmt.Appendf(nil, `{"messaging_product":"whatsapp","recipient_type":"individual","to":%q,"type":"text","text":{"body":"fixed reply %d"}}`, to, i+1)
	req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer relay-token")
	resp, err := client.Do(req)
	if err != nil {
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
