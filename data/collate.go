package data

import (
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/kiln-ml/kiln/tokenizer"
)

// Batch is a collated batch: flat row-major int64 and float32 slices with
// their shapes, ready to become tensors. Nil slices are absent inputs.
type Batch struct {
	// Indices are the example indices the rows came from.
	Indices []int
	// InputShape is [B, T], or [B, C, T] for multiple choice; InputIDs,
	// AttentionMask, TokenTypeIDs and SpecialTokensMask all have this shape.
	InputShape    []int
	InputIDs      []int64
	AttentionMask []int64 // 1 for tokens, 0 for padding
	TokenTypeIDs  []int64 // nil when the examples carry none
	// SpecialTokensMask is set for masked LM: 1 for special tokens and
	// padding.
	SpecialTokensMask []int64

	// Labels are class ids [B] (classification, multiple choice) or token
	// labels [B, T] (token classification, causal and masked LM, with
	// IgnoreIndex on padding and ignored tokens); LabelShape says which.
	Labels     []int64
	LabelShape []int
	// FloatLabels are regression targets [B] or multi-hot vectors [B, L].
	FloatLabels     []float32
	FloatLabelShape []int
	// StartPositions and EndPositions are QA answer spans [B].
	StartPositions, EndPositions []int64
}

// Collator pads a list of examples into a Batch (HF's
// DataCollatorWithPadding, DataCollatorForTokenClassification and friends):
// every row is padded to the longest in the batch, so batches of short texts
// stay short.
type Collator struct {
	Task Task
	// PadID is the padding token id; see PadID.
	PadID int
	// PadToMultipleOf rounds the padded length up (e.g. 8).
	PadToMultipleOf int
}

// PadID returns the id the tokenizer pads with ([PAD] for BERT). GPT-2 has
// no padding token; call its SetPadToken first.
func PadID(tok *tokenizer.Tokenizer) int { return tok.PadID() }

// Collate pads exs into a batch.
func (c Collator) Collate(exs []*Example) (*Batch, error) {
	if len(exs) == 0 {
		return nil, errors.New("data: Collate of an empty batch")
	}
	b := &Batch{}
	if c.Task == MultipleChoice {
		return c.collateChoices(exs)
	}
	T := 0
	types := false
	for _, e := range exs {
		T = max(T, len(e.InputIDs))
		types = types || e.TokenTypeIDs != nil
	}
	if m := c.PadToMultipleOf; m > 0 && T%m != 0 {
		T += m - T%m
	}
	B := len(exs)
	b.InputShape = []int{B, T}
	b.InputIDs = make([]int64, B*T)
	b.AttentionMask = make([]int64, B*T)
	if types {
		b.TokenTypeIDs = make([]int64, B*T)
	}
	for i, e := range exs {
		fill(b.InputIDs[i*T:(i+1)*T], e.InputIDs, int64(c.PadID))
		row := b.AttentionMask[i*T : (i+1)*T]
		if e.AttentionMask != nil {
			fill(row, e.AttentionMask, 0)
		} else {
			fill(row, nil, 0)
			for t := range e.InputIDs {
				row[t] = 1
			}
		}
		if types {
			fill(b.TokenTypeIDs[i*T:(i+1)*T], e.TokenTypeIDs, 0)
		}
	}
	switch c.Task {
	case Classification:
		b.Labels, b.LabelShape = make([]int64, B), []int{B}
		for i, e := range exs {
			b.Labels[i] = int64(e.Label)
		}
	case Regression, MultiLabel:
		L := len(exs[0].Target)
		for i, e := range exs {
			if len(e.Target) != L || L == 0 {
				return nil, fmt.Errorf("data: example %d has %d targets, example 0 has %d", i, len(e.Target), L)
			}
		}
		b.FloatLabels = make([]float32, 0, B*L)
		for _, e := range exs {
			b.FloatLabels = append(b.FloatLabels, e.Target...)
		}
		b.FloatLabelShape = []int{B, L}
		if c.Task == Regression {
			b.FloatLabelShape = []int{B} // HF squeezes the single regression target
		}
	case TokenClassification, CausalLM:
		b.Labels, b.LabelShape = make([]int64, B*T), []int{B, T}
		for i, e := range exs {
			if len(e.Labels) != len(e.InputIDs) {
				return nil, fmt.Errorf("data: example %d has %d labels for %d tokens", i, len(e.Labels), len(e.InputIDs))
			}
			fill(b.Labels[i*T:(i+1)*T], e.Labels, IgnoreIndex)
		}
	case QuestionAnswering:
		b.StartPositions, b.EndPositions = make([]int64, B), make([]int64, B)
		for i, e := range exs {
			b.StartPositions[i], b.EndPositions[i] = int64(e.Start), int64(e.End)
		}
	case MaskedLM:
		b.SpecialTokensMask = make([]int64, B*T)
		for i, e := range exs {
			fill(b.SpecialTokensMask[i*T:(i+1)*T], e.SpecialTokensMask, 1)
			if e.SpecialTokensMask == nil {
				// Unknown specials: the Masker falls back to special ids;
				// mark only the padding here.
				for t := range e.InputIDs {
					b.SpecialTokensMask[i*T+t] = -1
				}
			}
		}
	default:
		return nil, fmt.Errorf("data: Collator.Task %v is not set or unknown", c.Task)
	}
	return b, nil
}

// fill copies src into dst and pads the rest with pad.
func fill(dst []int64, src []int, pad int64) {
	for i, v := range src {
		dst[i] = int64(v)
	}
	for i := len(src); i < len(dst); i++ {
		dst[i] = pad
	}
}

// collateChoices pads every choice of every example to one length: shape
// [B, C, T].
func (c Collator) collateChoices(exs []*Example) (*Batch, error) {
	C := len(exs[0].Choices)
	flat := make([]*Example, 0, len(exs)*C)
	for i, e := range exs {
		if len(e.Choices) != C || C == 0 {
			return nil, fmt.Errorf("data: example %d has %d choices, example 0 has %d; a batch needs the same number", i, len(e.Choices), C)
		}
		for j := range e.Choices {
			flat = append(flat, &e.Choices[j])
		}
	}
	inner := c
	inner.Task = QuestionAnswering // any task without token labels
	b, err := inner.Collate(flat)
	if err != nil {
		return nil, err
	}
	b.StartPositions, b.EndPositions = nil, nil
	b.InputShape = []int{len(exs), C, b.InputShape[1]}
	b.Labels, b.LabelShape = make([]int64, len(exs)), []int{len(exs)}
	for i, e := range exs {
		b.Labels[i] = int64(e.Label)
	}
	return b, nil
}

// Masker applies masked-LM masking to collated batches (HF's
// DataCollatorForLanguageModeling): each token that is not special or
// padding is chosen with probability Prob (0.15); a chosen token becomes the
// mask token 80% of the time, a uniformly random id 10%, and stays 10%; the
// labels hold the original id at chosen positions and IgnoreIndex elsewhere.
// The draws for a row depend only on (Seed, epoch, example index), so a
// batch is masked the same on every machine, in any batch composition, and
// after a resume; each epoch masks differently.
type Masker struct {
	MaskID    int
	VocabSize int          // random replacements are drawn from [0, VocabSize)
	Prob      float64      // masking probability; 0 means 0.15
	Special   map[int]bool // ids never masked when an example has no special-tokens mask
	Seed      uint64
}

// NewMasker builds a Masker for tok, whose mask token must be "[MASK]" or
// "<mask>".
func NewMasker(tok *tokenizer.Tokenizer, seed uint64) (*Masker, error) {
	m := &Masker{VocabSize: tok.VocabSize(), Prob: 0.15, Seed: seed, Special: map[int]bool{}}
	id, ok := tok.TokenToID("[MASK]")
	if !ok {
		if id, ok = tok.TokenToID("<mask>"); !ok {
			return nil, errors.New("data: the tokenizer has no [MASK] or <mask> token for masked LM")
		}
	}
	m.MaskID = id
	for _, a := range tok.AddedTokens() {
		if a.Special {
			m.Special[a.ID] = true
		}
	}
	return m, nil
}

// Mask masks b in place and fills b.Labels ([B, T]).
func (m *Masker) Mask(b *Batch, epoch int) {
	p := m.Prob
	if p == 0 {
		p = 0.15
	}
	B, T := b.InputShape[0], b.InputShape[1]
	b.Labels, b.LabelShape = make([]int64, B*T), []int{B, T}
	for i := range B {
		r := newRNG(m.Seed, 0x6d6c6d, uint64(epoch), uint64(b.Indices[i])) // "mlm"
		for t := i * T; t < (i+1)*T; t++ {
			b.Labels[t] = IgnoreIndex
			sp := b.SpecialTokensMask != nil && b.SpecialTokensMask[t] == 1
			if b.SpecialTokensMask == nil || b.SpecialTokensMask[t] == -1 {
				sp = m.Special[int(b.InputIDs[t])]
			}
			if sp || b.AttentionMask[t] == 0 {
				continue
			}
			// Two draws per eligible token, always, so that one token's fate
			// does not shift the stream for the next.
			u, v := r.float(), r.next()
			if u >= p {
				continue
			}
			b.Labels[t] = b.InputIDs[t]
			switch w := v % 10; {
			case w < 8:
				b.InputIDs[t] = int64(m.MaskID)
			case w == 8:
				b.InputIDs[t] = int64(r.intn(m.VocabSize))
			}
		}
	}
	if b.SpecialTokensMask != nil {
		for t, s := range b.SpecialTokensMask {
			if s == -1 {
				b.SpecialTokensMask[t] = 0
				if m.Special[int(b.InputIDs[t])] {
					b.SpecialTokensMask[t] = 1
				}
			}
		}
	}
}

// Sampler orders examples into batches. The order is a pure function of
// (Seed, epoch) and the number of examples, the same on every machine, so a
// resumed run can jump to batch k of epoch e without replaying the data.
type Sampler struct {
	BatchSize int
	Shuffle   bool
	Seed      uint64
	// DropLast drops a final batch smaller than BatchSize.
	DropLast bool
	// GroupByLength puts examples of similar length in the same batch to
	// save padding (HF group_by_length): a random permutation is cut into
	// megabatches of min(n/(4*BatchSize), 50)*BatchSize examples, each sorted
	// by decreasing length, and the megabatch with the longest example goes
	// first so that an out-of-memory shows up at once. Lengths gives the
	// length of each example.
	GroupByLength bool
	Lengths       []int
}

// Batches returns the example indices of each batch of epoch for n
// examples.
func (s Sampler) Batches(n, epoch int) ([][]int, error) {
	if s.BatchSize <= 0 {
		return nil, fmt.Errorf("data: Sampler.BatchSize %d must be positive", s.BatchSize)
	}
	if s.GroupByLength && len(s.Lengths) != n {
		return nil, fmt.Errorf("data: Sampler.GroupByLength needs %d lengths, has %d", n, len(s.Lengths))
	}
	var order []int
	switch {
	case !s.Shuffle:
		order = make([]int, n)
		for i := range order {
			order[i] = i
		}
	case s.GroupByLength:
		order = s.grouped(n, epoch)
	default:
		order = newRNG(s.Seed, 0x73687566, uint64(epoch)).permutation(n) // "shuf"
	}
	var out [][]int
	for lo := 0; lo < n; lo += s.BatchSize {
		hi := min(lo+s.BatchSize, n)
		if hi-lo < s.BatchSize && s.DropLast {
			break
		}
		out = append(out, order[lo:hi:hi])
	}
	return out, nil
}

func (s Sampler) grouped(n, epoch int) []int {
	mult := min(n/(s.BatchSize*4), 50)
	if mult == 0 {
		mult = 1
	}
	perm := newRNG(s.Seed, 0x67726f7570, uint64(epoch)).permutation(n) // "group"
	size := mult * s.BatchSize
	var megas [][]int
	for lo := 0; lo < n; lo += size {
		m := perm[lo:min(lo+size, n)]
		slices.SortStableFunc(m, func(a, b int) int { return s.Lengths[b] - s.Lengths[a] })
		megas = append(megas, m)
	}
	best := 0
	for i, m := range megas {
		if s.Lengths[m[0]] > s.Lengths[megas[best][0]] {
			best = i
		}
	}
	if len(megas) > 0 {
		megas[0][0], megas[best][0] = megas[best][0], megas[0][0]
	}
	return perm
}

// NumBatches returns the number of batches per epoch for n examples.
func (s Sampler) NumBatches(n int) int {
	if s.BatchSize <= 0 {
		return 0
	}
	if s.DropLast {
		return n / s.BatchSize
	}
	return (n + s.BatchSize - 1) / s.BatchSize
}

// Loader ties examples, a sampler, a collator and (for masked LM) a masker
// together.
type Loader struct {
	Examples []Example
	Sampler  Sampler
	Collator Collator
	Masker   *Masker // required for MaskedLM
}

// Epoch yields the batches of epoch, starting at batch skip (to resume
// mid-epoch: batch k of a resumed run equals batch k of an uninterrupted
// one).
func (l *Loader) Epoch(epoch, skip int) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		s := l.Sampler
		if s.GroupByLength && s.Lengths == nil {
			s.Lengths = make([]int, len(l.Examples))
			for i := range l.Examples {
				s.Lengths[i] = l.Examples[i].Len()
			}
		}
		batches, err := s.Batches(len(l.Examples), epoch)
		if err == nil && l.Collator.Task == MaskedLM && l.Masker == nil {
			err = errors.New("data: Loader for masked LM needs a Masker")
		}
		if err != nil {
			yield(nil, err)
			return
		}
		exs := make([]*Example, 0, s.BatchSize)
		for k := max(skip, 0); k < len(batches); k++ {
			exs = exs[:0]
			for _, i := range batches[k] {
				exs = append(exs, &l.Examples[i])
			}
			b, err := l.Collator.Collate(exs)
			if err != nil {
				yield(nil, fmt.Errorf("data: epoch %d batch %d: %w", epoch, k, err))
				return
			}
			b.Indices = batches[k]
			if l.Collator.Task == MaskedLM {
				l.Masker.Mask(b, epoch)
			}
			if !yield(b, nil) {
				return
			}
		}
	}
}
