package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// A restricted unpickler for the data.pkl of a torch.save'd state dict.
//
// It is written here rather than taken from gopickle because gopickle sizes
// buffers straight from the stream (a 9-byte pickle can ask for exabytes),
// resolves a few globals before any hook can refuse them, and panics on some
// malformed input. This machine interprets only the opcodes that torch.save
// emits for a state dict (protocols 2 to 5), keeps every allocation bounded
// by the input length, and resolves GLOBAL / STACK_GLOBAL against a fixed
// allow-list: anything else is an error naming the global. Nothing is ever
// executed; "calling" an allowed global builds a Go value.

// maxPickle bounds the size of a data.pkl (a state dict's pickle is a few
// hundred bytes per tensor).
const maxPickle = 64 << 20

// Pickle values: nil, bool, int64, float64, string, []byte, pyTuple, *pyList,
// *pyDict, pyGlobal, mark-free Go structs made by the torch layer.
type (
	pyTuple []any
	pyList  struct{ items []any }
	pyDict  struct {
		keys []any
		vals map[any]any // keys are comparable: string, int64, bool, nil, float64
	}
	pyGlobal struct{ module, name string }
)

func (g pyGlobal) String() string { return g.module + "." + g.name }

func newDict() *pyDict { return &pyDict{vals: map[any]any{}} }

func (d *pyDict) set(k, v any) error {
	switch k.(type) {
	case nil, bool, int64, float64, string:
	default:
		return fmt.Errorf("unsupported dict key type %s", typeName(k))
	}
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = v
	return nil
}

// reducer builds the value of an allowed global called with args (REDUCE).
type reducer func(args pyTuple) (any, error)

// unpickler is one run over a pickle stream.
type unpickler struct {
	data    []byte
	pos     int
	stack   []any
	marks   []int // stack heights at each MARK
	memo    map[uint32]any
	globals func(g pyGlobal) (reducer, error) // the allow-list
	persist func(pid any) (any, error)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return "global " + v.(pyGlobal).String()
	}
	return fmt.Sprintf("%T", v)
}

var errTruncated = errors.New("pickle ends early")

func (u *unpickler) take(n uint64) ([]byte, error) {
	if n > uint64(len(u.data)-u.pos) {
		return nil, fmt.Errorf("pickle asks for %d bytes at offset %d, only %d left", n, u.pos, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+int(n)]
	u.pos += int(n)
	return b, nil
}

func (u *unpickler) line() (string, error) {
	i := bytes.IndexByte(u.data[u.pos:], '\n')
	if i < 0 {
		return "", errTruncated
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	lo := 0
	if len(u.marks) > 0 {
		lo = u.marks[len(u.marks)-1]
	}
	if len(u.stack) <= lo {
		return nil, errors.New("pickle stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	lo := 0
	if len(u.marks) > 0 {
		lo = u.marks[len(u.marks)-1]
	}
	if len(u.stack) <= lo {
		return nil, errors.New("pickle stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark pops everything above the last MARK, and the mark.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("pickle has no MARK to pop to")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) uint(n int) (uint64, error) {
	b, err := u.take(uint64(n))
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// run executes the stream to STOP and returns the result.
func (u *unpickler) run() (any, error) {
	if len(u.data) > maxPickle {
		return nil, fmt.Errorf("pickle is %d bytes, over the %d-byte limit", len(u.data), maxPickle)
	}
	u.memo = map[uint32]any{}
	for {
		if u.pos >= len(u.data) {
			return nil, errTruncated
		}
		at := u.pos
		op := u.data[u.pos]
		u.pos++
		done, v, err := u.step(op)
		if err != nil {
			return nil, fmt.Errorf("pickle opcode 0x%02x at offset %d: %w", op, at, err)
		}
		if done {
			return v, nil
		}
	}
}

func (u *unpickler) step(op byte) (done bool, result any, err error) {
	switch op {
	case 0x80: // PROTO
		p, err := u.uint(1)
		if err != nil {
			return false, nil, err
		}
		if p > 5 {
			return false, nil, fmt.Errorf("unsupported pickle protocol %d", p)
		}
	case 0x95: // FRAME: a length prefix only; the frame's bytes follow inline
		n, err := u.uint(8)
		if err != nil {
			return false, nil, err
		}
		if n > uint64(len(u.data)-u.pos) {
			return false, nil, fmt.Errorf("frame of %d bytes runs past the end", n)
		}
	case '.': // STOP
		v, err := u.pop()
		return true, v, err
	case '(': // MARK
		u.marks = append(u.marks, len(u.stack))
	case '0': // POP
		if _, err := u.pop(); err != nil {
			return false, nil, err
		}
	case '1': // POP_MARK
		if _, err := u.popMark(); err != nil {
			return false, nil, err
		}
	case '2': // DUP
		v, err := u.top()
		if err != nil {
			return false, nil, err
		}
		u.push(v)
	case 'N':
		u.push(nil)
	case 0x88:
		u.push(true)
	case 0x89:
		u.push(false)
	case 'J': // BININT
		v, err := u.uint(4)
		u.push(int64(int32(uint32(v))))
		return false, nil, err
	case 'K': // BININT1
		v, err := u.uint(1)
		u.push(int64(v))
		return false, nil, err
	case 'M': // BININT2
		v, err := u.uint(2)
		u.push(int64(v))
		return false, nil, err
	case 0x8a: // LONG1: little-endian two's complement of n bytes
		n, err := u.uint(1)
		if err != nil {
			return false, nil, err
		}
		b, err := u.take(n)
		if err != nil {
			return false, nil, err
		}
		v, err := longLE(b)
		if err != nil {
			return false, nil, err
		}
		u.push(v)
	case 'I', 'L': // INT, LONG (text, protocol 0)
		s, err := u.line()
		if err != nil {
			return false, nil, err
		}
		s = strings.TrimSuffix(s, "L")
		switch s {
		case "00":
			u.push(false)
		case "01":
			u.push(true)
		default:
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return false, nil, fmt.Errorf("bad integer %q", s)
			}
			u.push(v)
		}
	case 'G': // BINFLOAT, big-endian
		b, err := u.take(8)
		if err != nil {
			return false, nil, err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case 'X', 0x8c, 0x8d: // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
		size := map[byte]int{'X': 4, 0x8c: 1, 0x8d: 8}[op]
		n, err := u.uint(size)
		if err != nil {
			return false, nil, err
		}
		b, err := u.take(n)
		if err != nil {
			return false, nil, err
		}
		u.push(string(b))
	case 'B', 'C', 0x8e, 'T', 'U': // BINBYTES, SHORT_BINBYTES, BINBYTES8, BINSTRING, SHORT_BINSTRING
		size := map[byte]int{'B': 4, 'C': 1, 0x8e: 8, 'T': 4, 'U': 1}[op]
		n, err := u.uint(size)
		if err != nil {
			return false, nil, err
		}
		b, err := u.take(n)
		if err != nil {
			return false, nil, err
		}
		if op == 'T' || op == 'U' {
			u.push(string(b)) // Python 2 str, read as text
		} else {
			u.push(append([]byte(nil), b...))
		}
	case ')':
		u.push(pyTuple{})
	case 't':
		items, err := u.popMark()
		if err != nil {
			return false, nil, err
		}
		u.push(pyTuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1..3
		n := int(op - 0x84)
		items := make(pyTuple, n)
		for i := n - 1; i >= 0; i-- {
			if items[i], err = u.pop(); err != nil {
				return false, nil, err
			}
		}
		u.push(items)
	case ']':
		u.push(&pyList{})
	case 'l':
		items, err := u.popMark()
		if err != nil {
			return false, nil, err
		}
		u.push(&pyList{items: items})
	case 'a', 'e': // APPEND, APPENDS
		var items []any
		if op == 'a' {
			v, err := u.pop()
			if err != nil {
				return false, nil, err
			}
			items = []any{v}
		} else if items, err = u.popMark(); err != nil {
			return false, nil, err
		}
		t, err := u.top()
		if err != nil {
			return false, nil, err
		}
		l, ok := t.(*pyList)
		if !ok {
			return false, nil, fmt.Errorf("APPEND to a %s", typeName(t))
		}
		l.items = append(l.items, items...)
	case '}':
		u.push(newDict())
	case 'd':
		items, err := u.popMark()
		if err != nil {
			return false, nil, err
		}
		d := newDict()
		if err := setItems(d, items); err != nil {
			return false, nil, err
		}
		u.push(d)
	case 's', 'u': // SETITEM, SETITEMS
		var items []any
		if op == 's' {
			v, err1 := u.pop()
			k, err2 := u.pop()
			if err := errors.Join(err1, err2); err != nil {
				return false, nil, err
			}
			items = []any{k, v}
		} else if items, err = u.popMark(); err != nil {
			return false, nil, err
		}
		t, err := u.top()
		if err != nil {
			return false, nil, err
		}
		d, ok := t.(*pyDict)
		if !ok {
			return false, nil, fmt.Errorf("SETITEM on a %s", typeName(t))
		}
		if err := setItems(d, items); err != nil {
			return false, nil, err
		}
	case 'c': // GLOBAL "module\nname\n"
		mod, err := u.line()
		if err != nil {
			return false, nil, err
		}
		name, err := u.line()
		if err != nil {
			return false, nil, err
		}
		return false, nil, u.global(pyGlobal{mod, name})
	case 0x93: // STACK_GLOBAL
		name, err1 := u.pop()
		mod, err2 := u.pop()
		if err := errors.Join(err1, err2); err != nil {
			return false, nil, err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return false, nil, errors.New("STACK_GLOBAL needs two strings")
		}
		return false, nil, u.global(pyGlobal{ms, ns})
	case 'R': // REDUCE
		args, err1 := u.pop()
		fn, err2 := u.pop()
		if err := errors.Join(err1, err2); err != nil {
			return false, nil, err
		}
		call, ok := fn.(callable)
		if !ok {
			return false, nil, fmt.Errorf("REDUCE on a %s, which cannot be called", typeName(fn))
		}
		tup, ok := args.(pyTuple)
		if !ok {
			return false, nil, fmt.Errorf("REDUCE arguments are a %s, not a tuple", typeName(args))
		}
		v, err := call.fn(tup)
		if err != nil {
			return false, nil, fmt.Errorf("%s: %w", call.g, err)
		}
		u.push(v)
	case 'b': // BUILD: only the OrderedDict's __dict__ (state_dict._metadata), ignored
		if _, err := u.pop(); err != nil {
			return false, nil, err
		}
		t, err := u.top()
		if err != nil {
			return false, nil, err
		}
		if _, ok := t.(*pyDict); !ok {
			return false, nil, fmt.Errorf("BUILD on a %s", typeName(t))
		}
	case 'Q': // BINPERSID
		pid, err := u.pop()
		if err != nil {
			return false, nil, err
		}
		if u.persist == nil {
			return false, nil, errors.New("persistent id without a loader")
		}
		v, err := u.persist(pid)
		if err != nil {
			return false, nil, err
		}
		u.push(v)
	case 'q', 'r', 0x94, 'p': // BINPUT, LONG_BINPUT, MEMOIZE, PUT
		var idx uint64
		switch op {
		case 'q':
			idx, err = u.uint(1)
		case 'r':
			idx, err = u.uint(4)
		case 0x94:
			idx = uint64(len(u.memo))
		case 'p':
			var s string
			if s, err = u.line(); err == nil {
				idx, err = strconv.ParseUint(s, 10, 32)
			}
		}
		if err != nil {
			return false, nil, err
		}
		v, err := u.top()
		if err != nil {
			return false, nil, err
		}
		u.memo[uint32(idx)] = v
	case 'h', 'j', 'g': // BINGET, LONG_BINGET, GET
		var idx uint64
		switch op {
		case 'h':
			idx, err = u.uint(1)
		case 'j':
			idx, err = u.uint(4)
		case 'g':
			var s string
			if s, err = u.line(); err == nil {
				idx, err = strconv.ParseUint(s, 10, 32)
			}
		}
		if err != nil {
			return false, nil, err
		}
		v, ok := u.memo[uint32(idx)]
		if !ok {
			return false, nil, fmt.Errorf("memo %d is empty", idx)
		}
		u.push(v)
	default:
		return false, nil, fmt.Errorf("opcode not used by state dicts, refused")
	}
	return false, nil, nil
}

// callable is an allowed global on the stack.
type callable struct {
	g  pyGlobal
	fn reducer
}

func (u *unpickler) global(g pyGlobal) error {
	fn, err := u.globals(g)
	if err != nil {
		return err
	}
	u.push(callable{g, fn})
	return nil
}

func setItems(d *pyDict, items []any) error {
	if len(items)%2 != 0 {
		return errors.New("odd number of items for a dict")
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// longLE decodes LONG1's little-endian two's complement integer.
func longLE(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		if shift := 64 - 8*uint(len(b)); shift > 0 {
			return int64(v<<shift) >> shift, nil // sign-extend
		}
		return int64(v), nil
	}
	// Longer encodings are fine if the value still fits.
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	x := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if !x.IsInt64() {
		return 0, fmt.Errorf("integer of %d bytes does not fit in int64", len(b))
	}
	return x.Int64(), nil
}
