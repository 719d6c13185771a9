// Package safetensors reads and writes Hugging Face's safetensors format: an
// 8-byte little-endian header length N, N bytes of JSON header, then the raw
// little-endian tensor bytes. The header maps each tensor name to its dtype,
// shape and [begin, end) byte offsets in the data region, plus an optional
// "__metadata__" map of strings ({"format": "pt"} for PyTorch files).
//
// Files are untrusted input. Open reads only the header, validates it against
// the file size, and allocates nothing larger than the header (itself at most
// 100 MB and at most the file size) until every tensor's offsets, dtype and
// shape are known to be consistent: offsets tile the data region exactly, in
// order, with no overlap, gap or tail, and each byte range is exactly the
// element count times the dtype size, computed without overflow. Every error
// names the file and, where there is one, the tensor.
//
//	f, err := safetensors.Open("model.safetensors")
//	...
//	defer f.Close()
//	w, err := f.Tensor("bert.embeddings.word_embeddings.weight") // float32, even if stored as BF16
//
// Writing follows the Rust crate byte for byte (tensors laid out by
// decreasing dtype alignment then name, header padded with spaces to a
// multiple of 8), so Python's safetensors and transformers read the files.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/kiln-ml/kiln/tensor"
)

// MaxHeaderSize is the largest header accepted, as in the Rust crate.
const MaxHeaderSize = 100_000_000

// Info describes one stored tensor.
type Info struct {
	DType DType
	Shape []int
	// Begin and End are byte offsets into the data region (after the header).
	Begin, End int64
}

// File is an opened, validated safetensors file. Its tensors are read on
// demand with Raw or Tensor.
type File struct {
	// Name is the file's name as given to Open or Parse, used in errors.
	Name string
	// Metadata is the header's "__metadata__" map (nil when absent).
	Metadata map[string]string
	infos    map[string]Info
	names    []string // sorted
	r        io.ReaderAt
	base     int64 // offset of the data region
	closer   io.Closer
}

// Open opens and validates path. Close the file when done.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Parse(path, fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// Close releases the underlying file, if Open opened one.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// Parse reads and validates the header of the size-byte file r. name is used
// in error messages only.
func Parse(name string, r io.ReaderAt, size int64) (*File, error) {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("safetensors: %s: "+format, append([]any{name}, a...)...)
	}
	var lenBuf [8]byte
	if size < 8 {
		return nil, fail("file is %d bytes, shorter than the 8-byte header length", size)
	}
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fail("reading header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, fail("header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if n > uint64(size-8) {
		return nil, fail("header length %d runs past the end of the %d-byte file", n, size)
	}
	hdr := make([]byte, n) // bounded by both checks above
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fail("reading header: %v", err)
	}
	f := &File{Name: name, r: r, base: 8 + int64(n), infos: map[string]Info{}}
	if err := f.parseHeader(hdr); err != nil {
		return nil, fail("%v", err)
	}
	if err := f.validate(size - f.base); err != nil {
		return nil, fail("%v", err)
	}
	return f, nil
}

// parseHeader decodes the JSON header token by token so that a duplicate
// name is caught (encoding/json and serde would keep the last one).
func (f *File) parseHeader(hdr []byte) error {
	if !utf8.Valid(hdr) {
		return errors.New("header is not valid UTF-8")
	}
	if len(hdr) == 0 || hdr[0] != '{' {
		return errors.New("header does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("header JSON: %v", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("header JSON: %v", err)
		}
		name, _ := tok.(string) // object keys are always strings
		if seen[name] {
			return fmt.Errorf("tensor %q: name appears twice in the header", name)
		}
		seen[name] = true
		if name == "__metadata__" {
			if err := dec.Decode(&f.Metadata); err != nil {
				return fmt.Errorf("__metadata__: want a map of strings: %v", err)
			}
			continue
		}
		var fields map[string]json.RawMessage
		if err := dec.Decode(&fields); err != nil {
			return fmt.Errorf("tensor %q: header JSON: %v", name, err)
		}
		info, err := decodeInfo(fields)
		if err != nil {
			return fmt.Errorf("tensor %q: %v", name, err)
		}
		f.infos[name] = info
		f.names = append(f.names, name)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return fmt.Errorf("header JSON: %v", err)
	}
	// Only the writer's space padding may follow.
	if rest := bytes.TrimLeft(hdr[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return fmt.Errorf("header has %d bytes of trailing data after the JSON object", len(rest))
	}
	sort.Strings(f.names)
	return nil
}

// decodeInfo checks one header entry's fields: a known dtype, a shape of
// non-negative dims whose byte size fits in int64, and two offsets.
func decodeInfo(fields map[string]json.RawMessage) (Info, error) {
	var (
		dt      string
		shape   []uint64
		offsets []uint64
	)
	for _, k := range []string{"dtype", "shape", "data_offsets"} {
		if _, ok := fields[k]; !ok {
			return Info{}, fmt.Errorf("missing %q", k)
		}
	}
	if err := json.Unmarshal(fields["dtype"], &dt); err != nil {
		return Info{}, fmt.Errorf("dtype: %v", err)
	}
	d := DType(dt)
	if !d.Valid() {
		return Info{}, fmt.Errorf("unknown dtype %q", dt)
	}
	if string(fields["shape"]) == "null" {
		return Info{}, errors.New("shape is null")
	}
	if err := json.Unmarshal(fields["shape"], &shape); err != nil {
		return Info{}, fmt.Errorf("shape: want a list of non-negative integers: %v", err)
	}
	if err := json.Unmarshal(fields["data_offsets"], &offsets); err != nil || len(offsets) != 2 {
		return Info{}, fmt.Errorf("data_offsets: want two non-negative integers, got %s", fields["data_offsets"])
	}
	// Element count and byte size, checked for overflow in uint64 and then
	// against int64 so that every later int conversion is exact.
	nb := uint64(d.Size())
	for _, dim := range shape {
		hi, lo := bits.Mul64(nb, dim)
		if hi != 0 || lo > math.MaxInt64 {
			return Info{}, fmt.Errorf("shape %v: byte size overflows", shape)
		}
		nb = lo
	}
	if nb == 0 {
		// A zero-size tensor may carry a huge dim; still bound each dim.
		for _, dim := range shape {
			if dim > math.MaxInt32 {
				return Info{}, fmt.Errorf("shape %v: dimension too large", shape)
			}
		}
	}
	begin, end := offsets[0], offsets[1]
	if begin > end || end > math.MaxInt64 {
		return Info{}, fmt.Errorf("data_offsets [%d, %d] are not an increasing byte range", begin, end)
	}
	if end-begin != nb {
		return Info{}, fmt.Errorf("data_offsets [%d, %d] hold %d bytes but %s%v needs %d", begin, end, end-begin, d, shape, nb)
	}
	info := Info{DType: d, Shape: make([]int, len(shape)), Begin: int64(begin), End: int64(end)}
	for i, dim := range shape {
		info.Shape[i] = int(dim)
	}
	return info, nil
}

// validate checks that the tensors tile the dataLen-byte data region exactly.
func (f *File) validate(dataLen int64) error {
	order := append([]string(nil), f.names...)
	sort.SliceStable(order, func(i, j int) bool {
		a, b := f.infos[order[i]], f.infos[order[j]]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	var at int64
	prev := ""
	for _, name := range order {
		info := f.infos[name]
		switch {
		case info.End > dataLen:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] run past the end of the %d-byte data region", name, info.Begin, info.End, dataLen)
		case info.Begin < at:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q, which ends at %d", name, info.Begin, info.End, prev, at)
		case info.Begin > at:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] leave bytes [%d, %d) of the data region unused", name, info.Begin, info.End, at, info.Begin)
		}
		at, prev = info.End, name
	}
	if at != dataLen {
		return fmt.Errorf("data region is %d bytes but the tensors cover only %d", dataLen, at)
	}
	return nil
}

// Names returns the tensor names, sorted.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Info returns the header entry of name.
func (f *File) Info(name string) (Info, bool) {
	info, ok := f.infos[name]
	if ok {
		info.Shape = append([]int{}, info.Shape...)
	}
	return info, ok
}

// Raw reads one tensor's stored bytes.
func (f *File) Raw(name string) (Raw, error) {
	info, ok := f.infos[name]
	if !ok {
		return Raw{}, fmt.Errorf("safetensors: %s: no tensor %q", f.Name, name)
	}
	data := make([]byte, info.End-info.Begin) // validated against the file size
	if _, err := f.r.ReadAt(data, f.base+info.Begin); err != nil {
		return Raw{}, fmt.Errorf("safetensors: %s: tensor %q: %v", f.Name, name, err)
	}
	return Raw{DType: info.DType, Shape: append([]int{}, info.Shape...), Data: data}, nil
}

// Tensor reads one tensor and converts it as Raw.Decode does.
func (f *File) Tensor(name string) (*tensor.Tensor, error) {
	raw, err := f.Raw(name)
	if err != nil {
		return nil, err
	}
	t, err := raw.Decode()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: %v", f.Name, name, err)
	}
	return t, nil
}

// Tensors reads every tensor.
func (f *File) Tensors() (map[string]*tensor.Tensor, error) {
	out := make(map[string]*tensor.Tensor, len(f.names))
	for _, name := range f.names {
		t, err := f.Tensor(name)
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// Load reads every tensor of a single file (float types as float32).
func Load(path string) (map[string]*tensor.Tensor, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Tensors()
}

// Index is a sharded checkpoint's index file (model.safetensors.index.json,
// and the same layout for pytorch_model.bin.index.json).
type Index struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// ReadIndex reads and checks an index file: every shard must be a plain file
// name in the index's directory (no path separators or "..").
func ReadIndex(path string) (*Index, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var idx Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("safetensors: %s: %v", path, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("safetensors: %s: empty or missing weight_map", path)
	}
	for name, shard := range idx.WeightMap {
		if shard == "" || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: shard %q is not a plain file name", path, name, shard)
		}
	}
	return &idx, nil
}

// Shards returns the index's shard file names, sorted.
func (idx *Index) Shards() []string {
	set := map[string]bool{}
	for _, s := range idx.WeightMap {
		set[s] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// LoadSharded reads a model.safetensors.index.json and every shard it names.
// A tensor the index assigns to a shard must be in that shard, and no name
// may appear in two shards; a tensor a shard holds beyond the index is kept
// (Hugging Face loads whole shards, so it shows up as an unexpected key).
func LoadSharded(indexPath string) (map[string]*tensor.Tensor, error) {
	idx, err := ReadIndex(indexPath)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(indexPath)
	out := map[string]*tensor.Tensor{}
	from := map[string]string{}
	for _, shard := range idx.Shards() {
		ts, err := Load(filepath.Join(dir, shard))
		if err != nil {
			return nil, err
		}
		for name, t := range ts {
			if other, dup := from[name]; dup {
				return nil, fmt.Errorf("safetensors: %s: tensor %q is in both %s and %s", indexPath, name, other, shard)
			}
			from[name] = shard
			out[name] = t
		}
	}
	for name, shard := range idx.WeightMap {
		if from[name] != shard {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: the index puts it in %s, which does not hold it", indexPath, name, shard)
		}
	}
	return out, nil
}
