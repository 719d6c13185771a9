// Package datasets holds the data kiln ships: small real datasets
// (Amazon fine-food reviews, State of the Union passages, SpamAssassin
// messages, Moby-Dick and Jane Austen excerpts) and synthetic ones for NER,
// QA and multi-label classification, embedded in the binary so that
// `kiln demo` runs anywhere. NOTICE.md gives each file's source, licence
// and the recipe that rebuilds it.
package datasets

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
)

//go:embed *.csv *.json *.jsonl NOTICE.md
var files embed.FS

// Names lists the shipped files.
func Names() []string {
	ents, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// Read returns one shipped file.
func Read(name string) ([]byte, error) {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("datasets: no shipped file %q (have %v)", name, Names())
	}
	return b, nil
}
