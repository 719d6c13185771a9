package checkpoint

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/safetensors"
	"github.com/kiln-ml/kiln/tensor"
)

// Reading pytorch_model.bin: the zip archive torch.save writes since 1.6
// (<prefix>/data.pkl, <prefix>/data/<key> for each storage, stored without
// compression), decoded with the restricted unpickler in pickle.go.

// storageTypes maps torch's legacy typed-storage classes (the form in which
// torch.save names a storage's dtype) to the element types they hold.
var storageTypes = map[string]safetensors.DType{
	"FloatStorage":    safetensors.F32,
	"HalfStorage":     safetensors.F16,
	"BFloat16Storage": safetensors.BF16,
	"DoubleStorage":   safetensors.F64,
	"LongStorage":     safetensors.I64,
	"IntStorage":      safetensors.I32,
	"ShortStorage":    safetensors.I16,
	"CharStorage":     safetensors.I8,
	"ByteStorage":     safetensors.U8,
	"BoolStorage":     safetensors.BOOL,
}

// storage is a persistent-id reference to one data/<key> record.
type storage struct {
	key   string
	dtype safetensors.DType
	numel int64
	data  []byte
}

// storageLoader returns the nbytes of record key, or an error.
type storageLoader func(key string, nbytes int64) ([]byte, error)

// torchReader holds one file's state while its pickle runs.
type torchReader struct {
	u      *unpickler
	load   storageLoader
	cache  map[string]*storage
	budget int64 // bytes of tensor data still allowed to be produced
}

// allowed lists the globals a state dict's pickle may name, for errors.
const allowed = "collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter(_with_state) and the torch.*Storage classes"

// global resolves a GLOBAL against the allow-list.
func (r *torchReader) global(g pyGlobal) (reducer, error) {
	switch {
	case g.module == "collections" && g.name == "OrderedDict":
		return func(args pyTuple) (any, error) {
			d := newDict()
			if len(args) == 0 {
				return d, nil
			}
			return nil, errors.New("OrderedDict with initial items is not used by state dicts")
		}, nil
	case g.module == "torch._utils" && g.name == "_rebuild_tensor_v2":
		return r.rebuildTensor, nil
	case g.module == "torch._utils" && (g.name == "_rebuild_parameter" || g.name == "_rebuild_parameter_with_state"):
		return func(args pyTuple) (any, error) {
			if len(args) < 3 {
				return nil, fmt.Errorf("%d arguments, want 3 or 4", len(args))
			}
			t, ok := args[0].(*tensor.Tensor)
			if !ok {
				return nil, fmt.Errorf("data is a %s, not a tensor", typeName(args[0]))
			}
			return t, nil
		}, nil
	case g.module == "torch" && storageTypes[g.name] != "":
		return func(pyTuple) (any, error) {
			return nil, errors.New("storage classes are only valid inside a persistent id")
		}, nil
	}
	return nil, fmt.Errorf("pickle global %q is not allowed (a state dict needs only %s)", g.String(), allowed)
}

// persistentLoad resolves ('storage', torch.XStorage, key, location, numel).
func (r *torchReader) persistentLoad(pid any) (any, error) {
	t, ok := pid.(pyTuple)
	if !ok || len(t) != 5 || t[0] != "storage" {
		return nil, fmt.Errorf("persistent id %s is not ('storage', type, key, location, numel)", typeName(pid))
	}
	cls, ok1 := t[1].(callable)
	key, ok2 := t[2].(string)
	numel, ok3 := t[4].(int64)
	if !ok1 || !ok2 || !ok3 || cls.g.module != "torch" || storageTypes[cls.g.name] == "" {
		return nil, errors.New("malformed storage persistent id")
	}
	dt := storageTypes[cls.g.name]
	if s, ok := r.cache[key]; ok {
		if s.dtype != dt || s.numel != numel {
			return nil, fmt.Errorf("storage %q referenced as %s[%d] and as %s[%d]", key, s.dtype, s.numel, dt, numel)
		}
		return s, nil
	}
	if numel < 0 || numel > math.MaxInt64/8 {
		return nil, fmt.Errorf("storage %q: bad element count %d", key, numel)
	}
	data, err := r.load(key, numel*int64(dt.Size()))
	if err != nil {
		return nil, fmt.Errorf("storage %q: %w", key, err)
	}
	s := &storage{key: key, dtype: dt, numel: numel, data: data}
	r.cache[key] = s
	return s, nil
}

// rebuildTensor is _rebuild_tensor_v2(storage, storage_offset, size, stride,
// requires_grad, backward_hooks[, metadata]): a strided view of a storage,
// copied out into a contiguous engine tensor after every index is checked to
// fall inside the storage.
func (r *torchReader) rebuildTensor(args pyTuple) (any, error) {
	name := r.u.nearestString()
	fail := func(format string, a ...any) error {
		return fmt.Errorf("tensor %q: "+format, append([]any{name}, a...)...)
	}
	if len(args) != 6 && len(args) != 7 {
		return nil, fail("%d arguments, want 6 or 7", len(args))
	}
	st, ok := args[0].(*storage)
	if !ok {
		return nil, fail("storage argument is a %s", typeName(args[0]))
	}
	offset, ok := args[1].(int64)
	if !ok || offset < 0 {
		return nil, fail("bad storage offset %v", args[1])
	}
	size, err1 := intTuple(args[2])
	stride, err2 := intTuple(args[3])
	if err := errors.Join(err1, err2); err != nil {
		return nil, fail("%v", err)
	}
	if len(size) != len(stride) || len(size) > 64 {
		return nil, fail("size %v and stride %v do not match", size, stride)
	}
	// Element count, and the last storage index the view touches.
	numel, last := int64(1), offset
	for i := range size {
		if size[i] < 0 || stride[i] < 0 {
			return nil, fail("negative size or stride (size %v, stride %v)", size, stride)
		}
		hi, lo := bits.Mul64(uint64(numel), uint64(size[i]))
		if hi != 0 || lo > math.MaxInt64/8 {
			return nil, fail("element count of size %v overflows", size)
		}
		numel = int64(lo)
	}
	if numel > 0 {
		for i := range size {
			hi, lo := bits.Mul64(uint64(size[i]-1), uint64(stride[i]))
			if hi != 0 || lo > math.MaxInt64-uint64(last) {
				return nil, fail("size %v with stride %v overflows", size, stride)
			}
			last += int64(lo)
		}
		if last >= st.numel {
			return nil, fail("size %v, stride %v, offset %d reach element %d of storage %q, which has %d", size, stride, offset, last, st.key, st.numel)
		}
	}
	es := int64(st.dtype.Size())
	if numel*es > r.budget {
		return nil, fail("size %v: the file's tensors add up to more data than the file could hold (%d bytes over)", size, numel*es-r.budget)
	}
	r.budget -= numel * es
	shape := make([]int, len(size))
	for i, s := range size {
		shape[i] = int(s)
	}
	raw := safetensors.Raw{DType: st.dtype, Shape: shape, Data: gather(st.data, es, offset, size, stride, numel)}
	t, err := raw.Decode()
	if err != nil {
		return nil, fail("%v", err)
	}
	return t, nil
}

// gather copies the strided view into contiguous row-major bytes. All
// indices were checked against the storage by the caller.
func gather(src []byte, es, offset int64, size, stride []int64, numel int64) []byte {
	out := make([]byte, numel*es)
	if numel == 0 {
		return out
	}
	contiguous, want := true, int64(1)
	for i := len(size) - 1; i >= 0; i-- {
		if size[i] != 1 && stride[i] != want {
			contiguous = false
		}
		want *= size[i]
	}
	if contiguous {
		copy(out, src[offset*es:(offset+numel)*es])
		return out
	}
	idx := make([]int64, len(size)) // odometer over the view's indices
	at := offset
	for n := int64(0); n < numel; n++ {
		copy(out[n*es:(n+1)*es], src[at*es:(at+1)*es])
		for d := len(size) - 1; d >= 0; d-- {
			idx[d]++
			at += stride[d]
			if idx[d] < size[d] {
				break
			}
			at -= stride[d] * size[d]
			idx[d] = 0
		}
	}
	return out
}

func intTuple(v any) ([]int64, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("size/stride is a %s, not a tuple", typeName(v))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		if out[i], ok = x.(int64); !ok {
			return nil, fmt.Errorf("size/stride element is a %s", typeName(x))
		}
	}
	return out, nil
}

// nearestString is the string closest to the top of the stack: while a
// state dict's tensor is being rebuilt, that is its key (used in errors).
// Only the top few entries are looked at, so that a hostile pickle cannot
// make each rebuild scan a huge stack.
func (u *unpickler) nearestString() string {
	for i := len(u.stack) - 1; i >= 0 && i >= len(u.stack)-8; i-- {
		if s, ok := u.stack[i].(string); ok {
			return s
		}
	}
	return "?"
}

// decodeStateDict runs a state dict's pickle. budget bounds the bytes of
// tensor data it may produce (views may share storages, so this is what
// keeps a small file from asking for huge tensors).
func decodeStateDict(pkl []byte, load storageLoader, budget int64) (StateDict, error) {
	r := &torchReader{load: load, cache: map[string]*storage{}, budget: budget}
	u := &unpickler{data: pkl, globals: r.global, persist: r.persistentLoad}
	r.u = u
	v, err := u.run()
	if err != nil {
		return nil, err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("pickle holds a %s, not a state dict", typeName(v))
	}
	sd := make(StateDict, len(d.keys))
	for _, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("state dict key %v is a %s, not a string", k, typeName(k))
		}
		t, ok := d.vals[k].(*tensor.Tensor)
		if !ok {
			return nil, fmt.Errorf("state dict entry %q is a %s, not a tensor", name, typeName(d.vals[k]))
		}
		sd[name] = t
	}
	return sd, nil
}

// LoadTorch reads a pytorch_model.bin (or any zip-format torch.save of a
// flat state dict) without executing anything: the pickle may name only the
// globals a state dict needs, and every storage and view is bounds-checked
// against the archive before it is copied. Float16 and bfloat16 weights
// become float32, as with safetensors.
func LoadTorch(path string) (StateDict, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	sd, err := ParseTorch(b)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return sd, nil
}

// ParseTorch is LoadTorch on the file's bytes.
func ParseTorch(b []byte) (StateDict, error) {
	if !bytes.HasPrefix(b, []byte("PK\x03\x04")) {
		if len(b) > 0 && b[0] == 0x80 {
			return nil, errors.New("legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a newer torch")
		}
		return nil, errors.New("not a zip-format torch.save file")
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("zip: %v", err)
	}
	entries := map[string]*zip.File{}
	var pkls []string
	for _, f := range zr.File {
		entries[f.Name] = f
		if dir, ok := strings.CutSuffix(f.Name, "/data.pkl"); ok && !strings.Contains(dir, "/") {
			pkls = append(pkls, f.Name)
		}
	}
	if len(pkls) != 1 {
		return nil, fmt.Errorf("want one <archive>/data.pkl, found %d", len(pkls))
	}
	sort.Strings(pkls)
	prefix := strings.TrimSuffix(pkls[0], "data.pkl")
	if bo, ok := entries[prefix+"byteorder"]; ok {
		order, err := readEntry(bo, min(16, int64(len(b))))
		if err != nil {
			return nil, err
		}
		if string(order) != "little" {
			return nil, fmt.Errorf("byteorder %q is not supported", order)
		}
	}
	pkl, err := readEntry(entries[pkls[0]], min(maxPickle, int64(len(b))))
	if err != nil {
		return nil, err
	}
	load := func(key string, nbytes int64) ([]byte, error) {
		f, ok := entries[prefix+"data/"+key]
		if !ok {
			return nil, fmt.Errorf("no record %sdata/%s in the archive", prefix, key)
		}
		if f.Method != zip.Store {
			return nil, errors.New("compressed storage records are not supported (torch stores them uncompressed)")
		}
		if f.UncompressedSize64 != uint64(nbytes) {
			return nil, fmt.Errorf("record holds %d bytes, the pickle expects %d", f.UncompressedSize64, nbytes)
		}
		return readEntry(f, int64(len(b))) // stored: never more than the file
	}
	return decodeStateDict(pkl, load, 4*int64(len(b))+1<<16)
}

// readEntry reads a zip entry of at most limit bytes (limit is at most the
// archive's size).
func readEntry(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s: %d bytes, over the %d-byte limit", f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", f.Name, err)
	}
	defer rc.Close()
	var out []byte
	if off, err := f.DataOffset(); err == nil && f.Method == zip.Store && f.CompressedSize64 == f.UncompressedSize64 &&
		uint64(off) <= uint64(limit) && f.UncompressedSize64 <= uint64(limit)-uint64(off) {
		// Stored bytes that lie inside the file: the size is real.
		out = make([]byte, f.UncompressedSize64)
		_, err = io.ReadFull(rc, out)
	} else {
		// Compressed: read what is really there rather than allocating
		// the declared size, which a crafted archive can inflate.
		out, err = io.ReadAll(io.LimitReader(rc, int64(f.UncompressedSize64)))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", f.Name, err)
	}
	if uint64(len(out)) != f.UncompressedSize64 {
		return nil, fmt.Errorf("%s: %d bytes, the archive declares %d", f.Name, len(out), f.UncompressedSize64)
	}
	return out, nil
}
