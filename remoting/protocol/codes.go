package protocol

//go:generate go run gen_codes.go

import "strconv"

// RequestCodeName returns the Java name of a request code ("GET_ROUTEINFO_BY_TOPIC"), or
// "UNKNOWN_REQUEST(<n>)" for a code not in codes.json.
func RequestCodeName(code int32) string {
	if n, ok := requestCodeNames[code]; ok {
		return n
	}
	return "UNKNOWN_REQUEST(" + strconv.Itoa(int(code)) + ")"
}

// ResponseCodeName returns the Java name of a response code ("TOPIC_NOT_EXIST"), or
// "UNKNOWN_RESPONSE(<n>)" for a code not in codes.json.
func ResponseCodeName(code int32) string {
	if n, ok := responseCodeNames[code]; ok {
		return n
	}
	return "UNKNOWN_RESPONSE(" + strconv.Itoa(int(code)) + ")"
}
