package report

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// TBWriter writes scalars to a TensorBoard event file: a TFRecord file of
// tensorflow.Event protocol buffers, written here by hand because no Go
// TensorBoard writer is maintained and the few message fields needed take a
// dozen lines of encoding.
//
// Each record is
//
//	uint64 length (little endian)
//	uint32 masked CRC32C of those 8 length bytes
//	length bytes of data (one serialized Event)
//	uint32 masked CRC32C of the data
//
// with CRC32C the Castagnoli CRC and mask(c) = ((c>>15)|(c<<17)) + 0xa282ead8
// (TensorFlow's tensorflow/core/lib/hash/crc32c.h). The first Event of a file
// carries file_version "brain.Event:2"; TensorBoard reads any file whose name
// contains "tfevents".
//
// A TBWriter is not safe for concurrent use.
type TBWriter struct {
	f    *os.File
	bw   *bufio.Writer
	path string
	now  func() time.Time // the events' wall_time; tests replace it
	buf  []byte           // reused encoding buffer
}

// NewTBWriter creates dir (and its parents) and a new event file in it named
// events.out.tfevents.<unix seconds>.<hostname>, as TensorFlow names its
// files, and writes the file_version event. If a file of that name exists
// (two writers in one second) a ".1", ".2", ... suffix keeps both.
func NewTBWriter(dir string) (*TBWriter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	// A hostname holds no path separator on any sane system; guard anyway so
	// the file cannot land outside dir.
	host = strings.NewReplacer("/", "_", `\`, "_").Replace(host)
	now := time.Now
	base := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%d.%s", now().Unix(), host))
	var f *os.File
	for i := 0; ; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s.%d", base, i)
		}
		f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i >= 100 {
			return nil, fmt.Errorf("tensorboard: %w", err)
		}
	}
	w := &TBWriter{f: f, bw: bufio.NewWriter(f), path: f.Name(), now: now}
	w.buf = appendFileVersionEvent(w.buf[:0], wallTime(w.now()))
	if err := w.writeRecord(w.buf); err != nil {
		f.Close()
		return nil, err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// Path returns the event file's path.
func (w *TBWriter) Path() string { return w.path }

// Scalars writes one Event per value at step, with the tag names in sorted
// order, all with the same wall time, and flushes them to the file so a
// running TensorBoard sees them and a crash loses nothing already logged.
// Values are stored as float32 (simple_value); NaN and infinities are kept,
// TensorBoard shows them as such.
func (w *TBWriter) Scalars(step int64, vals map[string]float64) error {
	if w.f == nil {
		return errors.New("tensorboard: write after Close")
	}
	tags := make([]string, 0, len(vals))
	for k := range vals {
		tags = append(tags, k)
	}
	sort.Strings(tags)
	wt := wallTime(w.now())
	for _, tag := range tags {
		w.buf = appendScalarEvent(w.buf[:0], wt, step, tag, float32(vals[tag]))
		if err := w.writeRecord(w.buf); err != nil {
			return err
		}
	}
	return w.Flush()
}

// WriteEntry writes a log_history entry the way HF's TensorBoardCallback
// does: at the entry's "step", each other key renamed by rewrite_logs
// ("eval_x" -> "eval/x", "test_x" -> "test/x", anything else "train/x", so
// "loss" -> "train/loss" and "epoch" -> "train/epoch"). An entry without a
// step is an error: TensorBoard needs one.
func (w *TBWriter) WriteEntry(e Entry) error {
	step, ok := e.Step()
	if !ok {
		return errors.New(`tensorboard: log entry has no "step"`)
	}
	vals := make(map[string]float64, len(e))
	for k, v := range e {
		if k == "step" {
			continue
		}
		vals[TBTag(k)] = v
	}
	return w.Scalars(int64(step), vals)
}

// TBTag maps a log_history key to HF's TensorBoard tag (rewrite_logs in
// transformers/integrations/integration_utils.py).
func TBTag(key string) string {
	switch {
	case strings.HasPrefix(key, "eval_"):
		return "eval/" + strings.TrimPrefix(key, "eval_")
	case strings.HasPrefix(key, "test_"):
		return "test/" + strings.TrimPrefix(key, "test_")
	default:
		return "train/" + key
	}
}

// Flush writes buffered records to the file.
func (w *TBWriter) Flush() error {
	if w.f == nil {
		return nil
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("tensorboard: %w", err)
	}
	return nil
}

// Close flushes and closes the file. Closing twice is not an error.
func (w *TBWriter) Close() error {
	if w.f == nil {
		return nil
	}
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err != nil {
		return fmt.Errorf("tensorboard: %w", err)
	}
	return nil
}

// writeRecord frames data as one TFRecord.
func (w *TBWriter) writeRecord(data []byte) error {
	var hdr [12]byte
	binary.LittleEndian.PutUint64(hdr[:8], uint64(len(data)))
	binary.LittleEndian.PutUint32(hdr[8:], maskedCRC(hdr[:8]))
	var foot [4]byte
	binary.LittleEndian.PutUint32(foot[:], maskedCRC(data))
	for _, b := range [][]byte{hdr[:], data, foot[:]} {
		if _, err := w.bw.Write(b); err != nil {
			return fmt.Errorf("tensorboard: %w", err)
		}
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's checksum: CRC32C rotated right by 15 bits plus a
// constant, because "it is problematic to compute the CRC of a string that
// contains embedded CRCs" (LevelDB's reason, which TensorFlow inherited).
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// wallTime is seconds since the epoch as a double, TensorFlow's wall_time.
func wallTime(t time.Time) float64 {
	// Seconds and fraction apart: UnixNano/1e9 rounds twice.
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// Protocol buffer encoding of the few fields written. Field numbers from
// tensorflow/core/util/event.proto and tensorflow/core/framework/summary.proto:
//
//	Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//	Summary { repeated Value value = 1; }
//	Value   { string tag = 1; float simple_value = 2; }
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

func appendFileVersionEvent(b []byte, wallTime float64) []byte {
	b = appendDouble(b, 1, wallTime)
	return appendBytes(b, 3, []byte("brain.Event:2"))
}

func appendScalarEvent(b []byte, wallTime float64, step int64, tag string, v float32) []byte {
	// Value and Summary are small, so encode them into a scratch buffer first
	// to learn their lengths.
	var value []byte
	value = appendBytes(value, 1, []byte(tag))
	value = appendTag(value, 2, wireFixed32)
	value = binary.LittleEndian.AppendUint32(value, math.Float32bits(v))
	summary := appendBytes(nil, 1, value)

	b = appendDouble(b, 1, wallTime)
	if step != 0 { // proto3 leaves zero scalars out
		b = appendTag(b, 2, wireVarint)
		b = binary.AppendUvarint(b, uint64(step)) // negative int64: ten bytes, as protobuf does
	}
	return appendBytes(b, 5, summary)
}

func appendTag(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire))
}

func appendDouble(b []byte, field int, v float64) []byte {
	b = appendTag(b, field, wireFixed64)
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

func appendBytes(b []byte, field int, v []byte) []byte {
	b = appendTag(b, field, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}
