package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--version"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "gorocket-operator 0.1.0") {
		t.Errorf("version output %q", out.String())
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"--log-level=loud"}, {"--log-format=xml"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errb.String())
		}
		if errb.Len() == 0 {
			t.Errorf("%v: no error message", args)
		}
	}
}

func TestLoggerLevels(t *testing.T) {
	var b bytes.Buffer
	log, err := newLogger(&b, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.V(1).Info("Hidden at info")
	log.Info("Shown", "key", "value")
	if strings.Contains(b.String(), "Hidden") || !strings.Contains(b.String(), `"key":"value"`) {
		t.Errorf("info logger wrote %q", b.String())
	}
	b.Reset()
	log, _ = newLogger(&b, "debug", "text")
	log.V(1).Info("Debug line")
	if !strings.Contains(b.String(), "Debug line") {
		t.Errorf("debug logger wrote %q", b.String())
	}
}
