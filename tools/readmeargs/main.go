// Command readmeargs rewrites the configuration reference of README.md (the
// lines between <!-- args:begin --> and <!-- args:end -->) from
// trainer.ArgDocs. Run from the repository root: go run ./tools/readmeargs
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/kiln-ml/kiln/trainer"
)

const begin, end = "<!-- args:begin -->\n", "<!-- args:end -->"

func main() {
	b, err := os.ReadFile("README.md")
	if err != nil {
		fmt.Fprintln(os.Stderr, "readmeargs:", err)
		os.Exit(1)
	}
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		fmt.Fprintln(os.Stderr, "readmeargs: README.md has no args:begin/args:end markers")
		os.Exit(1)
	}
	s = s[:i+len(begin)] + trainer.ArgsMarkdown() + s[j:]
	if err := os.WriteFile("README.md", []byte(s), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "readmeargs:", err)
		os.Exit(1)
	}
}
