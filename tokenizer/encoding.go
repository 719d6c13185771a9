package tokenizer

// Offset is a half-open range [Start, End) into the text a token came from.
// Special tokens added by post-processing have Offset{0, 0}.
type Offset struct{ Start, End int }

// Encoding is the result of encoding one text or one pair of texts. All
// slices have the same length, one entry per token.
type Encoding struct {
	IDs    []int    // vocabulary ids
	Tokens []string // the tokens themselves (for byte-level BPE in GPT-2's 'Ġ' alphabet)
	// TypeIDs are the segment ids (BERT token_type_ids): 0 for the first text
	// and its special tokens, 1 for the second, as the post-processor says.
	TypeIDs []int
	// AttentionMask is 1 for real tokens and 0 for padding.
	AttentionMask []int
	// SpecialTokensMask is 1 for tokens added by post-processing and for
	// padding, 0 for tokens of the texts (including special tokens written in
	// the text, as in Hugging Face).
	SpecialTokensMask []int
	// Offsets are character offsets (Unicode code points) into the text the
	// token came from (the first or second text of a pair), the unit Hugging
	// Face reports in Python and in its Node binding. A token that covers part
	// of a character (a byte-level BPE piece of an emoji) reports the whole
	// character.
	Offsets []Offset
	// ByteOffsets are the same ranges in bytes, the unit of Go string slicing
	// and of HF's Rust API: text[o.Start:o.End] is the token's source text.
	ByteOffsets []Offset
	// WordIDs give the index of the pre-tokenized word each token belongs to
	// (counted per text), or -1 for special tokens and padding.
	WordIDs []int
	// SequenceIDs are 0 or 1 for tokens of the first or second text, -1 for
	// special tokens and padding.
	SequenceIDs []int
	// Overflowing holds the windows cut off by truncation (with the stride
	// overlap), each post-processed like the main encoding: the QA "overflowing
	// tokens". It follows HF's combination rules for pairs, including nested
	// Overflowing lists when both texts overflow with LongestFirst.
	Overflowing []*Encoding
}

// Len returns the number of tokens.
func (e *Encoding) Len() int { return len(e.IDs) }

func (e *Encoding) appendToken(id int, tok string, typ, special int, off, boff Offset, word, seq int) {
	e.IDs = append(e.IDs, id)
	e.Tokens = append(e.Tokens, tok)
	e.TypeIDs = append(e.TypeIDs, typ)
	e.AttentionMask = append(e.AttentionMask, 1)
	e.SpecialTokensMask = append(e.SpecialTokensMask, special)
	e.Offsets = append(e.Offsets, off)
	e.ByteOffsets = append(e.ByteOffsets, boff)
	e.WordIDs = append(e.WordIDs, word)
	e.SequenceIDs = append(e.SequenceIDs, seq)
}

// grow preallocates room for n tokens.
func (e *Encoding) grow(n int) {
	e.IDs = make([]int, 0, n)
	e.Tokens = make([]string, 0, n)
	e.TypeIDs = make([]int, 0, n)
	e.AttentionMask = make([]int, 0, n)
	e.SpecialTokensMask = make([]int, 0, n)
	e.Offsets = make([]Offset, 0, n)
	e.ByteOffsets = make([]Offset, 0, n)
	e.WordIDs = make([]int, 0, n)
	e.SequenceIDs = make([]int, 0, n)
}

// slice returns a copy of tokens [lo, hi) without overflowing windows.
func (e *Encoding) slice(lo, hi int) *Encoding {
	return &Encoding{
		IDs:               append([]int(nil), e.IDs[lo:hi]...),
		Tokens:            append([]string(nil), e.Tokens[lo:hi]...),
		TypeIDs:           append([]int(nil), e.TypeIDs[lo:hi]...),
		AttentionMask:     append([]int(nil), e.AttentionMask[lo:hi]...),
		SpecialTokensMask: append([]int(nil), e.SpecialTokensMask[lo:hi]...),
		Offsets:           append([]Offset(nil), e.Offsets[lo:hi]...),
		ByteOffsets:       append([]Offset(nil), e.ByteOffsets[lo:hi]...),
		WordIDs:           append([]int(nil), e.WordIDs[lo:hi]...),
		SequenceIDs:       append([]int(nil), e.SequenceIDs[lo:hi]...),
	}
}

// clone is a deep copy, overflowing windows included.
func (e *Encoding) clone() *Encoding {
	c := e.slice(0, e.Len())
	for _, o := range e.Overflowing {
		c.Overflowing = append(c.Overflowing, o.clone())
	}
	return c
}

// truncate keeps the first maxLen tokens and moves the rest into Overflowing
// as windows of maxLen tokens that each repeat the last stride tokens of the
// previous one (HF's Encoding::truncate, direction right). Existing
// overflowing windows are discarded, as in HF.
func (e *Encoding) truncate(maxLen, stride int) {
	n := e.Len()
	if maxLen >= n {
		return
	}
	if maxLen == 0 {
		c := *e
		c.Overflowing = nil
		*e = Encoding{Overflowing: []*Encoding{&c}}
		return
	}
	step := maxLen - stride // > 0, checked by the caller
	first := e.slice(0, maxLen)
	for start := step; maxLen+start-step < n; start += step {
		first.Overflowing = append(first.Overflowing, e.slice(start, min(start+maxLen, n)))
	}
	*e = *first
}

// mergeWith appends p to e. Overflowing windows are combined exactly as HF's
// Encoding::merge_with does: every window of e with p and with each window of
// p, then e itself with each window of p. This recursion is what produces
// "[CLS] question [SEP] window_k [SEP]" for every window of a truncated
// context in QA, and the (nested) cross product when both texts overflow.
func (e *Encoding) mergeWith(p *Encoding) {
	var ovs []*Encoding
	for _, so := range e.Overflowing {
		n := so.clone()
		n.mergeWith(p.clone())
		ovs = append(ovs, n)
		for _, po := range p.Overflowing {
			n := so.clone()
			n.mergeWith(po.clone())
			ovs = append(ovs, n)
		}
	}
	for _, po := range p.Overflowing {
		n := e.clone()
		n.mergeWith(po.clone())
		ovs = append(ovs, n)
	}
	e.IDs = append(e.IDs, p.IDs...)
	e.Tokens = append(e.Tokens, p.Tokens...)
	e.TypeIDs = append(e.TypeIDs, p.TypeIDs...)
	e.AttentionMask = append(e.AttentionMask, p.AttentionMask...)
	e.SpecialTokensMask = append(e.SpecialTokensMask, p.SpecialTokensMask...)
	e.Offsets = append(e.Offsets, p.Offsets...)
	e.ByteOffsets = append(e.ByteOffsets, p.ByteOffsets...)
	e.WordIDs = append(e.WordIDs, p.WordIDs...)
	e.SequenceIDs = append(e.SequenceIDs, p.SequenceIDs...)
	e.Overflowing = ovs
}

// setSequence sets every type id and sequence id, in overflowing windows too.
func (e *Encoding) setSequence(typeID, seq int) {
	for i := range e.IDs {
		e.TypeIDs[i] = typeID
		e.SequenceIDs[i] = seq
	}
	for _, o := range e.Overflowing {
		o.setSequence(typeID, seq)
	}
}

// pad appends (or, left, prepends) padding up to length n, in overflowing
// windows too.
func (e *Encoding) pad(n int, left bool, id, typeID int, tok string) {
	for _, o := range e.Overflowing {
		o.pad(n, left, id, typeID, tok)
	}
	k := n - e.Len()
	if k <= 0 {
		return
	}
	p := &Encoding{}
	for range k {
		p.appendToken(id, tok, typeID, 1, Offset{}, Offset{}, -1, -1)
	}
	for i := range p.AttentionMask {
		p.AttentionMask[i] = 0
	}
	if !left {
		ov := e.Overflowing
		e.Overflowing = nil
		e.mergeWith(p)
		e.Overflowing = ov
		return
	}
	ov := e.Overflowing
	e.Overflowing = nil
	p.mergeWith(e)
	*e = *p
	e.Overflowing = ov
}
