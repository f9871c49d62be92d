package message

import (
	"strconv"
	"strings"
)

// SendProperties is what the send path needs from a message's property string when the
// broker does not have to rewrite it (see ScanSendProperties).
type SendProperties struct {
	Tags, UniqKey, Keys string
	// WaitStoreOK is false only when WAIT is "false".
	WaitStoreOK bool
	// Properties is the string to store: the input without its WAIT pair, with
	// CLUSTER=cluster appended when absent. It is the input itself when neither applies.
	Properties string
}

// ScanSendProperties reads a send request's property string in one pass, without building a
// map, for the common message that is neither delayed (DELAY > 0) nor a transaction half
// message (TRAN_MSG=true). It reports ok=false, and the caller must take the general path
// (ParseProperties ... FormatProperties), for those, for a segment that ParseProperties
// would drop (no separator or an empty key) and for a repeated WAIT, CLUSTER, TRAN_MSG,
// DELAY, TAGS, UNIQ_KEY or KEYS key. For ok results ParseProperties(Properties) equals the
// general path's map; the pairs keep the client's order.
func ScanSendProperties(s, cluster string) (SendProperties, bool) {
	sp := SendProperties{WaitStoreOK: true}
	var seen uint8
	const (
		seenWait = 1 << iota
		seenCluster
		seenTran
		seenDelay
		seenTags
		seenUniq
		seenKeys
	)
	waitStart, waitEnd := -1, -1
	for i := 0; i < len(s); {
		end := strings.IndexByte(s[i:], PropertySep)
		segEnd := len(s)
		next := len(s)
		if end >= 0 {
			segEnd = i + end
			next = segEnd + 1
		}
		seg := s[i:segEnd]
		k, v, found := strings.Cut(seg, string(NameValueSep))
		if !found || k == "" {
			return sp, false // ParseProperties drops such a segment
		}
		var bit uint8
		switch k {
		case PropWaitStoreOK:
			bit = seenWait
			sp.WaitStoreOK = v != "false"
			waitStart, waitEnd = i, next
		case PropCluster:
			bit = seenCluster
		case PropTransPrepared:
			bit = seenTran
			if v == "true" {
				return sp, false
			}
		case PropDelayLevel:
			bit = seenDelay
			if v != "" && v != "0" {
				if lvl, _ := strconv.Atoi(v); lvl > 0 {
					return sp, false
				}
			}
		case PropTags:
			bit = seenTags
			sp.Tags = v
		case PropUniqKey:
			bit = seenUniq
			sp.UniqKey = v
		case PropKeys:
			bit = seenKeys
			sp.Keys = v
		}
		if bit != 0 {
			if seen&bit != 0 {
				return sp, false
			}
			seen |= bit
		}
		i = next
	}
	out := s
	if waitStart >= 0 {
		out = s[:waitStart] + s[waitEnd:]
	}
	if seen&seenCluster == 0 {
		var b strings.Builder
		b.Grow(len(out) + len(PropCluster) + len(cluster) + 3)
		b.WriteString(out)
		if out != "" && out[len(out)-1] != PropertySep {
			b.WriteByte(PropertySep)
		}
		b.WriteString(PropCluster)
		b.WriteByte(NameValueSep)
		b.WriteString(cluster)
		b.WriteByte(PropertySep)
		out = b.String()
	}
	sp.Properties = out
	return sp, true
}
