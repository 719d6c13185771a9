package data

import (
	"fmt"
	"slices"
	"strconv"
)

// LabelSet maps label names to ids 0..n-1 and back. Its ID2Label and
// Label2ID methods give the maps Hugging Face stores in config.json.
type LabelSet struct {
	names []string
	ids   map[string]int
}

// NewLabelSet makes a label set whose ids follow the order of names.
// Duplicate or empty names are errors.
func NewLabelSet(names ...string) (*LabelSet, error) {
	l := &LabelSet{names: slices.Clone(names), ids: make(map[string]int, len(names))}
	for i, n := range names {
		if n == "" {
			return nil, fmt.Errorf("data: label %d has an empty name", i)
		}
		if _, dup := l.ids[n]; dup {
			return nil, fmt.Errorf("data: label %q appears twice", n)
		}
		l.ids[n] = i
	}
	return l, nil
}

// InferLabels collects the distinct label names of field over rows and
// sorts them, as Hugging Face's run_glue.py and run_ner.py do for labels
// that are not a ClassLabel: numerically when every name is a number, else
// in byte order. A field holding a list (multi-label or word-level tags)
// contributes each element; a string cell is split on sep when sep is not
// "". Rows where the field is missing or unreadable are ignored here; the
// preprocessing step reports them. Infer from the training split only, so
// that a label seen only in validation is reported rather than learnt.
func InferLabels(rows []Row, field, sep string) (*LabelSet, error) {
	seen := map[string]bool{}
	var names []string
	for _, r := range rows {
		var vals []string
		switch r.Fields[field].(type) {
		case []any:
			vals, _ = r.Strs(field, "")
		case string:
			if sep != "" {
				vals, _ = r.Strs(field, sep)
			} else if s, err := r.Str(field); err == nil && s != "" {
				vals = []string{s}
			}
		default:
			if s, err := r.Str(field); err == nil {
				vals = []string{s}
			}
		}
		for _, v := range vals {
			if v != "" && !seen[v] {
				seen[v] = true
				names = append(names, v)
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("data: no labels found in field %q", field)
	}
	numeric := true
	for _, n := range names {
		if _, err := strconv.ParseFloat(n, 64); err != nil {
			numeric = false
			break
		}
	}
	if numeric {
		slices.SortFunc(names, func(a, b string) int {
			x, _ := strconv.ParseFloat(a, 64)
			y, _ := strconv.ParseFloat(b, 64)
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		})
	} else {
		slices.Sort(names)
	}
	return NewLabelSet(names...)
}

// Len returns the number of labels (HF num_labels).
func (l *LabelSet) Len() int { return len(l.names) }

// ID returns the id of a label name.
func (l *LabelSet) ID(name string) (int, bool) {
	id, ok := l.ids[name]
	return id, ok
}

// Name returns the name of id, or "" when out of range.
func (l *LabelSet) Name(id int) string {
	if id < 0 || id >= len(l.names) {
		return ""
	}
	return l.names[id]
}

// Names returns the names in id order.
func (l *LabelSet) Names() []string { return slices.Clone(l.names) }

// ID2Label returns config.json's "id2label": ids as decimal strings to names.
func (l *LabelSet) ID2Label() map[string]string {
	m := make(map[string]string, len(l.names))
	for i, n := range l.names {
		m[strconv.Itoa(i)] = n
	}
	return m
}

// Label2ID returns config.json's "label2id".
func (l *LabelSet) Label2ID() map[string]int {
	m := make(map[string]int, len(l.names))
	for i, n := range l.names {
		m[n] = i
	}
	return m
}

// LabelSetFromConfig rebuilds a label set from config.json's id2label, so a
// fine-tuned model keeps its ids when it is evaluated or trained further.
func LabelSetFromConfig(id2label map[string]string) (*LabelSet, error) {
	names := make([]string, len(id2label))
	for k, v := range id2label {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(names) || names[i] != "" {
			return nil, fmt.Errorf("data: id2label key %q is not one of the ids 0..%d", k, len(names)-1)
		}
		names[i] = v
	}
	return NewLabelSet(names...)
}

// quoteNames renders a label set for an error message, at most 20 names.
func (l *LabelSet) quoteNames() string {
	names := l.names
	more := ""
	if len(names) > 20 {
		names, more = names[:20], fmt.Sprintf(" and %d more", len(l.names)-20)
	}
	return fmt.Sprintf("%q%s", names, more)
}
