package tokenizer

import (
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// Truncation selects how Encode shortens inputs longer than MaxLength.
type Truncation int

const (
	// NoTruncation keeps every token.
	NoTruncation Truncation = iota
	// LongestFirst removes tokens from the longer text of a pair first (HF's
	// default "longest_first").
	LongestFirst
	// OnlyFirst truncates only the first text of a pair.
	OnlyFirst
	// OnlySecond truncates only the second text (the context in extractive QA).
	OnlySecond
)

// Padding selects how Encode pads.
type Padding int

const (
	// NoPadding leaves every encoding at its own length.
	NoPadding Padding = iota
	// PadLongest pads a batch to its longest encoding (a single Encode is its
	// own longest).
	PadLongest
	// PadMaxLength pads to Options.MaxLength.
	PadMaxLength
)

// Options control one Encode, EncodePair or batch call. The zero value adds
// special tokens and neither truncates nor pads, like HF's defaults.
type Options struct {
	// NoSpecialTokens disables the post-processor's special tokens
	// (HF add_special_tokens=False). Type ids are still set.
	NoSpecialTokens bool

	Truncation Truncation
	// MaxLength is the total length, special tokens included, for
	// truncation and for PadMaxLength.
	MaxLength int
	// Stride is the number of tokens each overflowing window repeats from the
	// previous one. It must be smaller than MaxLength minus the special tokens.
	Stride int

	Padding Padding
	// PadToMultipleOf rounds the padded length up to a multiple (e.g. 8 for
	// tensor cores); it also applies to PadLongest.
	PadToMultipleOf int
	// PadLeft pads on the left instead of the right.
	PadLeft bool
}

// Tokenizer turns text into token ids and back. It is safe for concurrent use.
type Tokenizer struct {
	normalizer normalizer
	pre        preTokenizer
	prefixSpc  bool // byte-level add_prefix_space
	model      model
	post       postProcessor
	decoder    decoder
	added      addedVocab

	vocab     map[string]int
	idToToken []string
	special   map[int]bool

	padID    int
	padType  int
	padToken string

	scratch sync.Pool

	// earlyExit emulates tokenizers 0.23.1+ (HF issue #2091): with
	// truncation on, tokenization of each text stops at the first
	// pre-tokenized word that brings it to MaxLength tokens, so overflowing
	// windows never reach past MaxLength. kiln's default is the intended
	// (0.22.2) behaviour, windows over the whole text; the parity tests
	// switch this on to compare with the 0.23.2 reference byte for byte.
	earlyExit bool
}

// scratch holds per-call buffers so that encoding allocates little.
type scratch struct {
	nrm    normalized
	spans  []span
	tokens []token
}

// VocabSize returns the number of ids, added tokens included.
func (t *Tokenizer) VocabSize() int { return len(t.idToToken) }

// TokenToID returns the id of tok.
func (t *Tokenizer) TokenToID(tok string) (int, bool) {
	id, ok := t.vocab[tok]
	return id, ok
}

// IDToToken returns the token of id, or "" if id is out of range.
func (t *Tokenizer) IDToToken(id int) string {
	if id < 0 || id >= len(t.idToToken) {
		return ""
	}
	return t.idToToken[id]
}

// AddedTokens returns the added (and special) tokens.
func (t *Tokenizer) AddedTokens() []AddedToken { return append([]AddedToken(nil), t.added.tokens...) }

// SetPadToken chooses the padding token; GPT-2 has none, and a common choice
// is its "<|endoftext|>".
func (t *Tokenizer) SetPadToken(tok string) error {
	id, ok := t.vocab[tok]
	if !ok {
		return fmt.Errorf("tokenizer: pad token %q is not in the vocabulary", tok)
	}
	t.padID, t.padToken = id, tok
	return nil
}

// PadID returns the id padding uses (the file's pad token, or the one set
// with SetPadToken; 0 when the tokenizer has none, as for GPT-2).
func (t *Tokenizer) PadID() int { return t.padID }

// Encode encodes one text.
func (t *Tokenizer) Encode(text string, opts Options) (*Encoding, error) {
	e, err := t.encode(text, "", false, opts)
	if err != nil {
		return nil, err
	}
	t.padBatch([]*Encoding{e}, opts)
	return e, nil
}

// EncodePair encodes a pair of texts, e.g. question and context, or two
// sentences for entailment: "[CLS] a [SEP] b [SEP]" for BERT.
func (t *Tokenizer) EncodePair(a, b string, opts Options) (*Encoding, error) {
	e, err := t.encode(a, b, true, opts)
	if err != nil {
		return nil, err
	}
	t.padBatch([]*Encoding{e}, opts)
	return e, nil
}

// EncodeBatch encodes texts in parallel on kiln's worker pool and pads them
// together (PadLongest pads to the longest of the batch).
func (t *Tokenizer) EncodeBatch(texts []string, opts Options) ([]*Encoding, error) {
	return t.batch(len(texts), opts, func(i int) (*Encoding, error) { return t.encode(texts[i], "", false, opts) })
}

// EncodePairBatch encodes the pairs (a[i], b[i]) in parallel.
func (t *Tokenizer) EncodePairBatch(a, b []string, opts Options) ([]*Encoding, error) {
	if len(a) != len(b) {
		return nil, fmt.Errorf("tokenizer: EncodePairBatch got %d first and %d second texts", len(a), len(b))
	}
	return t.batch(len(a), opts, func(i int) (*Encoding, error) { return t.encode(a[i], b[i], true, opts) })
}

func (t *Tokenizer) batch(n int, opts Options, one func(int) (*Encoding, error)) ([]*Encoding, error) {
	out := make([]*Encoding, n)
	errs := make([]error, n)
	parallel.For(n, parallel.Split(n, 4, 8), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i], errs[i] = one(i)
		}
	})
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("tokenizer: batch item %d: %w", i, err)
		}
	}
	t.padBatch(out, opts)
	return out, nil
}

func (t *Tokenizer) padBatch(encs []*Encoding, opts Options) {
	var n int
	switch opts.Padding {
	case NoPadding:
		return
	case PadLongest:
		for _, e := range encs {
			n = max(n, e.Len())
		}
	case PadMaxLength:
		n = opts.MaxLength
	}
	if m := opts.PadToMultipleOf; m > 0 && n%m != 0 {
		n += m - n%m
	}
	for _, e := range encs {
		e.pad(n, opts.PadLeft, t.padID, t.padType, t.padToken)
	}
}

// encode runs the whole pipeline except padding.
func (t *Tokenizer) encode(a, b string, pair bool, opts Options) (*Encoding, error) {
	limit := -1
	if t.earlyExit && opts.Truncation != NoTruncation {
		limit = opts.MaxLength
	}
	ea := t.encodeText(a, limit)
	var eb *Encoding
	if pair {
		eb = t.encodeText(b, limit)
	}
	if opts.Truncation != NoTruncation {
		if err := t.truncate(ea, eb, opts); err != nil {
			return nil, err
		}
	}
	return t.post.process(ea, eb, !opts.NoSpecialTokens), nil
}

// truncate follows HF's truncate_encodings, with MaxLength reduced by the
// number of special tokens the post-processor will add.
func (t *Tokenizer) truncate(a, b *Encoding, opts Options) error {
	maxLen := opts.MaxLength
	if !opts.NoSpecialTokens {
		maxLen -= t.post.added(b != nil)
	}
	if maxLen < 0 || opts.MaxLength <= 0 {
		return fmt.Errorf("tokenizer: MaxLength %d leaves no room for the %d special tokens", opts.MaxLength, opts.MaxLength-maxLen)
	}
	if opts.Stride < 0 || opts.Stride >= maxLen {
		return fmt.Errorf("tokenizer: Stride %d must be below the effective max length %d (MaxLength %d minus special tokens)", opts.Stride, maxLen, opts.MaxLength)
	}
	total := a.Len()
	if b != nil {
		total += b.Len()
	}
	if total <= maxLen {
		return nil
	}
	remove := total - maxLen
	switch opts.Truncation {
	case LongestFirst:
		if b == nil {
			a.truncate(maxLen, opts.Stride)
			return nil
		}
		// Keep the shorter text whole if the longer can absorb the cut,
		// otherwise split maxLen evenly (the odd token goes to the longer).
		n1, n2, swap := a.Len(), b.Len(), false
		if n1 > n2 {
			n1, n2, swap = n2, n1, true
		}
		if n1 > maxLen {
			n2 = n1
		} else {
			n2 = max(n1, maxLen-n1)
		}
		if n1+n2 > maxLen {
			n1 = maxLen / 2
			n2 = n1 + maxLen%2
		}
		if swap {
			n1, n2 = n2, n1
		}
		a.truncate(n1, opts.Stride)
		b.truncate(n2, opts.Stride)
	case OnlyFirst, OnlySecond:
		target := a
		if opts.Truncation == OnlySecond {
			if b == nil {
				return fmt.Errorf("tokenizer: truncation OnlySecond needs a pair of texts")
			}
			target = b
		}
		if target.Len() <= remove {
			return fmt.Errorf("tokenizer: cannot truncate: the sequence to truncate has %d tokens but %d must go", target.Len(), remove)
		}
		target.truncate(target.Len()-remove, opts.Stride)
	default:
		return fmt.Errorf("tokenizer: unknown truncation strategy %d", opts.Truncation)
	}
	return nil
}

// encodeText tokenizes one text: added tokens are cut out of the raw text
// first, each remaining segment is normalized, pre-tokenized and tokenized.
// Word ids count added tokens and pre-tokenized pieces, as HF does.
func (t *Tokenizer) encodeText(text string, limit int) *Encoding {
	sc, _ := t.scratch.Get().(*scratch)
	if sc == nil {
		sc = &scratch{}
	}
	e := &Encoding{}
	e.grow(len(text)/4 + 2) // about one token per 4 bytes of English
	word := 0
	for pos := 0; pos <= len(text) && (limit < 0 || e.Len() < limit); {
		s, end, idx := t.added.raw.find(t.added.tokens, text, pos)
		if idx < 0 {
			s, end = len(text), len(text)
		}
		if s > pos {
			word = t.encodeSegment(e, sc, text[pos:s], pos, word, limit)
		}
		if idx < 0 {
			break
		}
		at := &t.added.tokens[idx]
		e.appendToken(at.ID, at.Content, 0, 0, Offset{}, Offset{s, end}, word, 0)
		word++
		pos = end
	}
	t.scratch.Put(sc)
	fillCharOffsets(text, e)
	return e
}

// encodeSegment tokenizes text (starting at byte base of the whole text)
// into e and returns the next word id.
func (t *Tokenizer) encodeSegment(e *Encoding, sc *scratch, text string, base, word, limit int) int {
	nrm := &sc.nrm
	normalize(t.normalizer, text, base, nrm)
	if t.prefixSpc && len(nrm.s) > 0 && nrm.s[0] != ' ' {
		prependSpace(nrm)
	}
	s := nrm.s
	for from := 0; from < len(s); {
		a, b, idx := 0, 0, -1
		if len(t.added.norm.patterns) > 0 {
			a, b, idx = t.added.norm.find(t.added.tokens, string(s), from)
		}
		if idx < 0 {
			a, b = len(s), len(s)
		}
		sc.spans = t.pre.split(s[from:a], sc.spans[:0])
		for _, sp := range sc.spans {
			sc.tokens = t.model.tokenize(s[from+sp.start:from+sp.end], sc.tokens[:0])
			for _, tk := range sc.tokens {
				lo, hi := nrm.orig(from+sp.start+int(tk.start), from+sp.start+int(tk.end))
				e.appendToken(int(tk.id), t.idToToken[tk.id], 0, 0, Offset{}, Offset{lo, hi}, word, 0)
			}
			word++
			if limit >= 0 && e.Len() >= limit {
				return word
			}
		}
		if idx < 0 {
			break
		}
		at := &t.added.tokens[idx]
		lo, hi := nrm.orig(a, b)
		e.appendToken(at.ID, at.Content, 0, 0, Offset{}, Offset{lo, hi}, word, 0)
		word++
		from = b
	}
	return word
}

// prependSpace implements byte-level add_prefix_space: HF prepends ' ' to
// each segment that does not start with one, aligned to the segment's first
// character, so the first token's offsets still start at that character.
func prependSpace(n *normalized) {
	if n.start == nil {
		n.start = make([]int32, len(n.s))
		n.end = make([]int32, len(n.s))
		for i := range n.s {
			n.start[i], n.end[i] = int32(n.base+i), int32(n.base+i+1)
		}
		// Widen each byte to its whole character, as the general path does.
		for i := 0; i < len(n.s); {
			_, sz := utf8.DecodeRune(n.s[i:])
			for j := i; j < i+sz; j++ {
				n.start[j], n.end[j] = int32(n.base+i), int32(n.base+i+sz)
			}
			i += sz
		}
	}
	n.s = append(n.s, 0)
	copy(n.s[1:], n.s)
	n.s[0] = ' '
	n.start = append([]int32{n.start[0]}, n.start...)
	n.end = append([]int32{n.end[0]}, n.end...)
}

// fillCharOffsets derives character offsets from byte offsets. A byte-level
// token may start or end inside a multi-byte character; HF then reports the
// whole character, so starts round down and ends round up to character
// boundaries.
func fillCharOffsets(text string, e *Encoding) {
	e.Offsets = e.Offsets[:0]
	ascii := true
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		e.Offsets = append(e.Offsets, e.ByteOffsets...)
		return
	}
	// charAt[i] is the index of the character containing byte i.
	charAt := make([]int32, len(text)+1)
	c := int32(0)
	for i := 0; i < len(text); {
		_, n := utf8.DecodeRuneInString(text[i:])
		for j := i; j < i+n; j++ {
			charAt[j] = c
		}
		c++
		i += n
	}
	charAt[len(text)] = c
	for i, bo := range e.ByteOffsets {
		// The byte offsets are widened to whole characters too, which only
		// changes byte-level pieces of multi-byte characters.
		start, end := bo.Start, bo.End
		if end > start {
			for start > 0 && !utf8.RuneStart(text[start]) {
				start--
			}
			for end < len(text) && !utf8.RuneStart(text[end]) {
				end++
			}
		}
		e.ByteOffsets[i] = Offset{start, end}
		e.Offsets = append(e.Offsets, Offset{int(charAt[start]), int(charAt[end])})
	}
}
