package data

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Format is an input file format.
type Format int

const (
	// Auto picks the format from the file extension: .csv, .tsv, .jsonl
	// (or .ndjson), .json.
	Auto Format = iota
	// CSV is comma-separated values with a header line (RFC 4180 quoting).
	CSV
	// TSV is tab-separated values with a header line, as IANA defines it
	// and GLUE ships it: one record per line, fields split on tabs, no
	// quoting (quotes are ordinary characters). For quoted tab-separated
	// files use CSV with Options.Comma '\t'.
	TSV
	// JSONL is one JSON object per line.
	JSONL
	// JSON is one JSON array of objects.
	JSON
)

var formatNames = [...]string{"auto", "csv", "tsv", "jsonl", "json"}

// String returns the format's name.
func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return fmt.Sprintf("Format(%d)", int(f))
	}
	return formatNames[f]
}

// FormatOf returns the format implied by a file name's extension.
func FormatOf(name string) (Format, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return CSV, nil
	case ".tsv", ".tab":
		return TSV, nil
	case ".jsonl", ".ndjson":
		return JSONL, nil
	case ".json":
		return JSON, nil
	}
	return Auto, fmt.Errorf("data: %s: cannot tell the format from the extension %q; set Options.Format (csv, tsv, jsonl or json)", name, filepath.Ext(name))
}

// Options control a Reader.
type Options struct {
	// Format of the input; Auto chooses by extension.
	Format Format
	// Comma is the CSV field separator (default ','), e.g. ';' or '\t' for
	// quoted tab-separated files.
	Comma rune
	// Rename maps source field names to the names the rest of the pipeline
	// uses ("sentence" -> "text"). It is applied first.
	Rename map[string]string
	// Columns, when set, keeps only these fields (names after renaming). A
	// listed column missing from a CSV header is an error at Open; missing
	// from a JSON row, an error for that row.
	Columns []string
	// Text lists fields (after renaming) that must hold non-empty text.
	Text []string
	// Required lists fields (after renaming) that must be present and
	// neither null nor an empty cell, such as the label.
	Required []string
	// SkipBad skips rows with errors instead of stopping at the first one.
	// Each skipped row is recorded in Reader.Skipped with its line and
	// reason. Errors that leave the rest of the file unreadable (broken JSON
	// inside a JSON array, I/O errors) still stop the reader.
	SkipBad bool
}

// Reader streams rows from one file, one at a time, so files larger than
// memory can be processed. Use Next, or range over All.
type Reader struct {
	name    string
	opts    Options
	closer  io.Closer
	next    func() (Row, error) // format-specific; row errors are *RowError
	skipped Skipped
	done    bool
}

// fatal wraps an error after which the reader cannot continue.
type fatal struct{ err error }

func (f fatal) Error() string { return f.err.Error() }
func (f fatal) Unwrap() error { return f.err }

// Open opens path for streaming.
func Open(path string, opts Options) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if opts.Format == Auto {
		if opts.Format, err = FormatOf(path); err != nil {
			f.Close()
			return nil, err
		}
	}
	r, err := NewReader(f, path, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads rows from in; name is used in error messages and, when
// opts.Format is Auto, for the format.
func NewReader(in io.Reader, name string, opts Options) (*Reader, error) {
	if opts.Format == Auto {
		f, err := FormatOf(name)
		if err != nil {
			return nil, err
		}
		opts.Format = f
	}
	r := &Reader{name: name, opts: opts}
	var err error
	switch opts.Format {
	case CSV, TSV:
		err = r.initCSV(in)
	case JSONL:
		r.initJSONL(in)
	case JSON:
		err = r.initJSON(in)
	default:
		err = fmt.Errorf("data: %s: unknown format %v", name, opts.Format)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Next returns the next row, or io.EOF after the last one. Bad rows are
// returned as *RowError unless Options.SkipBad is set, in which case they
// are recorded in Skipped and reading goes on.
func (r *Reader) Next() (Row, error) {
	for !r.done {
		row, err := r.next()
		if err == nil {
			err = r.shape(&row)
		}
		if err == nil {
			return row, nil
		}
		var re *RowError
		if errors.Is(err, io.EOF) {
			r.done = true
			return Row{}, io.EOF
		}
		if errors.As(err, &re) && r.opts.SkipBad && !isFatal(err) {
			r.skipped = append(r.skipped, re)
			continue
		}
		r.done = true
		return Row{}, err
	}
	return Row{}, io.EOF
}

func isFatal(err error) bool {
	var f fatal
	return errors.As(err, &f)
}

// All iterates over the rows. On an error it yields (Row{}, err) once and
// stops.
func (r *Reader) All() iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		for {
			row, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if !yield(row, err) || err != nil {
				return
			}
		}
	}
}

// Skipped returns the rows skipped so far (only with Options.SkipBad).
func (r *Reader) Skipped() Skipped { return r.skipped }

// Close closes the file opened by Open.
func (r *Reader) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// shape applies renaming, column selection and the Text/Required checks.
func (r *Reader) shape(row *Row) error {
	o := &r.opts
	if len(o.Rename) > 0 {
		// All renames at once, so that swaps and chains do not depend on
		// map order.
		renamed := make(map[string]any, len(row.Fields))
		for k, v := range row.Fields {
			if to, ok := o.Rename[k]; ok {
				k = to
			}
			renamed[k] = v
		}
		row.Fields = renamed
	}
	if len(o.Columns) > 0 {
		kept := make(map[string]any, len(o.Columns))
		for _, c := range o.Columns {
			v, ok := row.Fields[c]
			if !ok {
				return row.Errorf(c, nil, "missing")
			}
			kept[c] = v
		}
		row.Fields = kept
	}
	for _, f := range o.Text {
		if _, err := row.Text(f); err != nil {
			return err
		}
	}
	for _, f := range o.Required {
		v := row.Fields[f]
		if s, ok := v.(string); v == nil || ok && strings.TrimSpace(s) == "" {
			return row.Errorf(f, nil, "missing")
		}
	}
	return nil
}

// ---- CSV and TSV ----

func (r *Reader) initCSV(in io.Reader) error {
	// next returns one record and the line it starts on.
	var next func() ([]string, int, error)
	if r.opts.Format == TSV {
		br := bufio.NewReaderSize(in, 1<<16)
		line := 0
		next = func() ([]string, int, error) {
			b, err := br.ReadString('\n')
			if b == "" && errors.Is(err, io.EOF) {
				return nil, 0, io.EOF
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, 0, err
			}
			line++
			b = strings.TrimSuffix(strings.TrimSuffix(b, "\n"), "\r")
			return strings.Split(b, "\t"), line, nil
		}
	} else {
		cr := csv.NewReader(in)
		cr.FieldsPerRecord = -1 // counted here, for a better message
		if r.opts.Comma != 0 {
			cr.Comma = r.opts.Comma
		}
		next = func() ([]string, int, error) {
			rec, err := cr.Read()
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, 0, &RowError{File: r.name, Line: pe.StartLine, Msg: pe.Err.Error()}
			}
			if err != nil {
				return nil, 0, err
			}
			line, _ := cr.FieldPos(0)
			return rec, line, nil
		}
	}
	header, _, err := next()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("data: %s: empty file, expected a header line", r.name)
	}
	if err != nil {
		return fmt.Errorf("data: %s: header: %w", r.name, err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // byte-order mark
	}
	seen := map[string]bool{}
	for i, h := range header {
		if !utf8.ValidString(h) {
			return fmt.Errorf("data: %s line 1: column %d name %q is not valid UTF-8", r.name, i+1, h)
		}
		if h == "" {
			return fmt.Errorf("data: %s line 1: column %d has an empty name", r.name, i+1)
		}
		if seen[h] {
			return fmt.Errorf("data: %s line 1: column name %q appears twice", r.name, h)
		}
		seen[h] = true
	}
	// Columns must exist (after renaming) before any row is read.
	renamed := make([]string, len(header))
	for i, h := range header {
		renamed[i] = h
		if to, ok := r.opts.Rename[h]; ok {
			renamed[i] = to
		}
	}
	for _, c := range r.opts.Columns {
		if !slices.Contains(renamed, c) {
			return fmt.Errorf("data: %s: column %q not found; the header has %s", r.name, c, strings.Join(quoteAll(renamed), ", "))
		}
	}
	r.next = func() (Row, error) {
		rec, line, err := next()
		if errors.Is(err, io.EOF) {
			return Row{}, io.EOF
		}
		var re *RowError
		if errors.As(err, &re) {
			return Row{}, re
		}
		if err != nil {
			return Row{}, fatal{fmt.Errorf("data: %s: %w", r.name, err)}
		}
		row := Row{File: r.name, Line: line, Fields: make(map[string]any, len(header))}
		if len(rec) != len(header) {
			return Row{}, row.Errorf("", nil, "%d fields, the header has %d", len(rec), len(header))
		}
		for i, v := range rec {
			if !utf8.ValidString(v) {
				return Row{}, row.Errorf(header[i], v, "invalid UTF-8")
			}
			row.Fields[header[i]] = v
		}
		return row, nil
	}
	return nil
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// ---- JSON Lines ----

func (r *Reader) initJSONL(in io.Reader) {
	br := bufio.NewReaderSize(in, 1<<16)
	line := 0
	r.next = func() (Row, error) {
		for {
			b, err := br.ReadBytes('\n')
			if len(b) == 0 && errors.Is(err, io.EOF) {
				return Row{}, io.EOF
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return Row{}, fatal{fmt.Errorf("data: %s: %w", r.name, err)}
			}
			line++
			if line == 1 {
				b = bytes.TrimPrefix(b, []byte("\ufeff"))
			}
			if len(bytes.TrimSpace(b)) == 0 {
				continue // blank lines hold no row
			}
			return r.decodeObject(b, line)
		}
	}
}

// decodeObject decodes one JSON object that starts on line.
func (r *Reader) decodeObject(b []byte, line int) (Row, error) {
	row := Row{File: r.name, Line: line}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return Row{}, row.Errorf("", nil, "bad JSON at column %d: %v", columnOf(b, se.Offset), se)
		case errors.As(err, &te) && te.Field == "":
			return Row{}, row.Errorf("", nil, "expected a JSON object, got %s", jsonKind(b))
		default:
			return Row{}, row.Errorf("", nil, "bad JSON: %v", err)
		}
	}
	if m == nil {
		return Row{}, row.Errorf("", nil, "expected a JSON object, got null")
	}
	// encoding/json silently replaces invalid UTF-8 with U+FFFD; find the
	// field that had it instead.
	if !utf8.Valid(b) {
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(b, &raw)
		names := make([]string, 0, len(raw))
		for k := range raw {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			if !utf8.Valid(raw[k]) {
				return Row{}, row.Errorf(k, string(raw[k]), "invalid UTF-8")
			}
		}
		return Row{}, row.Errorf("", nil, "invalid UTF-8 in a field name")
	}
	row.Fields = m
	return row, nil
}

// columnOf converts a 1-based byte offset reported by encoding/json into a
// 1-based character column within the line.
func columnOf(b []byte, off int64) int {
	if off < 1 {
		off = 1
	}
	if int(off) > len(b) {
		off = int64(len(b))
	}
	return utf8.RuneCount(b[:off-1]) + 1
}

func jsonKind(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// ---- JSON arrays ----

// lineCounter records where newlines are in the stream so that byte offsets
// reported by encoding/json can be turned into line numbers. Offsets are
// asked for in increasing order, so consumed newlines are dropped and memory
// stays bounded by the decoder's buffer.
type lineCounter struct {
	r        io.Reader
	pos      int64
	newlines []int64
	line     int // lines completed before newlines[0]
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == '\n' {
			c.newlines = append(c.newlines, c.pos+int64(i))
		}
	}
	c.pos += int64(n)
	return n, err
}

// lineAt returns the 1-based line of byte offset off.
func (c *lineCounter) lineAt(off int64) int {
	i := 0
	for i < len(c.newlines) && c.newlines[i] < off {
		i++
	}
	c.line += i
	c.newlines = c.newlines[i:]
	return c.line + 1
}

func (r *Reader) initJSON(in io.Reader) error {
	lc := &lineCounter{r: bufio.NewReaderSize(in, 1<<16)}
	dec := json.NewDecoder(lc)
	syntax := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fatal{&RowError{File: r.name, Line: lc.lineAt(se.Offset - 1), Msg: "bad JSON: " + se.Error()}}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fatal{&RowError{File: r.name, Line: lc.lineAt(lc.pos), Msg: "bad JSON: the file ends inside the array"}}
		}
		return fatal{fmt.Errorf("data: %s: %w", r.name, err)}
	}
	// Skip a byte-order mark, which encoding/json does not accept.
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("data: %s: empty file, expected a JSON array", r.name)
		}
		return syntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("data: %s: expected a JSON array of objects, found %v at line %d (JSON Lines files need the .jsonl extension or Format JSONL)", r.name, tok, lc.lineAt(dec.InputOffset()-1))
	}
	closed := false
	r.next = func() (Row, error) {
		if closed {
			return Row{}, io.EOF
		}
		if !dec.More() {
			if _, err := dec.Token(); err != nil {
				return Row{}, syntax(err)
			}
			closed = true
			return Row{}, io.EOF
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Row{}, syntax(err)
		}
		start := dec.InputOffset() - int64(len(raw))
		return r.decodeObject(raw, lc.lineAt(start))
	}
	return nil
}
