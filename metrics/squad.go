package metrics

import (
	"fmt"
	"strings"
	"unicode"
)

// SQuAD reports extractive-QA exact match and F1 (in percent, as the
// official scripts) from Batch.PredTexts (one answer per question) and
// Batch.GoldTexts (its gold answers). Each question scores its best gold
// answer after the official normalisation: lower case, drop ASCII
// punctuation, drop the words a, an, the, collapse white space.
//
// V1 (evaluate's squad metric, the v1.1 script) reports exact_match and f1
// and needs at least one gold answer per question. V2 (squad_v2, the v2.0
// script without a no-answer threshold) treats no gold answer as "no
// answer", right only when the prediction is empty too, and reports exact,
// f1 and total, plus HasAns_* and NoAns_* for each kind of question seen.
type SQuAD struct {
	V2 bool
	// sums of per-question scores, split by has-answer / no-answer (v2)
	hasEM, hasF1, noEM, noF1 float64
	hasN, noN                int64
}

// NewSQuAD returns a SQuAD v1.1 (v2 false) or v2.0 metric.
func NewSQuAD(v2 bool) *SQuAD { return &SQuAD{V2: v2} }

// Add scores the batch's questions.
func (s *SQuAD) Add(b Batch) error {
	if len(b.PredTexts) != len(b.GoldTexts) {
		return fmt.Errorf("metrics: squad: %d predictions but %d gold answer lists", len(b.PredTexts), len(b.GoldTexts))
	}
	for i, pred := range b.PredTexts {
		golds := b.GoldTexts[i]
		if !s.V2 {
			if len(golds) == 0 {
				return fmt.Errorf("metrics: squad: question %d has no gold answer; SQuAD v1 needs one (use v2 for unanswerable questions)", i)
			}
			var em, f1 float64
			for _, g := range golds {
				em = max(em, b2f(NormalizeAnswer(pred) == NormalizeAnswer(g)))
				f1 = max(f1, tokenF1(strings.Fields(NormalizeAnswer(pred)), strings.Fields(NormalizeAnswer(g)), false))
			}
			s.hasEM, s.hasF1, s.hasN = s.hasEM+em, s.hasF1+f1, s.hasN+1
			continue
		}
		// v2: gold answers that normalise to nothing are dropped; none left
		// means the empty answer is the only right one.
		var gs []string
		for _, g := range golds {
			if NormalizeAnswer(g) != "" {
				gs = append(gs, g)
			}
		}
		if len(gs) == 0 {
			gs = []string{""}
		}
		var em, f1 float64
		for _, g := range gs {
			em = max(em, b2f(NormalizeAnswer(g) == NormalizeAnswer(pred)))
			f1 = max(f1, tokenF1(v2Tokens(pred), v2Tokens(g), true))
		}
		if len(golds) > 0 {
			s.hasEM, s.hasF1, s.hasN = s.hasEM+em, s.hasF1+f1, s.hasN+1
		} else {
			s.noEM, s.noF1, s.noN = s.noEM+em, s.noF1+f1, s.noN+1
		}
	}
	return nil
}

// Reset clears the sums.
func (s *SQuAD) Reset() { *s = SQuAD{V2: s.V2} }

// Compute reports the scores in percent (0 before any question).
func (s *SQuAD) Compute() map[string]float64 {
	pct := func(sum float64, n int64) float64 { return div(100*sum, float64(n)) }
	if !s.V2 {
		return map[string]float64{"exact_match": pct(s.hasEM, s.hasN), "f1": pct(s.hasF1, s.hasN)}
	}
	n := s.hasN + s.noN
	out := map[string]float64{
		"exact": pct(s.hasEM+s.noEM, n),
		"f1":    pct(s.hasF1+s.noF1, n),
		"total": float64(n),
	}
	if s.hasN > 0 {
		out["HasAns_exact"], out["HasAns_f1"], out["HasAns_total"] = pct(s.hasEM, s.hasN), pct(s.hasF1, s.hasN), float64(s.hasN)
	}
	if s.noN > 0 {
		out["NoAns_exact"], out["NoAns_f1"], out["NoAns_total"] = pct(s.noEM, s.noN), pct(s.noF1, s.noN), float64(s.noN)
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// v2Tokens is the v2 script's get_tokens: no tokens for an empty string.
func v2Tokens(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(NormalizeAnswer(s))
}

// tokenF1 is the scripts' bag-of-tokens F1. The v2 script scores an empty
// side 1 when both are empty and 0 otherwise; v1 scores it 0.
func tokenF1(pred, gold []string, v2 bool) float64 {
	if v2 && (len(pred) == 0 || len(gold) == 0) {
		return b2f(len(pred) == len(gold))
	}
	count := map[string]int{}
	for _, t := range gold {
		count[t]++
	}
	same := 0
	for _, t := range pred {
		if count[t] > 0 {
			count[t]--
			same++
		}
	}
	if same == 0 {
		return 0
	}
	p := float64(same) / float64(len(pred))
	r := float64(same) / float64(len(gold))
	return 2 * p * r / (p + r)
}

// punctuation is Python's string.punctuation.
const punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// NormalizeAnswer is the SQuAD scripts' normalize_answer: lower case,
// remove ASCII punctuation (Python's string.punctuation), replace the words
// a, an and the with a space (Python's Unicode \b word boundaries: letters,
// digits and _ are word characters), and join the white-space-separated
// words with single spaces.
func NormalizeAnswer(s string) string {
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(punctuation, r) {
			return -1
		}
		return r
	}, s)
	// Drop whole words a/an/the.
	var b strings.Builder
	word := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }
	rs := []rune(s)
	for i := 0; i < len(rs); {
		if !word(rs[i]) {
			b.WriteRune(rs[i])
			i++
			continue
		}
		j := i
		for j < len(rs) && word(rs[j]) {
			j++
		}
		w := string(rs[i:j])
		if w == "a" || w == "an" || w == "the" {
			b.WriteByte(' ')
		} else {
			b.WriteString(w)
		}
		i = j
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
