package data

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
)

// Dataset is a file's rows held in memory, with the rows that were skipped.
type Dataset struct {
	Name    string  // file name
	Rows    []Row   // rows in file order
	Skipped Skipped // rows left out because Options.SkipBad was set
}

// Len returns the number of rows.
func (d *Dataset) Len() int { return len(d.Rows) }

// ReadFile reads a whole file into memory; it is Open + Next until io.EOF.
func ReadFile(path string, opts Options) (*Dataset, error) {
	r, err := Open(path, opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return ReadAll(r, path)
}

// ReadAll drains a Reader into a Dataset named name.
func ReadAll(r *Reader, name string) (*Dataset, error) {
	d := &Dataset{Name: name}
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		d.Rows = append(d.Rows, row)
	}
	d.Skipped = r.Skipped()
	return d, nil
}

// Splits holds the train, validation and test sets; Validation and Test may
// be nil.
type Splits struct {
	Train, Validation, Test *Dataset
}

// SplitFiles names a file per split; empty names are left out.
type SplitFiles struct {
	Train, Validation, Test string
}

// ReadSplits reads each named file with the same options.
func ReadSplits(files SplitFiles, opts Options) (*Splits, error) {
	s := &Splits{}
	for _, f := range []struct {
		path string
		dst  **Dataset
	}{{files.Train, &s.Train}, {files.Validation, &s.Validation}, {files.Test, &s.Test}} {
		if f.path == "" {
			continue
		}
		d, err := ReadFile(f.path, opts)
		if err != nil {
			return nil, err
		}
		*f.dst = d
	}
	if s.Train == nil {
		return nil, fmt.Errorf("data: no training file given")
	}
	return s, nil
}

// Split divides d at random into train, validation and test sets holding
// round(validation*n) and round(test*n) rows for the latter two and the rest
// for training. The assignment is a pure function of seed and the number of
// rows; each part keeps file order. Skipped rows stay with the train part.
func (d *Dataset) Split(validation, test float64, seed uint64) (*Splits, error) {
	if validation < 0 || test < 0 || validation+test >= 1 || math.IsNaN(validation+test) {
		return nil, fmt.Errorf("data: split fractions validation %g and test %g must be >= 0 and sum to less than 1", validation, test)
	}
	n := len(d.Rows)
	nVal := int(math.Round(validation * float64(n)))
	nTest := int(math.Round(test * float64(n)))
	perm := newRNG(seed, 0x73706c6974).permutation(n) // "split"
	part := func(name string, idx []int) *Dataset {
		idx = slices.Clone(idx)
		slices.Sort(idx)
		out := &Dataset{Name: d.Name + " (" + name + ")", Rows: make([]Row, len(idx))}
		for i, j := range idx {
			out.Rows[i] = d.Rows[j]
		}
		return out
	}
	s := &Splits{Train: part("train", perm[nVal+nTest:])}
	s.Train.Skipped = d.Skipped
	if validation > 0 {
		s.Validation = part("validation", perm[:nVal])
	}
	if test > 0 {
		s.Test = part("test", perm[nVal:nVal+nTest])
	}
	return s, nil
}
