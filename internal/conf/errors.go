package conf

import (
	"strconv"
	"strings"
)

// Error is one located configuration error. Its text has the form
//
//	broker.properties:12: brokerRole: invalid value "MASTR" (want ASYNC_MASTER, SYNC_MASTER or SLAVE)
//
// File is the file name given to the parser, or "env NAME" for an error in
// the environment variable NAME, or "" for errors found by Validate (which
// works on values, not on files). Line is 1-based; 0 means unknown. Key is
// the key as the user spelled it (possibly an alias), or "" when the error is
// not about one key.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string { return locate(e.File, e.Line, e.Key, e.Msg) }

// Warning is a located problem that does not stop the configuration from
// being used: an unknown key, a duplicate key, an ignored environment
// variable. It has the same fields and text form as Error.
type Warning struct {
	File string
	Line int
	Key  string
	Msg  string
}

// String returns "file:line: key: msg".
func (w Warning) String() string { return locate(w.File, w.Line, w.Key, w.Msg) }

func locate(file string, line int, key, msg string) string {
	var b strings.Builder
	switch {
	case file != "" && line > 0:
		b.WriteString(file)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(line))
		b.WriteString(": ")
	case file != "":
		b.WriteString(file)
		b.WriteString(": ")
	case line > 0:
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(line))
		b.WriteString(": ")
	}
	if key != "" {
		b.WriteString(key)
		b.WriteString(": ")
	}
	b.WriteString(msg)
	return b.String()
}

// ErrorList collects every error found in one pass (parse, ApplyEnv or
// Validate), in the order found. Parse, ApplyEnv and Validate return an
// ErrorList (never a bare *Error) when anything is wrong, and a nil error
// otherwise; errors.As(err, &e) with e *Error finds the first one.
type ErrorList []*Error

// Error joins the errors, one per line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.As and errors.Is see each *Error.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// Err returns l as an error, or nil when l is empty (avoiding the typed-nil
// interface trap).
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
