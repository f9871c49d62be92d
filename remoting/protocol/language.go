package protocol

import "strconv"

// LanguageCode identifies the implementation language of the sender of a command. In JSON
// headers it travels as the enum name ("JAVA", "GO"); in ROCKETMQ binary headers as one byte.
type LanguageCode uint8

// Language codes, numbered as Java's LanguageCode enum (reference §1.6).
const (
	LanguageJava   LanguageCode = 0
	LanguageCPP    LanguageCode = 1
	LanguageDotNet LanguageCode = 2
	LanguagePython LanguageCode = 3
	LanguageDelphi LanguageCode = 4
	LanguageErlang LanguageCode = 5
	LanguageRuby   LanguageCode = 6
	LanguageOther  LanguageCode = 7
	LanguageHTTP   LanguageCode = 8
	LanguageGo     LanguageCode = 9
	LanguagePHP    LanguageCode = 10
	LanguageOMS    LanguageCode = 11
	LanguageRust   LanguageCode = 12
	LanguageNodeJS LanguageCode = 13
)

var languageNames = [...]string{
	LanguageJava:   "JAVA",
	LanguageCPP:    "CPP",
	LanguageDotNet: "DOTNET",
	LanguagePython: "PYTHON",
	LanguageDelphi: "DELPHI",
	LanguageErlang: "ERLANG",
	LanguageRuby:   "RUBY",
	LanguageOther:  "OTHER",
	LanguageHTTP:   "HTTP",
	LanguageGo:     "GO",
	LanguagePHP:    "PHP",
	LanguageOMS:    "OMS",
	LanguageRust:   "RUST",
	LanguageNodeJS: "NODE_JS",
}

// String returns the Java enum name, or "LANGUAGE(<n>)" for a value outside the table.
func (l LanguageCode) String() string {
	if int(l) < len(languageNames) {
		return languageNames[l]
	}
	return "LANGUAGE(" + strconv.Itoa(int(l)) + ")"
}

// Known reports whether l is one of the enumerated languages.
func (l LanguageCode) Known() bool { return int(l) < len(languageNames) }

// ParseLanguage maps a Java enum name to its code. ok is false for unknown names.
func ParseLanguage(name string) (l LanguageCode, ok bool) {
	for i, n := range languageNames {
		if n == name {
			return LanguageCode(i), true
		}
	}
	return LanguageOther, false
}
