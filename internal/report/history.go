package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ReadHistory reads a run's log history from either file the trainer writes:
//
//   - trainer_state.json (HF's schema): the list under "log_history";
//   - log.jsonl: one JSON object per line; blank lines are skipped.
//
// A name ending in .jsonl means JSON lines and one ending in .json a trainer
// state; any other name is told by content (a JSON object with a
// "log_history" field is a trainer state, anything else JSON lines). Numbers become Entry values; strings, booleans, nulls and
// nested values are ignored. The bare NaN, Infinity and -Infinity that
// Python's json module writes for a diverged loss are accepted as the
// matching float values.
//
// A log.jsonl whose last line is cut short (no newline, no closing brace)
// is read without it: that is a record the trainer was writing when the file
// was read, or when it crashed, not corruption. Other errors name the file
// and line.
func ReadHistory(path string) ([]Entry, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data := pythonJSON(raw)
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".jsonl" {
		return readJSONLines(path, data)
	}
	h, isState, err := readTrainerState(path, data)
	if isState || ext == ".json" {
		if err == nil && !isState {
			err = fmt.Errorf(`%s: no "log_history" list (want trainer_state.json or log.jsonl)`, path)
		}
		return h, err
	}
	return readJSONLines(path, data)
}

// readTrainerState decodes data as a trainer_state.json. isState reports
// whether a top-level "log_history" key was reached, so the caller can tell a
// broken trainer state from a file in another format. It streams the top
// object with a json.Decoder to know where each log_history item starts, so
// an error names its line.
func readTrainerState(path string, data []byte) (h []Entry, isState bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	at := func(off int64, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", path, lineOf(data, int(off)), fmt.Sprintf(format, args...))
	}
	syntax := func(err error) error {
		off := dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return at(off, "unexpected end of file")
		}
		return at(off, "%v", err)
	}
	// delim reads the next token and checks that it is d.
	delim := func(d json.Delim, what string) error {
		start := valueStart(data, dec.InputOffset())
		tok, err := dec.Token()
		if err != nil {
			return syntax(err)
		}
		if tok != d {
			return at(start, "%s", what)
		}
		return nil
	}
	if err := delim('{', "not a JSON object"); err != nil {
		return nil, false, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, isState, syntax(err)
		}
		if key, _ := tok.(string); key != "log_history" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, isState, syntax(err)
			}
			continue
		}
		isState = true
		if err := delim('[', "log_history is not a list"); err != nil {
			return nil, true, err
		}
		for i := 0; dec.More(); i++ {
			start := valueStart(data, dec.InputOffset())
			var item json.RawMessage
			if err := dec.Decode(&item); err != nil {
				return nil, true, syntax(err)
			}
			e, err := decodeEntry(item)
			if err != nil {
				return nil, true, at(start, "log_history[%d]: %v", i, err)
			}
			h = append(h, e)
		}
		if err := delim(']', "log_history: expected ]"); err != nil {
			return nil, true, err
		}
	}
	if err := delim('}', "expected }"); err != nil {
		return nil, isState, err
	}
	return h, isState, nil
}

// valueStart skips the whitespace, colon and comma between a json.Decoder's
// InputOffset and the start of the next value.
func valueStart(data []byte, off int64) int64 {
	for off < int64(len(data)) && strings.IndexByte(" \t\r\n:,", data[off]) >= 0 {
		off++
	}
	return off
}

// readJSONLines decodes data as one JSON object per line.
func readJSONLines(path string, data []byte) ([]Entry, error) {
	var h []Entry
	lines := bytes.Split(data, []byte("\n"))
	for i, line := range lines {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		e, err := decodeEntry(line)
		if err != nil {
			// The last line, with no newline after it and cut before its
			// closing brace, is a record still being written: skip it.
			if i == len(lines)-1 && !bytes.HasSuffix(line, []byte("}")) {
				break
			}
			return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
		}
		h = append(h, e)
	}
	return h, nil
}

// decodeEntry turns one JSON object into an Entry, keeping its numbers.
func decodeEntry(b []byte) (Entry, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("invalid JSON: %v", err)
		}
		return nil, errors.New("not a JSON object")
	}
	if m == nil { // the literal null
		return nil, errors.New("not a JSON object")
	}
	e := make(Entry, len(m))
	for k, v := range m {
		if f, ok := number(v); ok {
			e[k] = f
		}
	}
	return e, nil
}

// number returns v's value when it is a JSON number or one of the quoted
// stand-ins pythonJSON put in for NaN and the infinities.
func number(v json.RawMessage) (float64, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return 0, false
	}
	switch v[0] {
	case '"':
		switch string(v) {
		case nanToken:
			return math.NaN(), true
		case posInfToken:
			return math.Inf(1), true
		case negInfToken:
			return math.Inf(-1), true
		}
		return 0, false
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			// Out of float64 range: ParseFloat returns ±Inf with the error.
			if !math.IsInf(f, 0) {
				return 0, false
			}
		}
		return f, true
	}
	return 0, false
}

// Quoted stand-ins for Python's non-standard JSON tokens, compared as raw
// bytes. The escaped control character keeps them from colliding with a real
// string value.
const (
	nanToken    = `"\u0001NaN"`
	posInfToken = `"\u0001Infinity"`
	negInfToken = `"\u0001-Infinity"`
)

// pythonJSON rewrites the bare tokens NaN, Infinity and -Infinity outside
// strings (Python's json.dumps writes them; Go's encoding/json rejects them)
// into quoted stand-ins. Newlines are untouched, so line numbers in errors
// stay right. Data without such tokens is returned as is.
func pythonJSON(data []byte) []byte {
	if !bytes.Contains(data, []byte("NaN")) && !bytes.Contains(data, []byte("Infinity")) {
		return data
	}
	var out bytes.Buffer
	out.Grow(len(data) + 64)
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			out.WriteByte(c)
			switch c {
			case '\\':
				if i+1 < len(data) {
					i++
					out.WriteByte(data[i])
				}
			case '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
		case bytes.HasPrefix(data[i:], []byte("NaN")):
			out.WriteString(nanToken)
			i += len("NaN") - 1
			continue
		case bytes.HasPrefix(data[i:], []byte("Infinity")):
			out.WriteString(posInfToken)
			i += len("Infinity") - 1
			continue
		case bytes.HasPrefix(data[i:], []byte("-Infinity")):
			out.WriteString(negInfToken)
			i += len("-Infinity") - 1
			continue
		}
		out.WriteByte(c)
	}
	return out.Bytes()
}

// lineOf returns the 1-based line of byte offset off in data.
func lineOf(data []byte, off int) int {
	if off < 0 {
		return 1
	}
	return 1 + bytes.Count(data[:off], []byte("\n"))
}

// HistoryFile finds the history of a run directory for `kiln plot RUN_DIR`:
// its log.jsonl (complete, streamed as the run goes) if present, else its
// trainer_state.json, else the trainer_state.json of its highest-numbered
// checkpoint-N directory. RUN_DIR may also be a file, returned as is.
func HistoryFile(dir string) (string, error) {
	if fi, err := os.Stat(dir); err != nil {
		return "", err
	} else if !fi.IsDir() {
		return dir, nil
	}
	for _, name := range []string{"log.jsonl", "trainer_state.json"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	ckpts, _ := filepath.Glob(filepath.Join(dir, "checkpoint-*", "trainer_state.json"))
	best, bestStep := "", -1
	for _, p := range ckpts {
		n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(filepath.Dir(p)), "checkpoint-"))
		if err == nil && n > bestStep {
			best, bestStep = p, n
		}
	}
	if best == "" {
		return "", fmt.Errorf("%s: no log.jsonl, trainer_state.json or checkpoint-*/trainer_state.json", dir)
	}
	return best, nil
}
