package metrics

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Seqeval reports entity-level precision, recall and F1 for token
// classification with seqeval's default (non-strict) semantics, the ones
// HF's run_ner reports through evaluate's seqeval metric: overall_precision,
// overall_recall, overall_f1 (micro over entity types), overall_accuracy
// (token level) and, with PerType, <TYPE>_precision, _recall, _f1 and
// _number (true entities of that type) for every type seen in labels or
// predictions.
//
// Input: Batch.PredIDs and Batch.LabelIDs, [N, Width] row-major ids into
// LabelNames (Width 0: the batch is one sequence). Positions whose label is
// IgnoreIndex are dropped first and the rest of the sequence closes up, as
// run_ner does. Or give tags directly to AddTags.
//
// IOB1 and IOB2: seqeval's default mode reads both with the same rules
// (its scheme argument only matters in strict mode): an entity starts at B-
// (or S-), at I- or E- after O, E or S, and wherever the type changes; it
// ends before O, B-, S- and a type change. So "I-PER I-PER" (IOB1) is one
// PER, "B-PER B-PER" two, and "O I-PER" starts an entity. IOBES tags work too.
// Each sequence ends with an implicit O, so no entity crosses sequences.
type Seqeval struct {
	LabelNames []string
	// PerType adds per-type scores (run_ner's --return_entity_level_metrics).
	PerType bool

	types           map[string]*entityCounts
	correct, tokens int64
}

type entityCounts struct{ tp, pred, actual int64 }

// NewSeqeval returns a seqeval metric for the given id → tag names; nil
// names are allowed when only AddTags is used.
func NewSeqeval(labelNames []string) (*Seqeval, error) {
	return &Seqeval{LabelNames: labelNames, types: map[string]*entityCounts{}}, nil
}

// Add maps ids to tags sequence by sequence and counts entities.
func (s *Seqeval) Add(b Batch) error {
	if len(b.PredIDs) != len(b.LabelIDs) {
		return fmt.Errorf("metrics: seqeval: %d predicted ids but %d labels", len(b.PredIDs), len(b.LabelIDs))
	}
	w := b.Width
	if w <= 0 {
		w = len(b.LabelIDs)
	}
	if w == 0 {
		return nil
	}
	if len(b.LabelIDs)%w != 0 {
		return fmt.Errorf("metrics: seqeval: %d labels is not a multiple of Width %d", len(b.LabelIDs), w)
	}
	k := int64(len(s.LabelNames))
	var pt, yt []string
	for row := 0; row < len(b.LabelIDs); row += w {
		pt, yt = pt[:0], yt[:0]
		for i := row; i < row+w; i++ {
			y, p := b.LabelIDs[i], b.PredIDs[i]
			if y == IgnoreIndex {
				continue
			}
			if y < 0 || y >= k || p < 0 || p >= k {
				return fmt.Errorf("metrics: seqeval: position %d has label %d, prediction %d; both must index LabelNames (%d names)", i, y, p, k)
			}
			pt, yt = append(pt, s.LabelNames[p]), append(yt, s.LabelNames[y])
		}
		s.addSeq(pt, yt)
	}
	return nil
}

// AddTags counts sequences given as tags, one []string per sentence.
func (s *Seqeval) AddTags(pred, actual [][]string) error {
	if len(pred) != len(actual) {
		return fmt.Errorf("metrics: seqeval: %d predicted sequences but %d true ones", len(pred), len(actual))
	}
	for i := range pred {
		if len(pred[i]) != len(actual[i]) {
			return fmt.Errorf("metrics: seqeval: sequence %d has %d predicted tags but %d true ones", i, len(pred[i]), len(actual[i]))
		}
	}
	for i := range pred {
		s.addSeq(pred[i], actual[i])
	}
	return nil
}

func (s *Seqeval) addSeq(pred, tru []string) {
	for i := range tru {
		s.tokens++
		if pred[i] == tru[i] {
			s.correct++
		}
	}
	if s.types == nil {
		s.types = map[string]*entityCounts{}
	}
	get := func(t string) *entityCounts {
		c := s.types[t]
		if c == nil {
			c = &entityCounts{}
			s.types[t] = c
		}
		return c
	}
	te := Entities(tru)
	set := make(map[Entity]bool, len(te))
	for _, e := range te {
		set[e] = true
		get(e.Type).actual++
	}
	for _, e := range Entities(pred) {
		c := get(e.Type)
		c.pred++
		if set[e] {
			c.tp++
		}
	}
}

// Reset clears the counts.
func (s *Seqeval) Reset() { clear(s.types); s.correct, s.tokens = 0, 0 }

// Compute reports the scores (zero_division: 0).
func (s *Seqeval) Compute() map[string]float64 {
	var tp, pred, tru float64
	out := map[string]float64{}
	for _, t := range slices.Sorted(func(yield func(string) bool) {
		for k := range s.types {
			if !yield(k) {
				return
			}
		}
	}) {
		c := s.types[t]
		tp, pred, tru = tp+float64(c.tp), pred+float64(c.pred), tru+float64(c.actual)
		if s.PerType {
			p, r := div(float64(c.tp), float64(c.pred)), div(float64(c.tp), float64(c.actual))
			out[t+"_precision"], out[t+"_recall"], out[t+"_f1"], out[t+"_number"] = p, r, fscore(p, r), float64(c.actual)
		}
	}
	p, r := div(tp, pred), div(tp, tru)
	out["overall_precision"], out["overall_recall"], out["overall_f1"] = p, r, fscore(p, r)
	out["overall_accuracy"] = div(float64(s.correct), float64(s.tokens))
	return out
}

// Entity is one chunk: its type and first and last token index (inclusive).
type Entity struct {
	Type       string
	Start, End int
}

// Entities is seqeval's get_entities (suffix=False) on one sequence: the
// tag is the first character, the type what follows the first "-" (or the
// rest; "_" when empty).
func Entities(seq []string) []Entity {
	var out []Entity
	prevTag, prevType := "O", ""
	begin := 0
	for i := 0; i <= len(seq); i++ {
		chunk := "O"
		if i < len(seq) && seq[i] != "" {
			chunk = seq[i]
		}
		_, n := utf8.DecodeRuneInString(chunk) // Python's chunk[0]: one code point
		tag, rest := chunk[:n], chunk[n:]
		typ := rest
		if j := strings.IndexByte(rest, '-'); j >= 0 {
			typ = rest[j+1:]
		}
		if typ == "" {
			typ = "_"
		}
		if endOfChunk(prevTag, tag, prevType, typ) {
			out = append(out, Entity{prevType, begin, i - 1})
		}
		if startOfChunk(prevTag, tag, prevType, typ) {
			begin = i
		}
		prevTag, prevType = tag, typ
	}
	return out
}

// endOfChunk is seqeval's end_of_chunk, rule for rule.
func endOfChunk(prevTag, tag, prevType, typ string) bool {
	switch {
	case prevTag == "E", prevTag == "S":
		return true
	case prevTag == "B" && (tag == "B" || tag == "S" || tag == "O"):
		return true
	case prevTag == "I" && (tag == "B" || tag == "S" || tag == "O"):
		return true
	}
	return prevTag != "O" && prevTag != "." && prevType != typ
}

// startOfChunk is seqeval's start_of_chunk, rule for rule.
func startOfChunk(prevTag, tag, prevType, typ string) bool {
	switch {
	case tag == "B", tag == "S":
		return true
	case (prevTag == "E" || prevTag == "S" || prevTag == "O") && (tag == "E" || tag == "I"):
		return true
	}
	return tag != "O" && tag != "." && prevType != typ
}
