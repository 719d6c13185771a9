package tokenizer

// postProcessor adds special tokens around the encoded texts and sets their
// type ids (HF's post_processor).
type postProcessor interface {
	// process combines a and b (nil for a single text).
	process(a, b *Encoding, specials bool) *Encoding
	// added returns how many special tokens process adds.
	added(pair bool) int
}

// piece is one element of a template: a special token or a text.
type piece struct {
	special string // "" for a text
	seq     int    // 0 for $A, 1 for $B
	typeID  int
}

// specialToken is a template special token; HF allows several ids per name.
type specialToken struct {
	ids    []int
	tokens []string
}

// templateProcessor is HF's TemplateProcessing; BertProcessing and
// RobertaProcessing are expressed as templates too.
type templateProcessor struct {
	single, pair []piece
	specials     map[string]specialToken
	// trim applies byte-level offset trimming to the texts first
	// (RobertaProcessing with trim_offsets).
	trim           bool
	addPrefixSpace bool
}

func (p *templateProcessor) added(pair bool) int {
	tpl := p.single
	if pair {
		tpl = p.pair
	}
	n := 0
	for _, pc := range tpl {
		if pc.special != "" {
			n += len(p.specials[pc.special].ids)
		}
	}
	return n
}

func (p *templateProcessor) process(a, b *Encoding, specials bool) *Encoding {
	if p.trim {
		trimOffsets(a, p.addPrefixSpace)
		if b != nil {
			trimOffsets(b, p.addPrefixSpace)
		}
	}
	tpl := p.single
	if b != nil {
		tpl = p.pair
	}
	// Without overflowing windows nothing needs HF's merge recursion: append
	// into one preallocated encoding (the common, fast case).
	fast := len(a.Overflowing) == 0 && (b == nil || len(b.Overflowing) == 0)
	out := &Encoding{}
	if fast {
		n := a.Len() + p.added(b != nil)
		if b != nil {
			n += b.Len()
		}
		out.grow(n)
	}
	for _, pc := range tpl {
		if pc.special == "" {
			e := a
			if pc.seq == 1 {
				e = b
			}
			e.setSequence(pc.typeID, pc.seq)
			if fast {
				out.mergeWith(e)
			} else {
				out.mergeWith(e.clone())
			}
			continue
		}
		if !specials {
			continue
		}
		st := p.specials[pc.special]
		se := &Encoding{}
		for i, id := range st.ids {
			se.appendToken(id, st.tokens[i], pc.typeID, 1, Offset{}, Offset{}, -1, -1)
		}
		out.mergeWith(se)
	}
	return out
}

// byteLevelProcessor is HF's ByteLevel post-processor: no special tokens,
// optional offset trimming.
type byteLevelProcessor struct{ trim, addPrefixSpace bool }

func (byteLevelProcessor) added(bool) int { return 0 }

func (p byteLevelProcessor) process(a, b *Encoding, _ bool) *Encoding {
	if p.trim {
		trimOffsets(a, p.addPrefixSpace)
		if b != nil {
			trimOffsets(b, p.addPrefixSpace)
		}
	}
	a.setSequence(0, 0)
	if b == nil {
		return a
	}
	b.setSequence(1, 1) // HF's default for processors without a template
	a.mergeWith(b)
	return a
}

// trimOffsets is HF's byte-level process_offsets: offsets of tokens that
// start or end with spaces ('Ġ') are shrunk so they cover only the word,
// except the space HF itself added with add_prefix_space.
func trimOffsets(e *Encoding, addPrefixSpace bool) {
	for _, o := range e.Overflowing {
		trimOffsets(o, addPrefixSpace)
	}
	for i, tok := range e.Tokens {
		lead, trail := 0, 0
		rs := []rune(tok)
		for _, r := range rs {
			if r != 'Ġ' && !isSpace(r) {
				break
			}
			lead++
		}
		for j := len(rs) - 1; j >= 0; j-- {
			if rs[j] != 'Ġ' && !isSpace(rs[j]) {
				break
			}
			trail++
		}
		if lead == 0 && trail == 0 {
			continue
		}
		for _, off := range []*Offset{&e.Offsets[i], &e.ByteOffsets[i]} {
			l := lead
			if l > 0 {
				if (i == 0 || off.Start == 0) && addPrefixSpace && l == 1 {
					l = 0
				}
				off.Start = min(off.Start+l, off.End)
			}
			if trail > 0 && off.End >= trail {
				off.End = max(off.End-trail, off.Start)
			}
		}
	}
}
