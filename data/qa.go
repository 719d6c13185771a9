package data

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kiln-ml/kiln/tokenizer"
)

// ReadSQuAD reads a SQuAD-format JSON file ({"data": [{"title", "paragraphs":
// [{"context", "qas": [{"id", "question", "answers": [{"text",
// "answer_start"}], "is_impossible"}]}]}]}, v1.1 or v2.0) and flattens it into
// one row per question with the fields id, title, question, context and
// answers, the last in Hugging Face's datasets form {"text": [...],
// "answer_start": [...]} (empty lists for unanswerable questions). Each row
// carries the line its question object starts on. The whole file is read
// into memory (SQuAD v2's training set is 40 MB).
func ReadSQuAD(path string) (*Dataset, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return ParseSQuAD(b, path)
}

// ParseSQuAD is ReadSQuAD on bytes already in memory; name is used in
// errors.
func ParseSQuAD(b []byte, name string) (*Dataset, error) {
	var newlines []int
	for i, c := range b {
		if c == '\n' {
			newlines = append(newlines, i)
		}
	}
	lineAt := func(off int) int { return sort.SearchInts(newlines, off) + 1 }
	fail := func(off int, format string, args ...any) error {
		return &RowError{File: name, Line: lineAt(off), Msg: fmt.Sprintf(format, args...)}
	}
	if !utf8.Valid(b) {
		off := 0
		for off < len(b) {
			r, n := utf8.DecodeRune(b[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, fail(off, "invalid UTF-8")
	}
	d := &Dataset{Name: name}
	data, err := member(b, 0, "data", fail)
	if err != nil {
		return nil, err
	}
	err = elements(b, data, fail, func(art int) error {
		var title string
		if t, err := member(b, art, "title", fail); err == nil {
			_ = json.Unmarshal(value(b, t), &title)
		}
		paras, err := member(b, art, "paragraphs", fail)
		if err != nil {
			return err
		}
		return elements(b, paras, fail, func(par int) error {
			var ctx string
			c, err := member(b, par, "context", fail)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(value(b, c), &ctx); err != nil {
				return fail(c, "field \"context\" must be a string")
			}
			qas, err := member(b, par, "qas", fail)
			if err != nil {
				return err
			}
			return elements(b, qas, fail, func(qa int) error {
				var q struct {
					ID           any    `json:"id"`
					Question     string `json:"question"`
					IsImpossible bool   `json:"is_impossible"`
					Answers      []struct {
						Text        string `json:"text"`
						AnswerStart int    `json:"answer_start"`
					} `json:"answers"`
				}
				if err := json.Unmarshal(value(b, qa), &q); err != nil {
					return fail(qa, "bad question object: %v", err)
				}
				texts, starts := []any{}, []any{}
				if !q.IsImpossible {
					for _, a := range q.Answers {
						texts = append(texts, a.Text)
						starts = append(starts, float64(a.AnswerStart))
					}
				}
				id := fmt.Sprint(q.ID)
				if q.ID == nil {
					id = ""
				}
				d.Rows = append(d.Rows, Row{File: name, Line: lineAt(qa), Fields: map[string]any{
					"id": id, "title": title, "question": q.Question, "context": ctx,
					"answers": map[string]any{"text": texts, "answer_start": starts},
				}})
				return nil
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// value returns the JSON value starting at off.
func value(b []byte, off int) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(b[off:]))
	var raw json.RawMessage
	_ = dec.Decode(&raw)
	return raw
}

// member returns the offset of the value of key in the object at off.
func member(b []byte, off int, key string, fail func(int, string, ...any) error) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(b[off:]))
	start := func() int { return off + int(dec.InputOffset()) }
	tok, err := dec.Token()
	if err != nil {
		return 0, syntaxAt(err, off, fail)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return 0, fail(off, "expected an object with %q, found %v", key, tok)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return 0, syntaxAt(err, off, fail)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return 0, syntaxAt(err, off, fail)
		}
		if k == key {
			return start() - len(raw), nil
		}
	}
	return 0, fail(off, "field %q missing", key)
}

// elements calls fn with the offset of each element of the array at off.
func elements(b []byte, off int, fail func(int, string, ...any) error, fn func(int) error) error {
	dec := json.NewDecoder(bytes.NewReader(b[off:]))
	tok, err := dec.Token()
	if err != nil {
		return syntaxAt(err, off, fail)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fail(off, "expected a list, found %v", tok)
	}
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return syntaxAt(err, off, fail)
		}
		if err := fn(off + int(dec.InputOffset()) - len(raw)); err != nil {
			return err
		}
	}
	return nil
}

func syntaxAt(err error, off int, fail func(int, string, ...any) error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fail(off+int(se.Offset)-1, "bad JSON: %v", se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fail(off, "bad JSON: unexpected end of file")
	}
	return fail(off, "bad JSON: %v", err)
}

// answers reads a row's answers in either Hugging Face's form {"text": [..],
// "answer_start": [..]} or SQuAD's list [{"text", "answer_start"}], and
// returns the first one's text and character start; ok is false for an
// unanswerable question.
func answers(row Row, field string) (text string, start int, ok bool, err error) {
	v, has := row.Fields[field]
	if !has || v == nil {
		return "", 0, false, row.Errorf(field, nil, "missing")
	}
	var texts, starts []any
	switch x := v.(type) {
	case map[string]any:
		var ok1, ok2 bool
		texts, ok1 = x["text"].([]any)
		starts, ok2 = x["answer_start"].([]any)
		if !ok1 || !ok2 || len(texts) != len(starts) {
			return "", 0, false, row.Errorf(field, v, `must have lists "text" and "answer_start" of equal length`)
		}
	case []any:
		for _, a := range x {
			m, _ := a.(map[string]any)
			if m == nil {
				return "", 0, false, row.Errorf(field, v, `must be a list of {"text", "answer_start"} objects`)
			}
			texts, starts = append(texts, m["text"]), append(starts, m["answer_start"])
		}
	default:
		return "", 0, false, row.Errorf(field, v, "must be an object or a list, got %s", kind(v))
	}
	if len(texts) == 0 {
		return "", 0, false, nil
	}
	t, ok1 := texts[0].(string)
	s, ok2 := starts[0].(float64)
	if !ok1 || !ok2 || s != float64(int(s)) || s < 0 || t == "" {
		return "", 0, false, row.Errorf(field, v, "first answer needs a non-empty text and a whole answer_start >= 0")
	}
	return t, int(s), true, nil
}

// answerTexts returns every answer text of a row (already validated by
// answers).
func answerTexts(row Row, field string) []string {
	var out []string
	switch x := row.Fields[field].(type) {
	case map[string]any:
		ts, _ := x["text"].([]any)
		for _, t := range ts {
			if s, ok := t.(string); ok {
				out = append(out, s)
			}
		}
	case []any:
		for _, a := range x {
			if m, ok := a.(map[string]any); ok {
				if s, ok := m["text"].(string); ok {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// qa follows run_qa.py's prepare_train_features: the question and context
// are encoded as a pair with only the context truncated, each doc-stride
// window becomes an example, and the answer's character span is turned into
// start and end token positions; a window that does not contain the whole
// answer, and an unanswerable question, point at the CLS token. One
// deliberate difference: run_qa.py's search for the start token can run past
// the context into [SEP] and padding (offset (0, 0)) when the answer starts
// at the window's last context token (the "edge case" its comment mentions);
// kiln stops at the last context token, which is the right position.
func (p *preprocessor) qa(row Row) error {
	c := &p.cfg
	question, err := row.Text(c.QuestionField)
	if err != nil {
		return err
	}
	ctx, err := row.Text(c.ContextField)
	if err != nil {
		return err
	}
	ansText, startChar, answerable, err := answers(row, c.AnswersField)
	if err != nil {
		return err
	}
	ctxRunes := []rune(ctx)
	endChar := startChar + utf8.RuneCountInString(ansText)
	if answerable && (endChar > len(ctxRunes) || string(ctxRunes[startChar:endChar]) != ansText) {
		found := ""
		if startChar < len(ctxRunes) {
			found = string(ctxRunes[startChar:min(endChar, len(ctxRunes))])
		}
		return row.Errorf(c.AnswersField, ansText, "answer_start %d points at %q in the context", startChar, found)
	}
	id, _ := row.Str(c.IDField)
	if p.out.Questions == nil {
		p.out.Questions = map[string]Question{}
	}
	p.out.Questions[id] = Question{Context: ctx, Answers: answerTexts(row, c.AnswersField)}
	// run_qa.py strips the question's left white space, which can otherwise
	// use up many tokens.
	question = strings.TrimLeftFunc(question, unicode.IsSpace)
	enc, err := p.encode(row, question, ctx, true, tokenizer.Options{
		Truncation: tokenizer.OnlySecond, MaxLength: c.MaxLength, Stride: c.Stride,
	})
	if err != nil {
		return err
	}
	for _, w := range windows(enc) {
		e := fromEncoding(w)
		e.ID = id
		cls := 0
		for t, s := range w.SpecialTokensMask {
			if s == 1 && w.SequenceIDs[t] < 0 {
				cls = t
				break
			}
		}
		e.Offsets = make([]tokenizer.Offset, w.Len())
		first, last := -1, -1
		for t, s := range w.SequenceIDs {
			e.Offsets[t] = tokenizer.Offset{Start: -1, End: -1}
			if s == 1 {
				e.Offsets[t] = w.Offsets[t]
				if first < 0 {
					first = t
				}
				last = t
			}
		}
		e.Start, e.End = cls, cls
		if answerable && first >= 0 && w.Offsets[first].Start <= startChar && w.Offsets[last].End >= endChar {
			ts := first
			for ts <= last && w.Offsets[ts].Start <= startChar {
				ts++
			}
			te := last
			for te >= first && w.Offsets[te].End >= endChar {
				te--
			}
			e.Start, e.End = ts-1, te+1
		}
		p.add(row, e)
	}
	return nil
}

// windows flattens an encoding and its overflowing windows, in order.
func windows(e *tokenizer.Encoding) []*tokenizer.Encoding {
	out := []*tokenizer.Encoding{e}
	for _, o := range e.Overflowing {
		out = append(out, windows(o)...)
	}
	return out
}

// AnswerSpan returns the character span of the context covered by tokens
// start..end (inclusive) of a QuestionAnswering example, the step run_qa.py's
// postprocess_qa_predictions uses to turn predicted positions back into
// text. ok is false when a token lies outside the context or end < start.
func (e *Example) AnswerSpan(start, end int) (span tokenizer.Offset, ok bool) {
	if start < 0 || end < start || end >= len(e.Offsets) || e.Offsets[start].Start < 0 || e.Offsets[end].Start < 0 {
		return tokenizer.Offset{}, false
	}
	return tokenizer.Offset{Start: e.Offsets[start].Start, End: e.Offsets[end].End}, true
}
