package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// graph is a fake WhatsApp Graph API: it accepts
// POST /{version}/{phone-number-id}/messages, answers like Meta does, and
// tells the waiting conversation that a reply for its recipient arrived.
type graph struct {
	srv     *http.Server
	ln      net.Listener
	mu      sync.Mutex
	waiters map[string]chan string // recipient -> reply texts
	seq     atomic.Uint64
	replies atomic.Uint64
	reads   atomic.Uint64
	strays  atomic.Uint64
}

func startGraph(addr string) (*graph, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	g := &graph{ln: ln, waiters: map[string]chan string{}}
	g.srv = &http.Server{Handler: http.HandlerFunc(g.serve)}
	go g.srv.Serve(ln)
	return g, nil
}

func (g *graph) URL() string { return "http://" + g.ln.Addr().String() }

func (g *graph) Close() { g.srv.Close() }

// expect registers the channel that receives replies for recipient.
func (g *graph) expect(recipient string, ch chan string) {
	g.mu.Lock()
	g.waiters[recipient] = ch
	g.mu.Unlock()
}

func (g *graph) forget(recipient string) {
	g.mu.Lock()
	delete(g.waiters, recipient)
	g.mu.Unlock()
}

type sendRequest struct {
	To          string                `json:"to"`
	Type        string                `json:"type"`
	Status      string                `json:"status"`
	Text        struct{ Body string } `json:"text"`
	Interactive struct {
		Body struct{ Text string } `json:"body"`
	} `json:"interactive"`
}

func (g *graph) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/messages") {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	var req sendRequest
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, `{"error":{"message":"bad json","code":100}}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if req.Status == "read" {
		g.reads.Add(1)
		fmt.Fprint(w, `{"success":true}`)
		return
	}
	id := g.seq.Add(1)
	text := req.Text.Body
	if req.Type == "interactive" {
		text = req.Interactive.Body.Text
	}
	g.mu.Lock()
	ch := g.waiters[req.To]
	g.mu.Unlock()
	if ch != nil {
		g.replies.Add(1)
		select {
		case ch <- text:
		default:
			g.strays.Add(1)
		}
	} else {
		g.strays.Add(1)
	}
	fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":"wamid.LOADGEN%d"}]}`, req.To, req.To, id)
}
