package protocol

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Custom headers ("extFields") are plain structs whose fields carry an `rmq` tag:
//
//	type GetRouteInfoRequestHeader struct {
//		Topic string `rmq:"topic,required"`
//	}
//
// Tag options: "required" (DecodeHeader fails when the key is absent) and "omitempty"
// (EncodeHeader skips a zero value). Supported field types: string, bool, every signed
// integer type, and pointers to those (nil = absent; use them when presence matters).
// Untagged fields are ignored.
//
// Decoding rules (reference §2.3): values are decimal strings; "" counts as absent for
// non-string fields; booleans follow Java's Boolean.parseBoolean ("true" in any case is
// true, anything else false); unknown keys are ignored.

type fieldPlan struct {
	index     int
	key       string
	required  bool
	omitEmpty bool
	kind      reflect.Kind // of the value (after the pointer, for pointer fields)
	ptr       bool
	bits      int
}

var planCache sync.Map // reflect.Type -> []fieldPlan or error

func headerPlan(t reflect.Type) ([]fieldPlan, error) {
	if p, ok := planCache.Load(t); ok {
		if err, isErr := p.(error); isErr {
			return nil, err
		}
		return p.([]fieldPlan), nil
	}
	plan, err := buildPlan(t)
	if err != nil {
		planCache.Store(t, err)
		return nil, err
	}
	planCache.Store(t, plan)
	return plan, nil
}

func buildPlan(t reflect.Type) ([]fieldPlan, error) {
	var plan []fieldPlan
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("rmq")
		if !ok || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			return nil, fmt.Errorf("protocol: header %s.%s: empty rmq key", t.Name(), f.Name)
		}
		fp := fieldPlan{index: i, key: name}
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "":
			case "required":
				fp.required = true
			case "omitempty":
				fp.omitEmpty = true
			default:
				return nil, fmt.Errorf("protocol: header %s.%s: unknown rmq option %q", t.Name(), f.Name, o)
			}
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			fp.ptr = true
			ft = ft.Elem()
		}
		fp.kind = ft.Kind()
		switch fp.kind {
		case reflect.String, reflect.Bool:
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			fp.bits = ft.Bits()
		default:
			return nil, fmt.Errorf("protocol: header %s.%s: unsupported field type %s", t.Name(), f.Name, f.Type)
		}
		plan = append(plan, fp)
	}
	return plan, nil
}

func headerStruct(h any, wantPtr bool) (reflect.Value, error) {
	v := reflect.ValueOf(h)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}, fmt.Errorf("protocol: nil header %T", h)
		}
		v = v.Elem()
	} else if wantPtr {
		return reflect.Value{}, fmt.Errorf("protocol: header %T must be a pointer to a struct", h)
	}
	if v.Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("protocol: header %T is not a struct", h)
	}
	return v, nil
}

// EncodeHeader encodes a header struct (or a pointer to one) into extFields. A nil header
// encodes to an empty, non-nil map; a map[string]string is copied as is.
func EncodeHeader(h any) (map[string]string, error) {
	if h == nil {
		return map[string]string{}, nil
	}
	if m, ok := h.(map[string]string); ok {
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out, nil
	}
	v, err := headerStruct(h, false)
	if err != nil {
		return nil, err
	}
	plan, err := headerPlan(v.Type())
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(plan))
	for _, fp := range plan {
		f := v.Field(fp.index)
		if fp.ptr {
			if f.IsNil() {
				continue
			}
			f = f.Elem()
		} else if fp.omitEmpty && f.IsZero() {
			continue
		}
		switch fp.kind {
		case reflect.String:
			out[fp.key] = f.String()
		case reflect.Bool:
			out[fp.key] = strconv.FormatBool(f.Bool())
		default:
			out[fp.key] = strconv.FormatInt(f.Int(), 10)
		}
	}
	return out, nil
}

func mustEncodeHeader(h any) map[string]string {
	m, err := EncodeHeader(h)
	if err != nil {
		panic(err)
	}
	return m
}

// DecodeHeader decodes extFields into the struct h points to. It fails with
// ErrMissingField when a required key is absent and with ErrBadField when a value does
// not parse; the message names the header type and the key.
func DecodeHeader(ext map[string]string, h any) error {
	v, err := headerStruct(h, true)
	if err != nil {
		return err
	}
	plan, err := headerPlan(v.Type())
	if err != nil {
		return err
	}
	for _, fp := range plan {
		s, present := ext[fp.key]
		if fp.kind != reflect.String && s == "" {
			present = false
		}
		if !present {
			if fp.required {
				return newErr(ErrMissingField, fmt.Sprintf("protocol: decode %s: missing required field %q", v.Type().Name(), fp.key))
			}
			continue
		}
		f := v.Field(fp.index)
		if fp.ptr {
			nv := reflect.New(f.Type().Elem())
			f.Set(nv)
			f = nv.Elem()
		}
		switch fp.kind {
		case reflect.String:
			f.SetString(s)
		case reflect.Bool:
			f.SetBool(strings.EqualFold(strings.TrimSpace(s), "true"))
		default:
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, fp.bits)
			if err != nil {
				return newErr(ErrBadField, fmt.Sprintf("protocol: decode %s: field %q: %q is not an int%d", v.Type().Name(), fp.key, s, fp.bits))
			}
			f.SetInt(n)
		}
	}
	return nil
}
