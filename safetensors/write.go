package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/kiln-ml/kiln/tensor"
)

// Write writes tensors in the layout of the Rust crate's serialize: data
// sorted by decreasing dtype alignment, then by name; the header lists
// "__metadata__" first (keys sorted) and then the tensors in data order, as
// compact JSON padded with spaces to a multiple of 8 bytes. The same input
// always gives the same bytes.
func Write(w io.Writer, tensors map[string]Raw, metadata map[string]string) error {
	names := make([]string, 0, len(tensors))
	for name, r := range tensors {
		if name == "__metadata__" {
			return fmt.Errorf("safetensors: %q is reserved and cannot name a tensor", name)
		}
		if !r.DType.Valid() {
			return fmt.Errorf("safetensors: tensor %q: unknown dtype %q", name, string(r.DType))
		}
		n, err := elems(r.Shape)
		if err != nil {
			return fmt.Errorf("safetensors: tensor %q: %v", name, err)
		}
		if n*r.DType.Size() != len(r.Data) {
			return fmt.Errorf("safetensors: tensor %q: %d bytes for %s%v", name, len(r.Data), r.DType, r.Shape)
		}
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := tensors[names[i]], tensors[names[j]]
		if ra, rb := rank[a.DType], rank[b.DType]; ra != rb {
			return ra > rb
		}
		return names[i] < names[j]
	})

	// Build the header by hand so that the key order is the data order.
	var hdr bytes.Buffer
	hdr.WriteByte('{')
	if metadata != nil {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		hdr.WriteString(`"__metadata__":{`)
		for i, k := range keys {
			if i > 0 {
				hdr.WriteByte(',')
			}
			writeJSONString(&hdr, k)
			hdr.WriteByte(':')
			writeJSONString(&hdr, metadata[k])
		}
		hdr.WriteByte('}')
	}
	var offset int64
	for i, name := range names {
		r := tensors[name]
		if i > 0 || metadata != nil {
			hdr.WriteByte(',')
		}
		writeJSONString(&hdr, name)
		hdr.WriteString(`:{"dtype":"` + string(r.DType) + `","shape":[`)
		for j, d := range r.Shape {
			if j > 0 {
				hdr.WriteByte(',')
			}
			hdr.WriteString(strconv.Itoa(d))
		}
		end := offset + int64(len(r.Data))
		fmt.Fprintf(&hdr, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}

	bw := bufio.NewWriterSize(w, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(hdr.Len()))
	bw.Write(lenBuf[:])
	bw.Write(hdr.Bytes())
	for _, name := range names {
		bw.Write(tensors[name].Data)
	}
	return bw.Flush()
}

// writeJSONString writes s as serde_json does: UTF-8 as is, escaping only
// quotes, backslashes and control characters. (encoding/json would also
// escape <, >, & and U+2028/9, giving different bytes from Python.)
func writeJSONString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, c := range []byte(s) {
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c < 0x20:
			fmt.Fprintf(b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// SaveOptions controls Save.
type SaveOptions struct {
	// DType is how float32 tensors are stored: F32 (the default), F16, BF16
	// or F64. Float64 tensors are always F64, int64 tensors I64 and bool
	// tensors BOOL, as save_pretrained keeps each parameter's dtype.
	DType DType
	// Metadata is the header's "__metadata__"; nil means {"format": "pt"},
	// which transformers' from_pretrained requires.
	Metadata map[string]string
}

// Save writes tensors to path (through a temporary file renamed into place,
// so a crash never leaves a half-written file under the final name). As the
// Python library's save_file does, it refuses two names sharing one tensor:
// drop tied duplicates first (checkpoint.Save does, as save_pretrained does).
func Save(path string, tensors map[string]*tensor.Tensor, opts *SaveOptions) error {
	raws, err := EncodeAll(tensors, opts)
	if err != nil {
		return err
	}
	meta := map[string]string{"format": "pt"}
	if opts != nil && opts.Metadata != nil {
		meta = opts.Metadata
	}
	return WriteFile(path, raws, meta)
}

// EncodeAll converts tensors for writing, as Save does.
func EncodeAll(tensors map[string]*tensor.Tensor, opts *SaveOptions) (map[string]Raw, error) {
	dt := F32
	if opts != nil && opts.DType != "" {
		dt = opts.DType
	}
	if dt != F32 && dt != F16 && dt != BF16 && dt != F64 {
		return nil, fmt.Errorf("safetensors: cannot store float tensors as %s", dt)
	}
	owner := map[*tensor.Tensor]string{}
	raws := make(map[string]Raw, len(tensors))
	for _, name := range sortedKeys(tensors) {
		t := tensors[name]
		if other, shared := owner[t]; shared {
			return nil, fmt.Errorf("safetensors: tensors %q and %q are the same tensor; store it once (drop the tied name)", other, name)
		}
		owner[t] = name
		want := dt
		switch t.DType() {
		case tensor.Int64:
			want = I64
		case tensor.Bool:
			want = BOOL
		case tensor.Float64:
			want = F64
		}
		r, err := Encode(t, want)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %v", name, err)
		}
		raws[name] = r
	}
	return raws, nil
}

// WriteFile writes raw tensors to path atomically (temporary file + rename).
func WriteFile(path string, tensors map[string]Raw, metadata map[string]string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := Write(tmp, tensors, metadata); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// WriteIndex writes a sharded checkpoint's index as transformers does
// (json.dumps(index, indent=2, sort_keys=True) plus a newline):
// {"metadata": {"total_size": N}, "weight_map": {name: shard}}.
func WriteIndex(path string, totalSize int64, weightMap map[string]string) error {
	idx := map[string]any{
		"metadata":   map[string]any{"total_size": totalSize},
		"weight_map": weightMap,
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(idx); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
