package protocol

import (
	"errors"
	"reflect"
	"testing"
)

// TestHeaderTypesRoundTrip fills every nameserver header type with non-zero values and
// requires Encode → Decode to reproduce it (so NewRequest can never panic on them).
func TestHeaderTypesRoundTrip(t *testing.T) {
	for _, h := range allHeaderTypes {
		typ := reflect.TypeOf(h)
		t.Run(typ.Name(), func(t *testing.T) {
			v := reflect.New(typ)
			fillNonZero(v.Elem())
			ext, err := EncodeHeader(v.Interface())
			if err != nil {
				t.Fatal(err)
			}
			back := reflect.New(typ)
			if err := DecodeHeader(ext, back.Interface()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Elem().Interface(), v.Elem().Interface()) {
				t.Fatalf("round trip: %+v != %+v (ext %v)", back.Elem().Interface(), v.Elem().Interface(), ext)
			}
			// An empty map fails exactly when the type has a required field.
			_, hasRequired := requiredKey(typ)
			if err := DecodeHeader(map[string]string{}, reflect.New(typ).Interface()); (err != nil) != hasRequired {
				t.Fatalf("decode of empty ext: %v (has required field: %v)", err, hasRequired)
			}
		})
	}
}

func fillNonZero(v reflect.Value) {
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer {
			f.Set(reflect.New(f.Type().Elem()))
			f = f.Elem()
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString("v" + v.Type().Field(i).Name)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f.SetInt(int64(-(i + 1)))
		}
	}
}

func requiredKey(t reflect.Type) (string, bool) {
	plan, _ := headerPlan(t)
	for _, fp := range plan {
		if fp.required {
			return fp.key, true
		}
	}
	return "", false
}

func TestDecodeHeaderRules(t *testing.T) {
	type hdr struct {
		Name    string `rmq:"name,required"`
		ID      int64  `rmq:"id,required"`
		Small   int16  `rmq:"small"`
		Flag    bool   `rmq:"flag"`
		Opt     *int32 `rmq:"opt"`
		OptBool *bool  `rmq:"optBool"`
		Skip    string
	}
	tests := []struct {
		name string
		ext  map[string]string
		want hdr
		kind error
	}{
		{"complete", map[string]string{"name": "n", "id": "-9", "small": "7", "flag": "true", "opt": "3", "optBool": "false", "Skip": "x"},
			hdr{Name: "n", ID: -9, Small: 7, Flag: true, Opt: ptr(int32(3)), OptBool: ptr(false)}, nil},
		{"empty string is a value for strings", map[string]string{"name": "", "id": "1"}, hdr{ID: 1}, nil},
		{"empty string is absent for numbers", map[string]string{"name": "n", "id": ""}, hdr{}, ErrMissingField},
		{"missing required", map[string]string{"id": "1"}, hdr{}, ErrMissingField},
		{"bad number", map[string]string{"name": "n", "id": "1x"}, hdr{}, ErrBadField},
		{"overflow", map[string]string{"name": "n", "id": "1", "small": "40000"}, hdr{}, ErrBadField},
		{"java booleans", map[string]string{"name": "n", "id": "1", "flag": "TRUE", "optBool": "yes"},
			hdr{Name: "n", ID: 1, Flag: true, OptBool: ptr(false)}, nil},
		{"spaces around numbers", map[string]string{"name": "n", "id": " 12 "}, hdr{Name: "n", ID: 12}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got hdr
			err := DecodeHeader(tt.ext, &got)
			if tt.kind != nil {
				if !errors.Is(err, tt.kind) {
					t.Fatalf("err = %v, want %v", err, tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v want %+v", got, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestEncodeHeaderRules(t *testing.T) {
	type hdr struct {
		A string `rmq:"a"`
		B string `rmq:"b,omitempty"`
		C int    `rmq:"c,omitempty"`
		D *bool  `rmq:"d"`
		E int64  `rmq:"e"`
	}
	got, err := EncodeHeader(hdr{E: -1})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"a": "", "e": "-1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if got, _ := EncodeHeader(nil); got == nil || len(got) != 0 {
		t.Fatal("nil header must encode to an empty map")
	}
	type bad struct {
		F float64 `rmq:"f"`
	}
	if _, err := EncodeHeader(bad{}); err == nil {
		t.Fatal("float field accepted")
	}
	if err := DecodeHeader(nil, hdr{}); err == nil {
		t.Fatal("non-pointer accepted")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("NewRequest with an unencodable header must panic")
		}
	}()
	NewRequest(1, bad{}, nil)
}
