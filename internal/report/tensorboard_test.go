package report

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMaskedCRCVectors(t *testing.T) {
	// CRC32C check value, as in TensorFlow's crc32c tests and RFC 3720.
	if got := crc32.Checksum([]byte("123456789"), castagnoli); got != 0xE3069283 {
		t.Errorf("crc32c(123456789) = %#x, want 0xe3069283", got)
	}
	if got := crc32.Checksum(make([]byte, 32), castagnoli); got != 0x8a9136aa {
		t.Errorf("crc32c(32 zero bytes) = %#x, want 0x8a9136aa", got)
	}
	// Masked checksum taken from a real TensorFlow event file, a record
	// holding Event(file_version="CRC test, one two") (TensorBoard's
	// tensorboard/data/server/masked_crc.rs test). The data bytes are also
	// what appendBytes must produce for field 3.
	data := appendBytes(nil, 3, []byte("CRC test, one two"))
	if string(data) != "\x1a\x11CRC test, one two" {
		t.Fatalf("file_version encoding %q", data)
	}
	if got := maskedCRC(data); got != 0x5794d08a {
		t.Errorf("masked crc = %#x, want 0x5794d08a", got)
	}
	// A second masked vector, from the tfrecord_slow Python package's tests.
	if got := maskedCRC([]byte("1234567890asdfghjkl")); got != 4134599430 {
		t.Errorf("masked crc = %d, want 4134599430", got)
	}
}

// tbEvent is a decoded tensorflow.Event with the fields the writer uses.
type tbEvent struct {
	wallTime    float64
	step        int64
	fileVersion string
	values      []tbValue
}

type tbValue struct {
	tag   string
	value float32
}

// readTFRecords parses a TFRecord file, checking both CRCs of every record.
func readTFRecords(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			t.Fatalf("record at %d: truncated header", off)
		}
		n := int(binary.LittleEndian.Uint64(b[off:]))
		if got, want := binary.LittleEndian.Uint32(b[off+8:]), maskedCRC(b[off:off+8]); got != want {
			t.Fatalf("record at %d: length crc %#x, want %#x", off, got, want)
		}
		off += 12
		if len(b)-off < n+4 {
			t.Fatalf("record at %d: truncated data", off)
		}
		data := b[off : off+n]
		if got, want := binary.LittleEndian.Uint32(b[off+n:]), maskedCRC(data); got != want {
			t.Fatalf("record at %d: data crc %#x, want %#x", off, got, want)
		}
		recs = append(recs, data)
		off += n + 4
	}
	return recs
}

// protoFields splits a message into (field, wire type, payload) triples;
// varint payloads are returned as their value in num.
type protoField struct {
	num, wire int
	varint    uint64
	bytes     []byte
}

func protoFields(b []byte) ([]protoField, error) {
	var fs []protoField
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("bad key")
		}
		b = b[n:]
		f := protoField{num: int(key >> 3), wire: int(key & 7)}
		switch f.wire {
		case wireVarint:
			f.varint, n = binary.Uvarint(b)
			if n <= 0 {
				return nil, fmt.Errorf("bad varint")
			}
			b = b[n:]
		case wireFixed64:
			f.bytes, b = b[:8], b[8:]
		case wireFixed32:
			f.bytes, b = b[:4], b[4:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || int(l) > len(b)-n {
				return nil, fmt.Errorf("bad length")
			}
			f.bytes, b = b[n:n+int(l)], b[n+int(l):]
		default:
			return nil, fmt.Errorf("wire type %d", f.wire)
		}
		fs = append(fs, f)
	}
	return fs, nil
}

func decodeEvent(t *testing.T, b []byte) tbEvent {
	t.Helper()
	fs, err := protoFields(b)
	if err != nil {
		t.Fatal(err)
	}
	var e tbEvent
	for _, f := range fs {
		switch {
		case f.num == 1 && f.wire == wireFixed64:
			e.wallTime = math.Float64frombits(binary.LittleEndian.Uint64(f.bytes))
		case f.num == 2 && f.wire == wireVarint:
			e.step = int64(f.varint)
		case f.num == 3 && f.wire == wireBytes:
			e.fileVersion = string(f.bytes)
		case f.num == 5 && f.wire == wireBytes:
			sfs, err := protoFields(f.bytes)
			if err != nil {
				t.Fatal(err)
			}
			for _, sf := range sfs {
				if sf.num != 1 || sf.wire != wireBytes {
					t.Fatalf("summary field %d/%d", sf.num, sf.wire)
				}
				vfs, err := protoFields(sf.bytes)
				if err != nil {
					t.Fatal(err)
				}
				var v tbValue
				for _, vf := range vfs {
					switch {
					case vf.num == 1 && vf.wire == wireBytes:
						v.tag = string(vf.bytes)
					case vf.num == 2 && vf.wire == wireFixed32:
						v.value = math.Float32frombits(binary.LittleEndian.Uint32(vf.bytes))
					default:
						t.Fatalf("value field %d/%d", vf.num, vf.wire)
					}
				}
				e.values = append(e.values, v)
			}
		default:
			t.Fatalf("event field %d/%d", f.num, f.wire)
		}
	}
	return e
}

func TestTBWriter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "x")
	before := time.Now()
	w, err := NewTBWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	base := filepath.Base(w.Path())
	if filepath.Dir(w.Path()) != dir || !strings.HasPrefix(base, "events.out.tfevents.") ||
		!strings.HasSuffix(base, "."+host) {
		t.Errorf("event file %q", w.Path())
	}
	fixed := time.Unix(1700000000, 250_000_000)
	w.now = func() time.Time { return fixed }

	if err := w.Scalars(500, map[string]float64{"train/loss": 0.5, "train/learning_rate": 4.1e-5}); err != nil {
		t.Fatal(err)
	}
	// Scalars flushes: the events are on disk before Close.
	if n := len(readTFRecords(t, w.Path())); n != 3 {
		t.Fatalf("%d records on disk before Close, want 3", n)
	}
	if err := w.WriteEntry(Entry{"eval_loss": 0.25, "eval_accuracy": 0.875, "epoch": 1, "step": 0}); err != nil {
		t.Fatal(err)
	}
	if err := w.Scalars(-3, map[string]float64{"nan": math.NaN()}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteEntry(Entry{"loss": 1}); err == nil {
		t.Error("entry without step: no error")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Scalars(1, map[string]float64{"a": 1}); err == nil {
		t.Error("Scalars after Close: no error")
	}

	recs := readTFRecords(t, w.Path())
	var events []tbEvent
	for _, r := range recs {
		events = append(events, decodeEvent(t, r))
	}
	if len(events) != 7 {
		t.Fatalf("%d events, want 7", len(events))
	}
	first := events[0]
	if first.fileVersion != "brain.Event:2" || first.step != 0 || len(first.values) != 0 {
		t.Errorf("first event %+v", first)
	}
	if wt := first.wallTime; wt < float64(before.Unix())-1 || wt > float64(time.Now().Unix())+1 {
		t.Errorf("first wall_time %v not now", wt)
	}
	want := []struct {
		step int64
		tag  string
		val  float32
	}{
		{500, "train/learning_rate", 4.1e-5},
		{500, "train/loss", 0.5},
		{0, "eval/accuracy", 0.875},
		{0, "eval/loss", 0.25},
		{0, "train/epoch", 1},
		{-3, "nan", float32(math.NaN())},
	}
	for i, w := range want {
		e := events[i+1]
		if e.wallTime != 1700000000.25 || e.step != w.step || e.fileVersion != "" || len(e.values) != 1 {
			t.Errorf("event %d: %+v", i+1, e)
			continue
		}
		v := e.values[0]
		same := v.value == w.val || (math.IsNaN(float64(v.value)) && math.IsNaN(float64(w.val)))
		if v.tag != w.tag || !same {
			t.Errorf("event %d: %q=%v, want %q=%v", i+1, v.tag, v.value, w.tag, w.val)
		}
	}
}

func TestTBWriterSameSecond(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := 0; i < 3; i++ {
		w, err := NewTBWriter(dir)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, w.Path())
		w.Close()
	}
	if paths[0] == paths[1] || paths[1] == paths[2] || paths[0] == paths[2] {
		t.Errorf("writers share a file: %q", paths)
	}
}

func TestTBTag(t *testing.T) {
	for k, want := range map[string]string{
		"loss": "train/loss", "eval_loss": "eval/loss", "test_f1": "test/f1",
		"learning_rate": "train/learning_rate", "epoch": "train/epoch",
	} {
		if got := TBTag(k); got != want {
			t.Errorf("TBTag(%q) = %q, want %q", k, got, want)
		}
	}
}
