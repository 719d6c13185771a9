package tokenizer

import (
	"hash/maphash"
	"sync"
	"unicode/utf8"
)

// byteToRune is GPT-2's bytes_to_unicode table: printable Latin-1 bytes map to
// themselves and the remaining 68 bytes (controls, space, 0x7F-0xA0, 0xAD) to
// U+0100 upwards, in byte order. This makes every byte sequence a string of
// visible characters, so ' ' becomes 'Ġ' (U+0120) and '\n' becomes 'Ċ'.
var byteToRune, runeToByte = func() ([256]rune, map[rune]byte) {
	var b2r [256]rune
	r2b := map[rune]byte{}
	next := rune(256)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			b2r[b] = rune(b)
		} else {
			b2r[b] = next
			next++
		}
		r2b[b2r[b]] = byte(b)
	}
	return b2r, r2b
}()

// merge is the result of merging a pair of symbols.
type merge struct{ rank, id int32 }

// bpe is a byte-pair-encoding model. In byte-level mode (GPT-2, RoBERTa) a
// piece starts as one symbol per byte; otherwise one symbol per character.
// Merges are applied lowest rank first. Because a merged symbol is created by
// its own merge, any pair containing it ranks after the merge that made it, so
// "repeatedly merge the best-ranked adjacent pair" (HF's heap) and GPT-2's
// "merge every occurrence of the best pair" give the same result.
type bpe struct {
	vocab     map[string]int32
	merges    map[uint64]merge // key: left id << 32 | right id
	byteLevel bool
	byteID    [256]int32 // byte-level start symbols; -1 if absent
	unk       int32      // -1 when the model has no unknown token
	fuseUnk   bool
	cache     bpeCache
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func newBPE(vocab map[string]int, merges [][2]string, unk string, byteLevel, fuseUnk bool) (*bpe, error) {
	m := &bpe{vocab: make(map[string]int32, len(vocab)), merges: make(map[uint64]merge, len(merges)), byteLevel: byteLevel, unk: -1, fuseUnk: fuseUnk}
	for t, id := range vocab {
		m.vocab[t] = int32(id)
	}
	for i, mg := range merges {
		a, okA := m.vocab[mg[0]]
		b, okB := m.vocab[mg[1]]
		c, okC := m.vocab[mg[0]+mg[1]]
		if !okA || !okB || !okC {
			return nil, errorf("merge %d (%q %q) uses a token missing from the vocabulary", i+1, mg[0], mg[1])
		}
		if _, dup := m.merges[pairKey(a, b)]; !dup {
			m.merges[pairKey(a, b)] = merge{int32(i), c}
		}
	}
	for b := range 256 {
		m.byteID[b] = -1
		if id, ok := m.vocab[string(byteToRune[b])]; ok {
			m.byteID[b] = id
		}
	}
	if unk != "" {
		id, ok := m.vocab[unk]
		if !ok {
			return nil, errorf("unknown token %q is not in the vocabulary", unk)
		}
		m.unk = id
	}
	m.cache.init()
	return m, nil
}

// symbol is a BPE symbol during merging: an id and its byte length.
type symbol struct{ id, n int32 }

func (m *bpe) tokenize(w []byte, dst []token) []token {
	if cached, ok := m.cache.get(w); ok {
		return appendSymbols(dst, cached)
	}
	syms := m.initial(w, make([]symbol, 0, len(w)))
	for len(syms) > 1 {
		best, at := merge{rank: -1}, -1
		for i := 0; i+1 < len(syms); i++ {
			if mg, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok && (at < 0 || mg.rank < best.rank) {
				best, at = mg, i
			}
		}
		if at < 0 {
			break
		}
		syms[at] = symbol{best.id, syms[at].n + syms[at+1].n}
		syms = append(syms[:at+1], syms[at+2:]...)
	}
	m.cache.put(w, syms)
	return appendSymbols(dst, syms)
}

func appendSymbols(dst []token, syms []symbol) []token {
	pos := int32(0)
	for _, s := range syms {
		if s.id >= 0 { // unknown characters without an unk token are dropped, as in HF
			dst = append(dst, token{s.id, pos, pos + s.n})
		}
		pos += s.n
	}
	return dst
}

// initial returns the start symbols of w.
func (m *bpe) initial(w []byte, syms []symbol) []symbol {
	if m.byteLevel {
		for _, b := range w {
			syms = append(syms, symbol{m.byteID[b], 1})
		}
		return syms
	}
	for i := 0; i < len(w); {
		_, n := utf8.DecodeRune(w[i:])
		id, ok := m.vocab[string(w[i:i+n])]
		if !ok {
			id = m.unk
			if m.fuseUnk && id >= 0 && len(syms) > 0 && syms[len(syms)-1].id == id {
				syms[len(syms)-1].n += int32(n)
				i += n
				continue
			}
		}
		syms = append(syms, symbol{id, int32(n)})
		i += n
	}
	return syms
}

// bpeCache memoises the merges of frequent pieces, like HF's BPE cache. It is
// split into shards, each behind its own RWMutex, so concurrent batch encoding
// rarely contends; each shard stops growing at a fixed size (HF also simply
// stops inserting when full) so memory stays bounded.
type bpeCache struct {
	seed   maphash.Seed
	shards [16]struct {
		sync.RWMutex
		m map[string][]symbol
	}
}

const bpeCacheShardSize = 4096

func (c *bpeCache) init() {
	c.seed = maphash.MakeSeed()
	for i := range c.shards {
		c.shards[i].m = make(map[string][]symbol)
	}
}

func (c *bpeCache) shard(w []byte) int { return int(maphash.Bytes(c.seed, w) & 15) }

func (c *bpeCache) get(w []byte) ([]symbol, bool) {
	s := &c.shards[c.shard(w)]
	s.RLock()
	v, ok := s.m[string(w)]
	s.RUnlock()
	return v, ok
}

func (c *bpeCache) put(w []byte, syms []symbol) {
	if len(w) > 256 {
		return // long pieces are rare; do not let them crowd the cache
	}
	s := &c.shards[c.shard(w)]
	s.Lock()
	if len(s.m) < bpeCacheShardSize {
		s.m[string(w)] = append([]symbol(nil), syms...)
	}
	s.Unlock()
}
