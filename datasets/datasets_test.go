package datasets

import (
	"bytes"
	"testing"
)

func TestShippedFilesAreEmbedded(t *testing.T) {
	for _, n := range []string{"fine_foods_train.csv", "fine_foods_test.csv", "qa_validation.json", "NOTICE.md"} {
		b, err := Read(n)
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: %v", n, err)
		}
	}
	b, _ := Read("fine_foods_train.csv")
	if !bytes.HasPrefix(b, []byte(`"product","review","score"`)) {
		t.Fatalf("fine_foods_train.csv starts %q", b[:30])
	}
	if _, err := Read("nope.csv"); err == nil {
		t.Fatal("missing file read")
	}
}
