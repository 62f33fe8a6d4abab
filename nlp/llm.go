package nlp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// OpenAI is a translator backed by an OpenAI-compatible chat-completions
// endpoint, prompted with the tenant's schema. Its SQL must pass Check
// (a single read statement allowed by the caller's policy); on any
// failure the Fallback translator answers.
type OpenAI struct {
	BaseURL  string // e.g. https://api.openai.com/v1
	Model    string
	APIKey   string
	Client   *http.Client
	Fallback Translator
	Log      *slog.Logger
}

var _ Translator = (*OpenAI)(nil)

// Checker validates SQL written by a model before it is used: it must be
// one read statement the caller may run.
type Checker func(sql string) error

type checkerKey struct{}

// WithChecker returns a context carrying the SQL check the LLM provider
// applies to its answers.
func WithChecker(ctx context.Context, c Checker) context.Context {
	return context.WithValue(ctx, checkerKey{}, c)
}

// Translate implements Translator.
func (o *OpenAI) Translate(ctx context.Context, req Request) (*Translation, error) {
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

func (o *OpenAI) ask(ctx context.Context, req Request) (*Translation, error) {
	check, _ := ctx.Value(checkerKey{}).(Checker)
	if check == nil {
		return nil, fmt.Errorf("nlp: no SQL checker for the model's answer")
	}
	body, _ := json.Marshal(chatRequest{Model: o.Model, Temperature: 0, Messages: []chatMessage{
		{Role: "system", Content: systemPrompt(req.Schema)},
		{Role: "user", Content: req.Question},
	}})
	client := o.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(o.BaseURL, "/")+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	if o.APIKey != "" {
		hr.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	resp, err := client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("nlp: llm request: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("nlp: llm answered HTTP %d", resp.StatusCode)
	}
	var cr chatResponse
	if err := json.Unmarshal(raw, &cr); err != nil || len(cr.Choices) == 0 {
		return nil, fmt.Errorf("nlp: llm answer is not a chat completion")
	}
	text := cr.Choices[0].Message.Content
	if m := codeBlock.FindStringSubmatch(text); m != nil {
		text = m[1]
	}
	sql := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text), ";"))
	if sql == "" || strings.EqualFold(sql, "UNANSWERABLE") {
		return nil, fmt.Errorf("nlp: llm declined")
	}
	if err := check(sql); err != nil {
		return nil, fmt.Errorf("nlp: llm SQL refused: %w", err)
	}
	return &Translation{SQL: sql, Explanation: "Written by the language model " + o.Model + " from the schema; checked as a single read statement.",
		Confidence: 0.7, Source: "llm"}, nil
}

// systemPrompt describes the schema to the model.
func systemPrompt(s *Schema) string {
	var b strings.Builder
	fmt.Fprintf(&b, "You translate questions into one read-only SQL SELECT statement for %s. Answer with the SQL only, in a ```sql block, or UNANSWERABLE. Quote identifiers exactly as given.\nSchema:\n", s.Dialect)
	for _, t := range s.Tables {
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
		}
		b.WriteString("\n")
	}
	return b.String()
}
