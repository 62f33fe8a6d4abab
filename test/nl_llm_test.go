package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantproxy/tenantproxy/admin"
)

// scriptedModel is an OpenAI-compatible chat endpoint that answers from a
// script: per question, the first answer and the answer to a repair
// request. It records every request's messages.
type scriptedModel struct {
	mu     sync.Mutex
	script map[string][2]string // question -> first answer, repaired answer
	delay  map[string]time.Duration
	seen   [][]string // messages' contents per request
}

func (m *scriptedModel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Messages []struct{ Role, Content string } `json:"messages"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	var contents []string
	question, repair := "", false
	for _, msg := range req.Messages {
		contents = append(contents, msg.Content)
		if msg.Role == "user" {
			if strings.HasPrefix(msg.Content, "That SQL failed") {
				repair = true
			} else {
				question = msg.Content
			}
		}
	}
	m.mu.Lock()
	m.seen = append(m.seen, contents)
	answers, ok := m.script[question]
	d := m.delay[question]
	m.mu.Unlock()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	content := "UNANSWERABLE"
	if ok {
		content = answers[0]
		if repair {
			content = answers[1]
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{"message": map[string]string{"role": "assistant", "content": content}}}})
}

func (m *scriptedModel) requests(question string) [][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]string
	for _, s := range m.seen {
		if s[len(s)-1] == question || (len(s) > 2 && s[len(s)-3] == question) {
			out = append(out, s)
		}
	}
	return out
}

// TestNLLLMProvider drives the LLM provider against a scripted model: a
// valid answer (prompted with the linked schema only), an invalid answer
// repaired after the error is fed back, hostile answers (a write, another
// tenant's table) that are never run and leave the deterministic
// translator to answer, and a model that does not answer in time.
func TestNLLLMProvider(t *testing.T) {
	requirePostgres(t)
	alpha := pgShop(t, "llm_alpha",
		`INSERT INTO customer VALUES (1,'Ana','ana@a.example','Brazil'),(2,'Bob','bob@a.example','Canada'),(3,'Carla','carla@a.example','Brazil')`,
		`INSERT INTO invoice VALUES (1,1,'2023-01-05',10.50),(2,1,'2023-02-07',5.00),(3,2,'2024-03-01',7.25),(4,3,'2024-12-31',1.00)`)
	beta := pgShop(t, "llm_beta",
		`INSERT INTO customer VALUES (1,'Dave','dave@b.example','Brazil'),(2,'Eve','eve@b.example','Peru')`,
		`INSERT INTO invoice VALUES (1,1,'2023-01-05',100.00)`)
	model := &scriptedModel{
		script: map[string][2]string{
			"which customer lives up north": {"```sql\nSELECT name FROM customer WHERE country = 'Canada'\n```", ""},
			"which customer is from the north": {"```sql\nSELECT nme FROM customer WHERE country = 'Canada'\n```",
				"```sql\nSELECT name FROM customer WHERE country = 'Canada'\n```"},
			"how many customers are there": {"DROP TABLE customer", "DROP TABLE customer"},
			"list the customers":           {"SELECT name FROM " + beta + ".public.customer", "SELECT name FROM " + beta + ".public.customer"},
			"how many invoices are there":  {"SELECT count(*) FROM invoice", ""},
		},
		delay: map[string]time.Duration{"how many invoices are there": 5 * time.Second},
	}
	srv := httptest.NewServer(model)
	defer srv.Close()
	a := startAPI(t, apiYAML(alpha, beta)+"nlp: {provider: openai, base_url: \""+srv.URL+"/v1\", model: scripted}\n",
		func(c *admin.Config) { c.NLP.Timeout = 700 * time.Millisecond })
	tok := a.login(t, "alice", "alice-secret", "alpha")

	t.Run("valid", func(t *testing.T) {
		r := a.ask(t, tok, "which customer lives up north")
		if m := r.JSON(t); r.Status != 200 || fmt.Sprint(m["rows"]) != "[[Bob]]" || m["source"] != "llm" {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
		reqs := model.requests("which customer lives up north")
		if len(reqs) != 1 {
			t.Fatalf("%d requests to the model, want 1", len(reqs))
		}
		sys := reqs[0][0]
		if !strings.Contains(sys, "TABLE customer (") || strings.Contains(sys, "TABLE invoice (") || !strings.Contains(sys, `"Brazil"`) {
			t.Fatalf("the prompt is not the linked schema with sample values:\n%s", sys)
		}
	})
	t.Run("invalid then repaired", func(t *testing.T) {
		r := a.ask(t, tok, "which customer is from the north")
		m := r.JSON(t)
		if r.Status != 200 || fmt.Sprint(m["rows"]) != "[[Bob]]" || m["source"] != "llm" || !strings.Contains(m["explanation"].(string), "Repaired once") {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
		reqs := model.requests("which customer is from the north")
		if len(reqs) != 2 || !strings.Contains(reqs[1][len(reqs[1])-1], "nme") {
			t.Fatalf("the repair request does not carry the error: %q", reqs)
		}
	})
	t.Run("hostile write", func(t *testing.T) {
		r := a.ask(t, tok, "how many customers are there")
		if m := r.JSON(t); r.Status != 200 || m["source"] != "deterministic" || fmt.Sprint(m["rows"]) != "[[3]]" {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
		if n := len(model.requests("how many customers are there")); n != 1 {
			t.Fatalf("a refused write was sent back for repair (%d requests)", n)
		}
		pgExec(t, alpha, "SELECT 1 FROM customer LIMIT 1") // still there
	})
	t.Run("other tenant's table", func(t *testing.T) {
		r := a.ask(t, tok, "list the customers")
		if strings.Contains(string(r.Body), "Dave") || strings.Contains(string(r.Body), "Eve") || r.JSON(t)["source"] == "llm" {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
	})
	t.Run("masked values stay out", func(t *testing.T) {
		// alice is a viewer on beta, where customer.email is masked.
		tb := a.login(t, "alice", "alice-secret", "beta")
		const q = "which customer has the email dave@b.example"
		r := a.ask(t, tb, q)
		if r.Status != 422 || strings.Contains(string(r.Body), "Dave") {
			t.Fatalf("a masked value linked the question: HTTP %d %s", r.Status, r.Body)
		}
		reqs := model.requests(q)
		if len(reqs) != 1 || strings.Contains(reqs[0][0], "@b.example") || !strings.Contains(reqs[0][0], `"Peru"`) {
			t.Fatalf("masked values in the prompt: %q", reqs)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		r := a.ask(t, tok, "how many invoices are there")
		if m := r.JSON(t); r.Status != 200 || m["source"] != "deterministic" || fmt.Sprint(m["rows"]) != "[[4]]" {
			t.Fatalf("HTTP %d %s", r.Status, r.Body)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Fatalf("the model's timeout did not bound the question: %v", d)
		}
	})
}
