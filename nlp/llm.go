package nlp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"
)

// OpenAI is a translator backed by an OpenAI-compatible chat-completions
// endpoint (a local llama.cpp or Ollama server, or a hosted one). The
// prompt carries only the part of the schema the question links to (its
// tables, the tables on the join paths between them, their columns and
// keys and a few sample values), the tenant's glossary and its verified
// examples as few-shot pairs. The SQL the model answers with must pass the
// Checker (one read statement the caller's policy allows) and a bounded
// trial run (Trial); a failure is fed back to the model once for a repair.
// When the model's SQL still fails, is refused, or the model does not
// answer in time, the Fallback translator answers.
type OpenAI struct {
	BaseURL  string // e.g. http://127.0.0.1:8080/v1
	Model    string
	APIKey   string
	Client   *http.Client
	Fallback Translator
	Log      *slog.Logger
	// Timeout bounds the model's part of one question, repair included
	// (default 20s).
	Timeout time.Duration
}

var _ Translator = (*OpenAI)(nil)

// Checker validates SQL written by a model before it is used: it must be
// one read statement the caller may run.
type Checker func(sql string) error

// Trial runs SQL written by a model once, bounded (a row or two, a short
// timeout), so that an error of the backend can be fed back to the model.
type Trial func(ctx context.Context, sql string) error

type checkerKey struct{}

type trialKey struct{}

// WithChecker returns a context carrying the SQL check the LLM provider
// applies to its answers.
func WithChecker(ctx context.Context, c Checker) context.Context {
	return context.WithValue(ctx, checkerKey{}, c)
}

// WithTrial returns a context carrying the trial run the LLM provider
// applies to its answers after the check.
func WithTrial(ctx context.Context, t Trial) context.Context {
	return context.WithValue(ctx, trialKey{}, t)
}

// llmConfidence is the confidence of a model's answer that passed the
// check and the trial run. It is not calibrated (no model could be
// measured); it sits at the API's threshold, so such answers are given
// without allow_low_confidence but never rank as sure.
const llmConfidence = AnswerThreshold

// maxSampleValues bounds the sample values per column in the prompt.
const maxSampleValues = 5

// Translate implements Translator.
func (o *OpenAI) Translate(ctx context.Context, req Request) (*Translation, error) {
	if req.Schema != nil && req.Schema.Dialect == Mongo {
		// The model writes SQL; a MongoDB tenant runs only pipelines that
		// the deterministic translator renders from its own query tree.
		if o.Fallback == nil {
			return nil, &Unanswerable{Reason: "the language model writes SQL, which a MongoDB tenant cannot run", Tables: tableNames(req.Schema)}
		}
		return o.Fallback.Translate(ctx, req)
	}
	if t, ok := matchExample(req); ok {
		return t, nil
	}
	t, err := o.ask(ctx, req)
	if err == nil {
		return t, nil
	}
	if o.Log != nil {
		o.Log.Warn("llm_translation_failed", "error", err)
	}
	if o.Fallback == nil {
		return nil, &Unanswerable{Reason: "the language model gave no usable answer", Tables: tableNames(req.Schema)}
	}
	return o.Fallback.Translate(ctx, req)
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model       string        `json:"model"`
	Messages    []chatMessage `json:"messages"`
	Temperature float64       `json:"temperature"`
}

type chatResponse struct {
	Choices []struct {
		Message chatMessage `json:"message"`
	} `json:"choices"`
}

var codeBlock = regexp.MustCompile("(?s)```(?:sql)?\\s*(.*?)```")

// errDeclined is the model saying it cannot answer.
var errDeclined = errors.New("nlp: the model declined")

func (o *OpenAI) ask(ctx context.Context, req Request) (*Translation, error) {
	check, _ := ctx.Value(checkerKey{}).(Checker)
	if check == nil {
		return nil, fmt.Errorf("nlp: no SQL checker for the model's answer")
	}
	trial, _ := ctx.Value(trialKey{}).(Trial)
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msgs := promptMessages(req)
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		text, err := o.chat(ctx, msgs)
		if err != nil {
			return nil, err
		}
		sql := extractSQL(text)
		if sql == "" || strings.EqualFold(sql, "UNANSWERABLE") {
			return nil, errDeclined
		}
		if err := check(sql); err != nil {
			// A refusal by the policy is final: a write or another
			// tenant's table is not repaired into something else.
			return nil, fmt.Errorf("nlp: the model's SQL was refused: %w", err)
		}
		if trial != nil {
			err = trial(ctx, sql)
		}
		if err == nil {
			expl := "Written by the language model " + o.Model + " from the linked schema; checked as a single read statement and tried once."
			if attempt > 0 {
				expl += " Repaired once after: " + lastErr.Error() + "."
			}
			return &Translation{SQL: sql, Explanation: expl, Confidence: llmConfidence, Source: "llm"}, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("nlp: the model's SQL: %w", ctx.Err())
		}
		lastErr = err
		msgs = append(msgs, chatMessage{Role: "assistant", Content: text},
			chatMessage{Role: "user", Content: "That SQL failed on the database: " + err.Error() + "\nAnswer again with one corrected SELECT statement only, in a ```sql block, or UNANSWERABLE."})
	}
	return nil, fmt.Errorf("nlp: the model's SQL failed after a repair: %w", lastErr)
}

// chat sends one chat-completions request and returns the answer's text.
func (o *OpenAI) chat(ctx context.Context, msgs []chatMessage) (string, error) {
	body, _ := json.Marshal(chatRequest{Model: o.Model, Temperature: 0, Messages: msgs})
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(o.BaseURL, "/")+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	hr.Header.Set("Content-Type", "application/json")
	if o.APIKey != "" {
		hr.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	resp, err := client.Do(hr)
	if err != nil {
		return "", fmt.Errorf("nlp: llm request: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("nlp: llm answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("nlp: llm answered HTTP %d", resp.StatusCode)
	}
	var cr chatResponse
	if err := json.Unmarshal(raw, &cr); err != nil || len(cr.Choices) == 0 {
		return "", fmt.Errorf("nlp: llm answer is not a chat completion")
	}
	return cr.Choices[0].Message.Content, nil
}

// extractSQL is the SQL of a model's answer: the ```sql block if any,
// without a trailing semicolon.
func extractSQL(text string) string {
	if m := codeBlock.FindStringSubmatch(text); m != nil {
		text = m[1]
	}
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text), ";"))
}

// promptMessages are the system prompt (linked schema, glossary), the
// verified examples as few-shot pairs, and the question.
func promptMessages(req Request) []chatMessage {
	msgs := []chatMessage{{Role: "system", Content: systemPrompt(req.Schema, linkedTables(req), req.Glossary)}}
	for _, ex := range req.Examples {
		if !placeholder.MatchString(ex.Question) {
			msgs = append(msgs, chatMessage{Role: "user", Content: ex.Question}, chatMessage{Role: "assistant", Content: "```sql\n" + ex.SQL + "\n```"})
		}
	}
	return append(msgs, chatMessage{Role: "user", Content: req.Question})
}

// linkedTables are the tables the question links to (tables, columns and
// values it names, and glossary entries) and the tables on the foreign-key
// paths joining them. When nothing links, every table is offered.
func linkedTables(req Request) []*Table {
	s := req.Schema
	p := &parser{s: s, lx: buildLexicon(s, req.Glossary), r: newRenderer(s.Dialect), now: time.Now()}
	p.toks = tokenize(req.Question)
	p.link()
	in := map[*Table]bool{}
	var named []*Table
	addT := func(t *Table) {
		if t != nil && !in[t] {
			in[t] = true
			named = append(named, t)
		}
	}
	for _, m := range p.ms {
		for _, l := range m.links {
			if (m.kind == mTable) == (l.kind == linkTable) {
				addT(l.table)
			}
		}
		for _, v := range m.vals {
			addT(v.table)
		}
	}
	if len(named) == 0 {
		return s.Tables
	}
	tree := map[*Table]bool{named[0]: true}
	for _, t := range named[1:] {
		for _, e := range p.shortestPath(tree, t) {
			tree[e.to] = true
		}
		tree[t] = true
	}
	var out []*Table
	for _, t := range s.Tables {
		if tree[t] {
			out = append(out, t)
		}
	}
	return out
}

// systemPrompt describes the linked tables to the model.
func systemPrompt(s *Schema, tables []*Table, g Glossary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "You translate questions into one read-only SQL SELECT statement for %s. Answer with the SQL only, in a ```sql block, or UNANSWERABLE. Quote identifiers exactly as given.\nSchema:\n", s.Dialect)
	for _, t := range tables {
		fmt.Fprintf(&b, "TABLE %s (", t.Name)
		for i, c := range t.Columns {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %s", c.Name, c.Type)
		}
		b.WriteString(")")
		if len(t.PrimaryKey) > 0 {
			fmt.Fprintf(&b, " PRIMARY KEY (%s)", strings.Join(t.PrimaryKey, ", "))
		}
		for _, fk := range t.ForeignKeys {
			fmt.Fprintf(&b, " FOREIGN KEY (%s) REFERENCES %s(%s)", strings.Join(fk.Columns, ", "), fk.RefTable, strings.Join(fk.RefColumns, ", "))
			if fk.Inferred {
				b.WriteString(" /* inferred from names and values, not declared */")
			}
		}
		b.WriteString("\n")
		for _, c := range t.Columns {
			if len(c.Values) == 0 {
				continue
			}
			vs := c.Values
			if len(vs) > maxSampleValues {
				vs = vs[:maxSampleValues]
			}
			q := make([]string, len(vs))
			for i, v := range vs {
				q[i] = fmt.Sprintf("%q", v)
			}
			fmt.Fprintf(&b, "  -- %s.%s values include %s\n", t.Name, c.Name, strings.Join(q, ", "))
		}
	}
	if len(g) > 0 {
		b.WriteString("Glossary (a word of this business -> what it means in the schema):\n")
		keys := make([]string, 0, len(g))
		for k := range g {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s -> %s\n", k, g[k])
		}
	}
	return b.String()
}
