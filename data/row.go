package data

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Row is one input record: the fields of a CSV/TSV line or of a JSON object,
// with where it came from so that every later error can point back at it.
//
// Field values are what the format gives: CSV and TSV cells are strings; JSON
// values are string, float64, bool, nil, []any or map[string]any, as
// encoding/json decodes them.
type Row struct {
	File   string         // file or stream name
	Line   int            // 1-based line the row starts on (for SQuAD files, the question's line)
	Fields map[string]any // field name -> value
}

// Errorf returns a RowError for field (or the whole row when field is "")
// with the offending value quoted into the message.
func (r Row) Errorf(field string, value any, format string, args ...any) *RowError {
	e := &RowError{File: r.File, Line: r.Line, Field: field, Msg: fmt.Sprintf(format, args...)}
	if value != nil {
		e.Value = quote(value)
	}
	return e
}

// Has reports whether field is present and not JSON null.
func (r Row) Has(field string) bool { return r.Fields[field] != nil }

// Text returns field as a non-empty string. A missing field, a value that is
// not a string, and text that is empty or only white space are errors.
func (r Row) Text(field string) (string, error) {
	v, ok := r.Fields[field]
	if !ok || v == nil {
		return "", r.Errorf(field, nil, "missing")
	}
	s, ok := v.(string)
	if !ok {
		return "", r.Errorf(field, v, "must be a string, got %s", kind(v))
	}
	if strings.TrimSpace(s) == "" {
		return "", r.Errorf(field, nil, "empty text")
	}
	return s, nil
}

// Str returns field as a string, which may be empty. Numbers and booleans are
// formatted (a JSON label 1 becomes "1"); a missing field, null, list or
// object is an error.
func (r Row) Str(field string) (string, error) {
	v, ok := r.Fields[field]
	if !ok || v == nil {
		return "", r.Errorf(field, nil, "missing")
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	}
	return "", r.Errorf(field, v, "must be a string or a number, got %s", kind(v))
}

// Float returns field as a finite number; strings are parsed.
func (r Row) Float(field string) (float64, error) {
	v, ok := r.Fields[field]
	if !ok || v == nil {
		return 0, r.Errorf(field, nil, "missing")
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil || strings.TrimSpace(x) == "" {
			return 0, r.Errorf(field, v, "not a number")
		}
	default:
		return 0, r.Errorf(field, v, "must be a number, got %s", kind(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, r.Errorf(field, v, "not a finite number")
	}
	return f, nil
}

// Int returns field as an integer; strings are parsed and floats must be
// whole.
func (r Row) Int(field string) (int, error) {
	f, err := r.Float(field)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, r.Errorf(field, r.Fields[field], "not an integer")
	}
	return int(f), nil
}

// Ints returns field as a list of integers (a JSON list of numbers, e.g.
// pre-tokenized input_ids).
func (r Row) Ints(field string) ([]int, error) {
	v, ok := r.Fields[field]
	if !ok || v == nil {
		return nil, r.Errorf(field, nil, "missing")
	}
	list, ok := v.([]any)
	if !ok {
		return nil, r.Errorf(field, v, "must be a list of integers, got %s", kind(v))
	}
	out := make([]int, len(list))
	for i, x := range list {
		f, ok := x.(float64)
		if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, r.Errorf(fmt.Sprintf("%s[%d]", field, i), x, "not an integer")
		}
		out[i] = int(f)
	}
	return out, nil
}

// Strs returns field as a list of strings: a JSON list (numbers are
// formatted), or, for a string cell, the cell split on sep (a CSV column
// "sports;politics" with sep ";"). An empty cell is an empty list; sep ""
// makes a string cell a one-element list.
func (r Row) Strs(field, sep string) ([]string, error) {
	v, ok := r.Fields[field]
	if !ok || v == nil {
		return nil, r.Errorf(field, nil, "missing")
	}
	switch x := v.(type) {
	case string:
		if strings.TrimSpace(x) == "" {
			return []string{}, nil
		}
		if sep == "" {
			return []string{x}, nil
		}
		parts := strings.Split(x, sep)
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts, nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			switch y := e.(type) {
			case string:
				out[i] = y
			case float64:
				out[i] = strconv.FormatFloat(y, 'g', -1, 64)
			default:
				return nil, r.Errorf(fmt.Sprintf("%s[%d]", field, i), e, "must be a string or a number, got %s", kind(e))
			}
		}
		return out, nil
	}
	return nil, r.Errorf(field, v, "must be a list, got %s", kind(v))
}

// kind names a decoded JSON value's type for messages.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
