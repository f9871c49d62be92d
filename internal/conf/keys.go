package conf

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// KeyType is the value syntax of a key.
type KeyType string

// Value syntaxes.
const (
	TypeString   KeyType = "string"   // any text; surrounding whitespace trimmed
	TypeInt      KeyType = "int"      // decimal integer, optional sign (Java Integer/Long.parseInt syntax)
	TypeBool     KeyType = "bool"     // true or false, case-insensitive
	TypeEnum     KeyType = "enum"     // one of KeyInfo.Values, case-insensitive, stored upper-case
	TypeList     KeyType = "list"     // ';'-separated items, empty items dropped
	TypeDuration KeyType = "duration" // Go duration ("10s", "2m"), or a bare integer of milliseconds
)

// EnvPrefix prefixes every environment variable read by ApplyEnv:
// GOROCKET_ + the key in upper snake case (brokerIP1 -> GOROCKET_BROKER_IP1).
const EnvPrefix = "GOROCKET_"

// KeyInfo describes one accepted key. The operator uses it to validate
// user-supplied extra keys and to generate documentation.
type KeyInfo struct {
	Key       string   // canonical spelling, written by Render
	Aliases   []string // other accepted spellings (e.g. RocketMQ 3.x "maped..." names)
	Type      KeyType
	Values    []string // allowed values of a TypeEnum key
	Default   string   // the default in properties syntax; "" = empty or computed at startup (see Doc)
	Unit      string   // "ms", "s", "hours", "bytes", "percent", "" ...
	Env       string   // environment variable read by ApplyEnv
	Extension bool     // not an Apache RocketMQ 4.9 key, or honoured by gorocket where Java ignores it
	Doc       string   // one line
}

// keyDef binds a KeyInfo to a field of the config struct C.
type keyDef[C any] struct {
	info     KeyInfo
	get      func(*C) string
	set      func(*C, string) error // parse, range-check, assign; the error text has no key
	check    func(*C) error         // range-check the current value; nil if always valid
	omitZero bool                   // Render skips the key when its value is "0" (0 = automatic)
}

func (k keyDef[C]) ext() keyDef[C]  { k.info.Extension = true; return k }
func (k keyDef[C]) auto() keyDef[C] { k.omitZero = true; return k }
func (k keyDef[C]) alias(a ...string) keyDef[C] {
	k.info.Aliases = append(k.info.Aliases, a...)
	return k
}
func (k keyDef[C]) unit(u string) keyDef[C] { k.info.Unit = u; return k }

// validate adds a check of the current value, run by Validate and after
// every set (which then leaves the config unchanged).
func (k keyDef[C]) validate(f func(*C) error) keyDef[C] {
	set := k.set
	k.set = func(c *C, v string) error {
		old := *c
		if err := set(c, v); err != nil {
			return err
		}
		if err := f(c); err != nil {
			*c = old
			return err
		}
		return nil
	}
	prev := k.check
	k.check = func(c *C) error {
		if prev != nil {
			if err := prev(c); err != nil {
				return err
			}
		}
		return f(c)
	}
	return k
}

func info(key string, t KeyType, doc string) KeyInfo {
	return KeyInfo{Key: key, Type: t, Env: EnvName(key), Doc: doc}
}

func strKey[C any](key string, p func(*C) *string, doc string) keyDef[C] {
	return keyDef[C]{
		info: info(key, TypeString, doc),
		get:  func(c *C) string { return *p(c) },
		set:  func(c *C, v string) error { *p(c) = v; return nil },
	}
}

// strCheck is strKey with a value check run both on Set and on Validate.
func strCheck[C any](key string, p func(*C) *string, ok func(string) error, doc string) keyDef[C] {
	k := strKey(key, p, doc)
	k.set = func(c *C, v string) error {
		if err := ok(v); err != nil {
			return err
		}
		*p(c) = v
		return nil
	}
	k.check = func(c *C) error { return ok(*p(c)) }
	return k
}

func rangeErr(v, lo, hi int64) error {
	if hi == maxInt32 || hi == maxInt64 { // no limit beyond the type's
		return fmt.Errorf("%d out of range (want >= %d)", v, lo)
	}
	return fmt.Errorf("%d out of range (want %d..%d)", v, lo, hi)
}

const (
	maxInt32 = 1<<31 - 1
	maxInt64 = 1<<63 - 1
)

func parseInt(v string, bits int) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, bits)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("invalid value %q (out of the %d-bit integer range)", v, bits)
		}
		return 0, fmt.Errorf("invalid value %q (want an integer)", v)
	}
	return n, nil
}

// intKey is a Java int key (32-bit) stored in a Go int, limited to lo..hi.
func intKey[C any](key string, p func(*C) *int, lo, hi int64, doc string) keyDef[C] {
	chk := func(n int64) error {
		if n < lo || n > hi {
			return rangeErr(n, lo, hi)
		}
		return nil
	}
	return keyDef[C]{
		info: info(key, TypeInt, doc),
		get:  func(c *C) string { return strconv.Itoa(*p(c)) },
		set: func(c *C, v string) error {
			n, err := parseInt(v, 32)
			if err == nil {
				err = chk(n)
			}
			if err != nil {
				return err
			}
			*p(c) = int(n)
			return nil
		},
		check: func(c *C) error { return chk(int64(*p(c))) },
	}
}

// int64Key is a Java long key stored in a Go int64, limited to lo..hi.
func int64Key[C any](key string, p func(*C) *int64, lo, hi int64, doc string) keyDef[C] {
	chk := func(n int64) error {
		if n < lo || n > hi {
			return rangeErr(n, lo, hi)
		}
		return nil
	}
	return keyDef[C]{
		info: info(key, TypeInt, doc),
		get:  func(c *C) string { return strconv.FormatInt(*p(c), 10) },
		set: func(c *C, v string) error {
			n, err := parseInt(v, 64)
			if err == nil {
				err = chk(n)
			}
			if err != nil {
				return err
			}
			*p(c) = n
			return nil
		},
		check: func(c *C) error { return chk(*p(c)) },
	}
}

func boolKey[C any](key string, p func(*C) *bool, doc string) keyDef[C] {
	return keyDef[C]{
		info: info(key, TypeBool, doc),
		get:  func(c *C) string { return strconv.FormatBool(*p(c)) },
		set: func(c *C, v string) error {
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true":
				*p(c) = true
			case "false":
				*p(c) = false
			default:
				return fmt.Errorf("invalid value %q (want true or false)", v)
			}
			return nil
		},
	}
}

func orList(vals []string) string {
	switch len(vals) {
	case 0:
		return ""
	case 1:
		return vals[0]
	}
	return strings.Join(vals[:len(vals)-1], ", ") + " or " + vals[len(vals)-1]
}

func enumKey[C any](key string, p func(*C) *string, vals []string, doc string) keyDef[C] {
	chk := func(v string) error {
		for _, a := range vals {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("invalid value %q (want %s)", v, orList(vals))
	}
	k := keyDef[C]{
		info: info(key, TypeEnum, doc),
		get:  func(c *C) string { return *p(c) },
		set: func(c *C, v string) error {
			u := strings.ToUpper(strings.TrimSpace(v))
			if err := chk(u); err != nil {
				return fmt.Errorf("invalid value %q (want %s)", v, orList(vals))
			}
			*p(c) = u
			return nil
		},
		check: func(c *C) error { return chk(*p(c)) },
	}
	k.info.Values = append([]string(nil), vals...)
	return k
}

// splitList splits a ';'-separated list, trimming items and dropping empty ones.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func listKey[C any](key string, p func(*C) *[]string, item func(string) error, doc string) keyDef[C] {
	chk := func(l []string) error {
		for _, s := range l {
			if err := item(s); err != nil {
				return err
			}
		}
		return nil
	}
	return keyDef[C]{
		info: info(key, TypeList, doc),
		get:  func(c *C) string { return strings.Join(*p(c), ";") },
		set: func(c *C, v string) error {
			l := splitList(v)
			if err := chk(l); err != nil {
				return err
			}
			*p(c) = l
			return nil
		},
		check: func(c *C) error { return chk(*p(c)) },
	}
}

func parseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > int64(maxInt64/time.Millisecond) || n < -int64(maxInt64/time.Millisecond) {
			return 0, fmt.Errorf("invalid value %q (out of range)", v)
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid value %q (want a duration such as 10s or 2m, or milliseconds)", v)
	}
	return d, nil
}

func durKey[C any](key string, p func(*C) *time.Duration, lo time.Duration, doc string) keyDef[C] {
	chk := func(d time.Duration) error {
		if d < lo {
			return fmt.Errorf("%s out of range (want >= %s)", d, lo)
		}
		return nil
	}
	return keyDef[C]{
		info: info(key, TypeDuration, doc),
		get:  func(c *C) string { return p(c).String() },
		set: func(c *C, v string) error {
			d, err := parseDuration(v)
			if err == nil {
				err = chk(d)
			}
			if err != nil {
				return err
			}
			*p(c) = d
			return nil
		},
		check: func(c *C) error { return chk(*p(c)) },
	}
}

// EnvName returns the environment variable ApplyEnv reads for key:
// EnvPrefix + key in upper snake case. A word boundary is placed before an
// upper-case letter that follows a lower-case letter or digit, or that
// starts a new word after an acronym: brokerIP1 -> GOROCKET_BROKER_IP1,
// checkCRCOnRecover -> GOROCKET_CHECK_CRC_ON_RECOVER,
// dLegerPeers -> GOROCKET_D_LEGER_PEERS.
func EnvName(key string) string {
	r := []rune(key)
	var b strings.Builder
	b.WriteString(EnvPrefix)
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToUpper(c))
	}
	return b.String()
}

// registry is the key table of one config struct.
type registry[C any] struct {
	keys   []keyDef[C]
	byName map[string]int // canonical names and aliases
	lower  map[string]int // lower-cased names, for "did you mean"
}

func newRegistry[C any](defaults C, keys []keyDef[C]) *registry[C] {
	r := &registry[C]{keys: keys, byName: map[string]int{}, lower: map[string]int{}}
	for i := range r.keys {
		k := &r.keys[i]
		k.info.Default = k.get(&defaults)
		if k.omitZero && k.info.Default == "0" {
			k.info.Default = ""
		}
		for _, n := range append([]string{k.info.Key}, k.info.Aliases...) {
			if _, dup := r.byName[n]; dup {
				panic("conf: duplicate key " + n) // programming error in the tables below
			}
			r.byName[n] = i
			r.lower[strings.ToLower(n)] = i
		}
	}
	return r
}

func (r *registry[C]) infos() []KeyInfo {
	out := make([]KeyInfo, len(r.keys))
	for i, k := range r.keys {
		out[i] = k.info
		out[i].Aliases = append([]string(nil), k.info.Aliases...)
		out[i].Values = append([]string(nil), k.info.Values...)
	}
	return out
}

func (r *registry[C]) unknown(key string) string {
	if i, ok := r.lower[strings.ToLower(key)]; ok {
		return fmt.Sprintf("unknown key (did you mean %s?)", r.keys[i].info.Key)
	}
	return "unknown key"
}

// set assigns one key; the returned *Error has Key but no position.
func (r *registry[C]) set(c *C, key, value string) *Error {
	i, ok := r.byName[key]
	if !ok {
		return &Error{Key: key, Msg: r.unknown(key)}
	}
	if err := r.keys[i].set(c, value); err != nil {
		return &Error{Key: key, Msg: err.Error()}
	}
	return nil
}

func (r *registry[C]) get(c *C, key string) (string, bool) {
	i, ok := r.byName[key]
	if !ok {
		return "", false
	}
	return r.keys[i].get(c), true
}

// parse applies every entry of a properties file to c. For a key set more
// than once (directly or through an alias) only the last occurrence counts.
func (r *registry[C]) parse(c *C, rd io.Reader, filename string) ([]Warning, error) {
	p, perr := ParseProperties(rd, filename)
	if p == nil {
		return nil, perr
	}
	var errs ErrorList
	if l, ok := perr.(ErrorList); ok {
		errs = append(errs, l...)
	}
	warns := p.Warnings()
	entries := p.Entries()
	lastFor := map[int]int{} // key index -> entry index of its last occurrence
	for j, e := range entries {
		i, ok := r.byName[e.Key]
		if !ok {
			warns = append(warns, Warning{File: filename, Line: e.Line, Key: e.Key, Msg: r.unknown(e.Key)})
			continue
		}
		if prev, seen := lastFor[i]; seen && entries[prev].Key != e.Key {
			warns = append(warns, Warning{File: filename, Line: e.Line, Key: e.Key,
				Msg: fmt.Sprintf("overrides %s set on line %d (same setting)", entries[prev].Key, entries[prev].Line)})
		}
		lastFor[i] = j
	}
	for j, e := range entries {
		i, ok := r.byName[e.Key]
		if !ok || lastFor[i] != j {
			continue
		}
		if err := r.keys[i].set(c, e.Value); err != nil {
			errs = append(errs, &Error{File: filename, Line: e.Line, Key: e.Key, Msg: err.Error()})
		}
	}
	return warns, errs.Err()
}

func (r *registry[C]) load(c *C, path string) ([]Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError: "open <path>: no such file or directory"
	}
	defer f.Close()
	return r.parse(c, f, path)
}

// applyEnv sets every key whose EnvName is present in the environment.
func (r *registry[C]) applyEnv(c *C, lookup func(string) (string, bool)) error {
	var errs ErrorList
	for _, k := range r.keys {
		v, ok := lookup(k.info.Env)
		if !ok {
			continue
		}
		if err := k.set(c, v); err != nil {
			errs = append(errs, &Error{File: "env " + k.info.Env, Key: k.info.Key, Msg: err.Error()})
		}
	}
	return errs.Err()
}

// checkAll runs every per-key check.
func (r *registry[C]) checkAll(c *C) ErrorList {
	var errs ErrorList
	for _, k := range r.keys {
		if k.check == nil {
			continue
		}
		if err := k.check(c); err != nil {
			errs = append(errs, &Error{Key: k.info.Key, Msg: err.Error()})
		}
	}
	return errs
}

// render writes every key with a concrete value in table order.
func (r *registry[C]) render(c *C, header string) []byte {
	var b strings.Builder
	b.WriteString(header)
	for _, k := range r.keys {
		v := k.get(c)
		if (v == "" || (k.omitZero && v == "0")) && k.info.Default == "" {
			continue // empty or automatic, and so is the default
		}
		appendEscaped(&b, k.info.Key, true)
		b.WriteByte('=')
		appendEscaped(&b, v, false)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}
