package data

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// RowError is a problem with one input row. It names the file, the line the
// row starts on, the field and the offending value, so that a user can open
// the file and fix the row.
type RowError struct {
	File  string // the file (or stream name) the row came from
	Line  int    // 1-based line where the row starts; 0 when unknown
	Field string // the field (column) at fault; "" when the whole row is at fault
	Value string // the offending value, already quoted and shortened; "" when none
	Msg   string // what is wrong
}

// Error formats the error as
// `data: FILE line N, field "F" = "V": MSG`, leaving out the parts that are
// empty.
func (e *RowError) Error() string {
	var b strings.Builder
	b.WriteString("data: ")
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ", field %q", e.Field)
	}
	if e.Value != "" {
		b.WriteString(" = ")
		b.WriteString(e.Value)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// location returns the line for summaries, "?" when unknown.
func (e *RowError) location() string {
	if e.Line > 0 {
		return strconv.Itoa(e.Line)
	}
	return "?"
}

// quote renders a value for an error message: strings are Go-quoted (so
// invalid UTF-8 and control characters are visible) and cut to 60 characters.
func quote(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		s = x
		if utf8.ValidString(s) && utf8.RuneCountInString(s) > 60 {
			r := []rune(s)
			s = string(r[:57]) + "..."
		} else if len(s) > 80 {
			s = s[:77] + "..."
		}
		return strconv.Quote(s)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		return fmt.Sprintf("list of %d", len(x))
	case map[string]any:
		return "object"
	default:
		s = fmt.Sprint(x)
		if len(s) > 60 {
			s = s[:57] + "..."
		}
		return s
	}
}

// Skipped collects the rows left out because Options.SkipBad (or a task's
// SkipBad) was set. Nothing is dropped without an entry here.
type Skipped []*RowError

// String summarises the skipped rows as
// `skipped 3 bad rows (lines 4, 9, 12)`, listing at most 20 locations.
func (s Skipped) String() string {
	if len(s) == 0 {
		return "skipped 0 bad rows"
	}
	locs := make([]string, 0, min(len(s), 20))
	for i, e := range s {
		if i == 20 {
			locs = append(locs, fmt.Sprintf("and %d more", len(s)-20))
			break
		}
		locs = append(locs, e.location())
	}
	noun := "rows"
	if len(s) == 1 {
		noun = "row"
	}
	return fmt.Sprintf("skipped %d bad %s (lines %s)", len(s), noun, strings.Join(locs, ", "))
}
