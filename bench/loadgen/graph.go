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
	"time"
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

	// chaos runs: every reply per recipient, and the fault schedule
	recording bool
	log       map[string][]string
	faultFrom time.Time
	faults    []faultPhase
	refused   atomic.Int64
}

// record keeps every reply text per recipient from now on.
func (g *graph) record() {
	g.mu.Lock()
	g.recording, g.log = true, map[string][]string{}
	g.mu.Unlock()
}

// setFaults makes the API fail as the phases say, starting at from.
func (g *graph) setFaults(from time.Time, phases []faultPhase) {
	g.mu.Lock()
	g.faultFrom, g.faults = from, phases
	g.mu.Unlock()
}

// fault is the failure mode in force now, "" for none.
func (g *graph) fault() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	at := time.Since(g.faultFrom)
	for _, p := range g.faults {
		if at < p.d {
			return p.mode
		}
		at -= p.d
	}
	return ""
}

// logOf returns the distinct replies to recipient in order of first
// arrival, and how many arrived in all.
func (g *graph) logOf(recipient string) (distinct []string, total int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	seen := map[string]bool{}
	for _, r := range g.log[recipient] {
		if !seen[r] {
			seen[r] = true
			distinct = append(distinct, r)
		}
	}
	return distinct, len(g.log[recipient])
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
	switch g.fault() {
	case "500":
		g.refused.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":{"message":"An unknown error has occurred.","type":"OAuthException","code":1,"fbtrace_id":"LOADGEN"}}`)
		return
	case "429":
		g.refused.Add(1)
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"fbtrace_id":"LOADGEN"}}`)
		return
	case "slow":
		time.Sleep(2 * time.Second) // a slow API, not a wait for work
	}
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
	if g.recording {
		g.log[req.To] = append(g.log[req.To], text)
	}
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
